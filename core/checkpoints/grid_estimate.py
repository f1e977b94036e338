"""What a comparison grid costs before it starts: its size (rows x columns = cells, and how many are already
rendered) and a time estimate, from this machine's own render times when it has rendered the same kind of image
(the `render_seconds` kept beside every grid cell and generated image), else a per-model figure.

    estimate(workspace, spec).summary()
    # "Grid: base + 3 checkpoints x 1 strength x 2 prompts x 1 seed = 8 cells (2 already rendered) · about 10-30 s
    #  to render (an estimate: typical for the self-test model on a CPU)"
"""

from __future__ import annotations

import functools
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from core import system
from core.checkpoints.compare import GridSpec, cell_key, resolved
from core.generation import local as generation
from core.models import base as models
from core.models.adapters import sha256
from core.runs.paths import run_paths
from core.training.estimates import format_duration

# Seconds per denoising step per megapixel (1024x1024) with guidance above 1 (two passes), (low, high), by model
# kind and MLX backend; halved at guidance 1. Real klein: mflux's figures for an M4 Pro (about 27 s for 4 steps at
# 1024x1024, guidance 1) and an H100 (0.17 s per step, guidance 4). Self-test: measured on a 2-core CPU.
STEP_SECONDS_PER_MEGAPIXEL = {
    ("klein", "metal"): (10.0, 16.0),
    ("klein", "cuda"): (0.2, 1.0),
    ("klein", "cpu"): (200.0, 900.0),
    ("selftest", "metal"): (5.0, 40.0),
    ("selftest", "cuda"): (5.0, 40.0),
    ("selftest", "cpu"): (150.0, 400.0),
}
IMAGE_OVERHEAD_SECONDS = (0.5, 2.0)  # per image: the VAE decode's fixed part, saving
LOAD_SECONDS = {"selftest": (2.0, 10.0), "klein": (15.0, 90.0)}  # loading the model into memory
MEASURED_FILES = 400  # newest render records read per estimate
BACKEND_NAMES = {"metal": "a Mac", "cuda": "an NVIDIA GPU", "cpu": "a CPU"}


@dataclass
class GridEstimate:
    model: str
    width: int
    height: int
    sample_steps: int
    checkpoints: int
    strengths: int
    prompts: int
    seeds: int
    include_base: bool
    cells: int
    cached: int
    seconds: tuple[float, float]
    basis: str  # where the time figure comes from (always an estimate)
    download: str = ""  # a first-use download the time does not include

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        rows = ("base + " if self.include_base else "") + f"{self.checkpoints} checkpoint{'s' * (self.checkpoints != 1)}"
        size = (f"Grid: {rows} x {self.strengths} strength{'s' * (self.strengths != 1)} x {self.prompts} "
                f"prompt{'s' * (self.prompts != 1)} x {self.seeds} seed{'s' * (self.seeds != 1)} = {self.cells} cells")
        if self.cached:
            size += f" ({self.cached} already rendered)"
        size += f" at {self.width}x{self.height}, {self.sample_steps} steps on {self.model}"
        if self.cached >= self.cells:
            return f"{size} · nothing left to render"
        low, high = self.seconds
        band = format_duration(low) if format_duration(low) == format_duration(high) else \
            f"{format_duration(low)}–{format_duration(high)}"
        text = f"{size} · about {band} to render (an estimate: {self.basis})"
        return text + (f" · {self.download}" if self.download else "")


@functools.lru_cache(maxsize=1)
def _backend() -> str:
    backend = system.mlx_status()[1]
    return backend if backend in BACKEND_NAMES else "cpu"


@functools.lru_cache(maxsize=256)
def _sha_of(path: str, mtime_ns: int, size: int) -> str:
    return sha256(Path(path))


def _render_records(workspace) -> list[Path]:
    """The newest JSON records beside grid cells and generated images (each may carry `render_seconds`)."""
    found = list(workspace.runs_dir.glob("*/compare/cells/*.json")) if workspace.runs_dir.is_dir() else []
    if workspace.generations_dir.is_dir():
        found.extend(workspace.generations_dir.glob("*/*.json"))
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return found[:MEASURED_FILES]


