"""`doctor`: what this machine is and whether it can run the pipeline."""

from __future__ import annotations

from core.cli import Commands, Context, Outcome
from core.system import diagnose


def register(commands: Commands) -> None:
    commands.add("doctor", "Check this machine: platform, memory, MLX device, mflux, disk, cached weights, secrets.", run)


def run(context: Context) -> Outcome:
    diagnosis = diagnose(context.settings)
    lines = [
        f"Python          {diagnosis.python}",
        f"Platform        {diagnosis.platform} ({diagnosis.machine})",
        f"Chip            {diagnosis.chip}",
        f"Memory          {diagnosis.memory_gb} GB",
        f"MLX             {diagnosis.mlx_version or 'missing'} on {diagnosis.mlx_backend} ({diagnosis.mlx_device})",
        f"mflux           {diagnosis.mflux_version or 'missing'}",
        f"Workspace       {diagnosis.workspace} ({diagnosis.free_disk_gb} GB free)",
        f"klein base 4B   {'in the local Hub cache' if diagnosis.klein_base_cached else 'not downloaded yet (~15 GB on first use)'}",
        f"klein 4B        {'in the local Hub cache' if diagnosis.klein_distilled_cached else 'not downloaded yet'}",
    ]
    lines += [f"{name:<15} {status}" for name, status in diagnosis.secrets.items()]
    lines += [f"Problem: {p}" for p in diagnosis.problems] + [f"Warning: {w}" for w in diagnosis.warnings]
    return Outcome(diagnosis.to_dict(), "\n".join(lines), ok=diagnosis.ok)
