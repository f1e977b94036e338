"""The comparison grid: a run's checkpoints x prompts x LoRA strengths x seeds, plus a base-model row.

One base model stays loaded (core.generation.engine): per checkpoint the adapter is swapped in, per strength only its
scale changes, and each prompt is encoded once. Every finished cell is stored under
`<run>/compare/cells/<key>.png` where the key hashes (adapter sha256, model, prompt, seed, size, steps,
guidance, strength): a cell is never computed twice. Cells are yielded as they finish.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Iterator

from core import jobs, storage
from core.checkpoints import store as checkpoints
from core.models import base as models
from core.generation.engine import RenderSpec
from core.errors import AppError
from core.progress import Cancellation, Progress
from core.runs.paths import RunPaths, run_paths
from core.generation import local as generation
from core.models.adapters import sha256

BASE_ROW = "base"


@dataclass
class GridSpec:
    run_id: str
    prompts: list[str]
    strengths: list[float] = field(default_factory=lambda: [1.0])
    seeds: list[int] = field(default_factory=lambda: [1])
    steps: list[int] | None = None  # checkpoint steps; None: every checkpoint after step 0
    include_base: bool = True
    model: str | None = None  # None: the run's model
    width: int = 1024
    height: int = 1024
    sample_steps: int | None = None
    guidance: float | None = None


@dataclass
class Cell:
    row: str  # "base" or the checkpoint step as text
    prompt_index: int
    prompt: str
    strength: float | None
    seed: int
    path: str
    key: str
    cached: bool
    settings: dict

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Grid:
    spec: GridSpec
    rows: list[str]
    cells: list[Cell]

    def cell(self, row: str, prompt_index: int, strength: float | None = None, seed: int | None = None) -> Cell | None:
        for cell in self.cells:
            if cell.row == row and cell.prompt_index == prompt_index and (strength is None or cell.strength in (None, strength)) \
                    and (seed is None or cell.seed == seed):
                return cell
        return None

    def to_dict(self) -> dict:
        return {"spec": asdict(self.spec), "rows": self.rows, "cells": [c.to_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, data: dict) -> "Grid":
        return cls(spec=GridSpec(**data["spec"]), rows=list(data["rows"]), cells=[Cell(**c) for c in data["cells"]])


def cell_key(adapter_sha: str | None, model: str, prompt: str, seed: int, width: int, height: int, steps: int,
             guidance: float, strength: float | None) -> str:
    material = json.dumps([adapter_sha or BASE_ROW, model, prompt, int(seed), int(width), int(height), int(steps),
                           round(float(guidance), 4), None if strength is None else round(float(strength), 4)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def resolved(paths: RunPaths, spec: GridSpec) -> tuple[GridSpec, list[int]]:
    """The spec with the model, its steps and guidance, and the checkpoint steps filled in (checked)."""
    record = paths.read_record()
    base = models.resolve(spec.model or record.model or "flux2-klein-base-4b")
    available = [step for step, _ in paths.checkpoint_zips()]
    wanted = spec.steps if spec.steps is not None else [s for s in available if s > 0] or available
    missing = [s for s in wanted if s not in available]
    if missing:
        raise AppError(f"Run '{paths.run_id}' has no checkpoint at step {missing[0]}.", f"Steps with checkpoints: {available}.")
    if not wanted and not spec.include_base:
        raise AppError(f"Run '{paths.run_id}' has no checkpoints to compare yet.", "Wait for the first checkpoint.")
    if not spec.prompts or not spec.strengths or not spec.seeds:
        raise AppError("The grid needs at least one prompt, one strength and one seed.", "Fill in all three.")
    for value, name in ((spec.width, "width"), (spec.height, "height")):
        if int(value) < 16 or int(value) % 16:
            raise AppError(f"The grid's {name} {value} is not a multiple of 16 (at least 16).", "Type a size like 512x512.")
    resolved_spec = GridSpec(**{**asdict(spec), "model": base.key, "steps": list(wanted),
                                "sample_steps": int(spec.sample_steps or base.default_steps),
                                "guidance": float(base.default_guidance if spec.guidance is None else spec.guidance)})
    return resolved_spec, list(wanted)


def planned_cells(spec: GridSpec) -> int:
    per_row = len(spec.prompts) * len(spec.seeds)
    return (per_row if spec.include_base else 0) + len(spec.steps or []) * per_row * len(spec.strengths)


def run_grid(workspace, spec: GridSpec, cancel: Cancellation | None = None, settings=None) -> Iterator[Progress[Grid]]:
    """Fill the grid: first the plan (payload "spec", "rows"), one Progress per finished cell (payload "cell"), and
    last the Grid (the result)."""
    paths = run_paths(workspace, spec.run_id, must_exist=True)
    spec, wanted = resolved(paths, spec)
    engine = generation.engine(settings)
    generation.watch_heavy_slot(workspace)
    cells_dir = paths.compare_dir / "cells"
    plan: list[tuple[str, str | None, str | None, float | None]] = []  # (row, adapter path, sha, strength)
    if spec.include_base:
        plan.append((BASE_ROW, None, None, None))
    total = planned_cells(spec)
    rows = ([BASE_ROW] if spec.include_base else []) + [str(s) for s in wanted]
    yield Progress(0, total, f"Preparing {len(wanted)} checkpoint adapters", {"spec": asdict(spec), "rows": rows})
    for number, step in enumerate(wanted, 1):
        if cancel is not None:
            cancel.check()
        adapter = checkpoints.extracted_adapter(paths, step)
        sha = sha256(adapter)
        plan.extend((str(step), str(adapter), sha, strength) for strength in spec.strengths)
        yield Progress(0, total, f"Prepared the adapter of step {step} ({number}/{len(wanted)})")
    cells: list[Cell] = []
    done = 0
    with jobs.heavy_slot(workspace, "compare", "Checkpoint comparison", wait=0):
        for row, adapter, sha, strength in plan:
            for prompt_index, prompt in enumerate(spec.prompts):
                for seed in spec.seeds:
                    if cancel is not None:
                        cancel.check()
                    key = cell_key(sha, spec.model, prompt, seed, spec.width, spec.height, spec.sample_steps, spec.guidance, strength)
                    path = cells_dir / f"{key}.png"
                    settings_record = {"row": row, "adapter": adapter, "adapter_sha256": sha, "model": spec.model, "prompt": prompt,
                                       "seed": seed, "width": spec.width, "height": spec.height, "steps": spec.sample_steps,
                                       "guidance": spec.guidance, "strength": strength}
                    label = "base model" if row == BASE_ROW else f"step {row} at {strength}"
                    cached = path.is_file()
                    if not cached:
                        if engine.loaded_model != spec.model:
                            yield Progress(done, total, f"Loading the {spec.model} model (first image only)…")
                        loras = ((adapter, strength),) if adapter else ()
                        render_spec = RenderSpec(model_key=spec.model, prompt=prompt, seed=seed, width=spec.width,
                                                 height=spec.height, steps=spec.sample_steps, guidance=spec.guidance, loras=loras)
                        image = yield from generation.render_with_progress(
                            engine, render_spec, cancel,
                            lambda step, steps, _d=done, _l=label: Progress(_d, total, f"cell {_d + 1}: {_l}, denoising step {step}/{steps}"))
                        settings_record["render_seconds"] = engine.stats.last_image_seconds
                        generation.save_image(image, cells_dir, settings_record, key)
                    cell = Cell(row=row, prompt_index=prompt_index, prompt=prompt, strength=strength, seed=seed, path=str(path),
                                key=key, cached=cached, settings=settings_record)
                    cells.append(cell)
                    done += 1
                    yield Progress(done, total, f"{label}, prompt {prompt_index + 1}, seed {seed}{' (cached)' if cached else ''}", {"cell": cell})
    grid = Grid(spec=spec, rows=rows, cells=cells)
    storage.write_json(paths.compare_dir / "grid.json", grid.to_dict())
    yield Progress(total, total, f"Grid complete: {len(cells)} cells", result=grid)


def last_grid(paths: RunPaths) -> Grid | None:
    """The most recent grid of the run (as written by run_grid), or None."""
    data = storage.read_json(paths.compare_dir / "grid.json", default=None)
    if not isinstance(data, dict):
        return None
    return Grid.from_dict(data)
