"""Rough figures shown before a run starts: time per step, an ETA band, checkpoint sizes, peak memory.

Honest bands, not promises: the per-step times are scaled from mflux's published numbers (an M4 Pro
for generation, an H100 for training) and, once this machine has trained, from its own past runs. The
previews mflux renders during a run (one image per preview prompt at step 0 and every N steps, each a
full generation of `steps` sampling steps) are counted too: on a small run they take most of the time.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from core import system
from core.models import lora_targets
from core.training.config import iterations

# Seconds per iteration at 1024x1024, rank 16, batch 1, without gradient checkpointing (low, high): an M4 Pro class
# Mac; an NVIDIA GPU through MLX's CUDA backend (measured on one H100, FACTS.md 3b/3c: 0.29-0.37 s at 512 px,
# 1.14-1.17 s at 1024 px with checkpointing; the high end leaves room for smaller cards).
MAC_SECONDS_1024 = (6.0, 12.0)
CUDA_SECONDS_1024 = (0.8, 2.4)
CPU_SECONDS_1024 = (600.0, 1800.0)  # no GPU: only the self-test model is practical
SECONDS_1024 = {"metal": MAC_SECONDS_1024, "cuda": CUDA_SECONDS_1024}
BASIS = {"metal": "typical for an M4 Pro", "cuda": "typical for an NVIDIA GPU (CUDA)"}
CHECKPOINTING_FACTOR = 1.35
QUANTIZED_FACTOR = 1.15
LOW_RAM_FACTOR = 1.1
# One preview image: seconds per sampling step at 1024x1024 (guidance > 1 doubles the passes) and a fixed part
# (prompt encoding, the optimizer offload mflux does around previews, the VAE decode). mflux's own figure on an
# M4 Pro: 1024x1024, 4 steps, about 27 s.
MAC_PREVIEW_STEP_1024 = (3.0, 7.0)
CUDA_PREVIEW_STEP_1024 = (0.1, 0.5)  # H100: 0.09 s a step at guidance 1, 0.17 s at guidance 4 (FACTS.md 3b)
CPU_PREVIEW_STEP_1024 = (300.0, 900.0)
PREVIEW_STEP_1024 = {"metal": MAC_PREVIEW_STEP_1024, "cuda": CUDA_PREVIEW_STEP_1024}
PREVIEW_FIXED = {"metal": (3.0, 10.0), "cuda": (2.0, 10.0), "cpu": (30.0, 120.0)}
SELFTEST_PREVIEW = (4.0, 30.0)  # the tiny model: prompt encoding to 512 tokens, a small VAE, the offload

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
    preview_count: int = 0  # preview images mflux renders in the run (step 0 and every N steps, one per prompt)
    preview_seconds: tuple[float, float] = (0.0, 0.0)  # one preview image (low, high)
    preview_basis: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        low, high = self.eta_seconds
        previews = ""
        if self.preview_count:
            each_low, each_high = self.preview_seconds
            previews = (f" · including {self.preview_count} preview image(s) at about "
                        f"{format_duration(each_low)}–{format_duration(each_high)} each ({self.preview_basis})")
        return (
            f"{self.iterations} steps · about {format_duration(low)}–{format_duration(high)} "
            f"({self.basis}){previews} · {self.checkpoint_count} checkpoints, ~{self.checkpoint_bytes / 1e9:.1f} GB"
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


def seconds_per_step(config: dict, backend: str, history: list[float] | None = None,
                     resolutions: list[int] | None = None) -> tuple[tuple[float, float], str]:
    """Seconds per training step (low, high); with several resolutions, the mean over them (each is one sample of
    every picture)."""
    if history:
        median = statistics.median(history)
        return (median * 0.85, median * 1.2), "measured on this machine"
    low, high = SECONDS_1024.get(backend, CPU_SECONDS_1024)
    sizes = resolutions or [config.get("max_resolution") or 1024]
    try:
        scale = sum((float(r) / 1024) ** 2 for r in sizes) / len(sizes)
    except (TypeError, ValueError):
        scale = 1.0
    factor = scale * max(1, int((config.get("training_loop") or {}).get("batch_size") or 1))
    if config.get("gradient_checkpointing"):
        factor *= CHECKPOINTING_FACTOR
    if config.get("quantize"):
        factor *= QUANTIZED_FACTOR
    if config.get("low_ram"):
        factor *= LOW_RAM_FACTOR
    return (low * factor, high * factor), BASIS.get(backend, "CPU only: very slow")


def preview_count(config: dict, total_steps: int, prompt_count: int, from_step: int = 0) -> int:
    """Preview images mflux renders after `from_step` in a run of `total_steps`: one per prompt (at least one: mflux
    falls back to the first caption) at step 0 (a fresh start only) and at every multiple of the preview frequency."""
    monitoring = config.get("monitoring")
    if not isinstance(monitoring, dict):
        return 0
    try:
        every = int(monitoring.get("generate_image_frequency") or 0)
    except (TypeError, ValueError):
        return 0
    if every < 1:
        return 0
    moments = total_steps // every - max(0, from_step) // every + (1 if from_step <= 0 else 0)
    return max(0, moments) * max(1, prompt_count)


def previews_left(every: int | None, prompt_count: int, step: int, total: int) -> int:
    """Preview images still to come in a running training at `step` of `total` (previews every `every` steps)."""
    if not every or every < 1:
        return 0
    return max(0, total // every - max(0, step) // every) * max(1, prompt_count)


def preview_seconds(config: dict, backend: str, model_key: str,
                    history: list[float] | None = None) -> tuple[tuple[float, float], str]:
    """Seconds for one preview image (low, high): this machine's measured previews when there are some, else
    scaled from the preview size and its sampling steps."""
    if history:
        median = statistics.median(history)
        return (median * 0.8, median * 1.25), "measured on this machine"
    if model_key == "selftest":
        return SELFTEST_PREVIEW, "self-test model"
    monitoring = config.get("monitoring") or {}
    try:
        area = float(monitoring.get("preview_width") or 1024) * float(monitoring.get("preview_height") or 1024) / 1024 ** 2
        sampling = max(1, int(config.get("steps") or 1))
        guidance = float(config.get("guidance") or 1.0)
    except (TypeError, ValueError):
        area, sampling, guidance = 1.0, 1, 1.0
    per_step = PREVIEW_STEP_1024.get(backend, CPU_PREVIEW_STEP_1024)
    passes = sampling * area * (2 if guidance > 1 else 1)
    fixed = PREVIEW_FIXED.get(backend, PREVIEW_FIXED["cpu"])
    return (per_step[0] * passes + fixed[0], per_step[1] * passes + fixed[1]), BASIS.get(backend, "CPU only: very slow")


def estimate(config: dict, image_count: int, model_key: str, backend: str, history: list[float] | None = None,
             *, prompt_count: int = 1, preview_history: list[float] | None = None,
             resolutions: list[int] | None = None) -> Estimate:
    """The estimate of a run of `config` over `image_count` samples an epoch (pictures x repeats x resolutions +
    trigger-only copies: core.training.compiled.Epoch.samples)."""
    steps = iterations(config, image_count)
    per_step, basis = seconds_per_step(config, backend, history if model_key != "selftest" or history else None,
                                       resolutions)
    if model_key == "selftest" and not history:
        per_step, basis = (1.0, 4.0), "self-test model"
    try:
        frequency = max(1, int((config.get("checkpoint") or {}).get("save_frequency") or 1))
    except (TypeError, ValueError):
        frequency = 1
    count = steps // frequency + (0 if steps % frequency == 0 else 1) + (1 if config.get("monitoring") else 0)
    size = checkpoint_bytes((config.get("lora_layers") or {}).get("targets") or [], model_key)
    previews = preview_count(config, steps, prompt_count)
    each, each_basis = preview_seconds(config, backend, model_key, preview_history) if previews else ((0.0, 0.0), "")
    return Estimate(
        iterations=steps,
        seconds_per_step=(round(per_step[0], 2), round(per_step[1], 2)),
        eta_seconds=(per_step[0] * steps + each[0] * previews, per_step[1] * steps + each[1] * previews),
        checkpoint_count=count,
        checkpoint_bytes=size * count,
        basis=basis,
        preview_count=previews,
        preview_seconds=(round(each[0], 1), round(each[1], 1)),
        preview_basis=each_basis,
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