def measured_image_seconds(workspace, model: str, width: int, height: int, steps: int, guidance: float) -> list[float]:
    """Render times of this machine's earlier images of the same model, size, steps and guidance kind."""
    out = []
    for path in _render_records(workspace):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        seconds = record.get("render_seconds") if isinstance(record, dict) else None
        if not isinstance(seconds, (int, float)) or seconds <= 0:
            continue
        same = (record.get("model"), record.get("width"), record.get("height"), record.get("steps")) == (model, width, height, steps)
        if same and (float(record.get("guidance") or 0) > 1) == (guidance > 1):
            out.append(float(seconds))
    return out


def image_seconds(workspace, model: str, width: int, height: int, steps: int, guidance: float) -> tuple[tuple[float, float], str]:
    """(low, high) seconds for one image and where the figure comes from."""
    measured = measured_image_seconds(workspace, model, width, height, steps, guidance)
    if measured:
        median = statistics.median(measured)
        return (median * 0.8, median * 1.3), f"measured on this machine ({len(measured)} earlier image{'s' * (len(measured) != 1)})"
    kind = "selftest" if models.resolve(model).is_selftest else "klein"
    backend = _backend()
    low, high = STEP_SECONDS_PER_MEGAPIXEL[(kind, backend)]
    factor = steps * width * height / (1024 * 1024) * (1.0 if guidance > 1 else 0.5)
    per_image = (low * factor + IMAGE_OVERHEAD_SECONDS[0], high * factor + IMAGE_OVERHEAD_SECONDS[1])
    name = "the self-test model" if kind == "selftest" else "FLUX.2 klein 4B"
    return per_image, f"typical for {name} on {BACKEND_NAMES[backend]}"


def estimate(workspace, spec: GridSpec) -> GridEstimate:
    """The size of the grid `spec` describes, how much of it is already rendered, and how long the rest takes."""
    paths = run_paths(workspace, spec.run_id, must_exist=True)
    spec, wanted = resolved(paths, spec)
    shas: list[str | None] = [None] if spec.include_base else []
    for step in wanted:
        adapter = paths.adapters_dir / f"{paths.run_id}-step{step:07d}.safetensors"
        if adapter.is_file():
            stat = adapter.stat()
            shas.append(_sha_of(str(adapter), stat.st_mtime_ns, stat.st_size))
        else:
            shas.append("")  # not exported yet: none of its cells can be in the cache
    cells = cached = 0
    cells_dir = paths.compare_dir / "cells"
    for sha in shas:
        for strength in ([None] if sha is None else spec.strengths):
            for prompt in spec.prompts:
                for seed in spec.seeds:
                    cells += 1
                    if sha == "":
                        continue
                    key = cell_key(sha, spec.model, prompt, seed, spec.width, spec.height, spec.sample_steps, spec.guidance, strength)
                    cached += (cells_dir / f"{key}.png").is_file()
    per_image, basis = image_seconds(workspace, spec.model, spec.width, spec.height, spec.sample_steps, spec.guidance)
    left = cells - cached
    low, high = per_image[0] * left, per_image[1] * left
    base = models.resolve(spec.model)
    download = ""
    if left and generation.loaded_model() != spec.model:
        load = LOAD_SECONDS["selftest" if base.is_selftest else "klein"]
        low, high = low + load[0], high + load[1]
        if base.hf_repo and not models.weights_in_cache(base):
            download = f"not counting the first-use download of {base.hf_repo} ({base.note.rstrip('.')})"
    return GridEstimate(model=spec.model, width=spec.width, height=spec.height, sample_steps=spec.sample_steps,
                        checkpoints=len(wanted), strengths=len(spec.strengths), prompts=len(spec.prompts),
                        seeds=len(spec.seeds), include_base=spec.include_base, cells=cells, cached=cached,
                        seconds=(round(low, 1), round(high, 1)), basis=basis, download=download)

