"""Rough figures shown before a run starts: time per step, an ETA band, checkpoint sizes, peak memory.

Honest bands, not promises: the per-step times are scaled from mflux's published numbers (an M4 Pro
for generation, an H100 for training) and, once this machine has trained, from its own past runs.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from core import system
from core.models import lora_targets
from core.training.config import iterations

# Seconds per iteration at 1024x1024, rank 16, batch 1, on an M4 Pro class Mac (low, high).
MAC_SECONDS_1024 = (6.0, 12.0)
CPU_SECONDS_1024 = (600.0, 1800.0)  # no GPU: only the self-test model is practical
CHECKPOINTING_FACTOR = 1.35
QUANTIZED_FACTOR = 1.15
LOW_RAM_FACTOR = 1.1

# Layer shapes of the real klein 4B (hidden 3072, MLP 9216 with a gated input) for size estimates.
_HIDDEN = 3072
_MLP = 9216
_SHAPES = {
    "ff.linear_in": (_HIDDEN, 2 * _MLP),
    "ff.linear_out": (_MLP, _HIDDEN),
    "ff_context.linear_in": (_HIDDEN, 2 * _MLP),
    "ff_context.linear_out": (_MLP, _HIDDEN),
    "attn.to_qkv_mlp_proj": (_HIDDEN, 3 * _HIDDEN + 2 * _MLP),
}
_SINGLE_OUT = (_HIDDEN + _MLP, _HIDDEN)


@dataclass
class Estimate:
    iterations: int
    seconds_per_step: tuple[float, float]
    eta_seconds: tuple[float, float]
    checkpoint_count: int
    checkpoint_bytes: int
    basis: str

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        low, high = self.eta_seconds
        return (
            f"{self.iterations} steps · about {format_duration(low)}–{format_duration(high)} "
            f"({self.basis}) · {self.checkpoint_count} checkpoints, ~{self.checkpoint_bytes / 1e9:.1f} GB"
        )


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {round(rest / 60):02d} min"


def adapter_parameters(targets: list[dict], model_key: str) -> int:
    geometry = lora_targets.geometry_for(model_key)
    total = 0
    for target in targets:
        if not isinstance(target, dict):
            continue
        path = str(target.get("module_path", ""))
        rank = target.get("rank") if isinstance(target.get("rank"), int) else 16
        name = path.split("{block}.", 1)[-1]
        if path.startswith(lora_targets.SINGLE) and name == "attn.to_out":
            shape = _SINGLE_OUT
        else:
            shape = _SHAPES.get(name, (_HIDDEN, _HIDDEN))
        blocks = target.get("blocks") or {}
        if isinstance(blocks, dict) and isinstance(blocks.get("indices"), list):
            count = len(blocks["indices"])
        elif isinstance(blocks, dict) and isinstance(blocks.get("start"), int) and isinstance(blocks.get("end"), int):
            count = max(0, blocks["end"] - blocks["start"])
        else:
            count = lora_targets.block_count(path, geometry) or 1
        total += rank * (shape[0] + shape[1]) * count
    if model_key == "selftest":
        total = max(1, total // 20000)
    return total


def checkpoint_bytes(targets: list[dict], model_key: str) -> int:
    """One checkpoint zip: float32 adapter plus AdamW's two moments (random floats barely compress)."""
    return adapter_parameters(targets, model_key) * 4 * 3 + 50_000


def seconds_per_step(config: dict, backend: str, history: list[float] | None = None) -> tuple[tuple[float, float], str]:
    if history:
        median = statistics.median(history)
        return (median * 0.85, median * 1.2), "measured on this machine"
    low, high = MAC_SECONDS_1024 if backend == "metal" else CPU_SECONDS_1024
    resolution = config.get("max_resolution") or 1024
    try:
        scale = (float(resolution) / 1024) ** 2
    except (TypeError, ValueError):
        scale = 1.0
    factor = scale * max(1, int((config.get("training_loop") or {}).get("batch_size") or 1))
    if config.get("gradient_checkpointing"):
        factor *= CHECKPOINTING_FACTOR
    if config.get("quantize"):
        factor *= QUANTIZED_FACTOR
    if config.get("low_ram"):
        factor *= LOW_RAM_FACTOR
    basis = "typical for an M4 Pro" if backend == "metal" else "CPU only: very slow"
    return (low * factor, high * factor), basis


def estimate(config: dict, image_count: int, model_key: str, backend: str, history: list[float] | None = None) -> Estimate:
    steps = iterations(config, image_count)
    per_step, basis = seconds_per_step(config, backend, history if model_key != "selftest" or history else None)
    if model_key == "selftest" and not history:
        per_step, basis = (1.0, 4.0), "self-test model"
    try:
        frequency = max(1, int((config.get("checkpoint") or {}).get("save_frequency") or 1))
    except (TypeError, ValueError):
        frequency = 1
    count = steps // frequency + (0 if steps % frequency == 0 else 1) + (1 if config.get("monitoring") else 0)
    size = checkpoint_bytes((config.get("lora_layers") or {}).get("targets") or [], model_key)
    return Estimate(
        iterations=steps,
        seconds_per_step=(round(per_step[0], 2), round(per_step[1], 2)),
        eta_seconds=(per_step[0] * steps, per_step[1] * steps),
        checkpoint_count=count,
        checkpoint_bytes=size * count,
        basis=basis,
    )


def memory_pressure() -> str | None:
    """A short line on memory right now: macOS's pressure level (unified memory), elsewhere the share available."""
    import subprocess
    import sys

    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "kern.memorystatus_vm_pressure_level"], capture_output=True, text=True, timeout=2)
            level = int(out.stdout.strip())
        except (OSError, ValueError, subprocess.SubprocessError):
            return None
        return {1: "memory pressure: normal", 2: "memory pressure: WARNING (close other apps)",
                4: "memory pressure: CRITICAL (training may fail; pick a smaller memory preset)"}.get(level)
    return f"memory: {100 * system.memory().available_share:.0f}% available"
