"""A real training run of the self-test model, made in-process with mflux's TrainingRunner.

`train_selftest_run(workspace, model_dir)` writes a run folder laid out by core.runs.RunPaths
(train.json, run.json, events.jsonl, mflux/checkpoints/NNNNNNN_checkpoint.zip, mflux/preview/...)
so the Checkpoints and Generate code is tested on what mflux really writes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from core import storage
from core.runs.paths import RunPaths, run_paths
from core.runs.record import RunRecord
from tests.support.images import write_mflux_dataset

TRIGGER = "mira"
TARGETS = [
    ("transformer_blocks.{block}.attn.to_q", 1),
    ("transformer_blocks.{block}.attn.to_k", 1),
    ("transformer_blocks.{block}.attn.to_v", 1),
    ("transformer_blocks.{block}.attn.to_out", 1),
    ("transformer_blocks.{block}.attn.add_q_proj", 1),
    ("transformer_blocks.{block}.attn.add_k_proj", 1),
    ("transformer_blocks.{block}.attn.add_v_proj", 1),
    ("transformer_blocks.{block}.attn.to_add_out", 1),
    ("transformer_blocks.{block}.ff.linear_in", 1),
    ("transformer_blocks.{block}.ff.linear_out", 1),
    ("transformer_blocks.{block}.ff_context.linear_in", 1),
    ("transformer_blocks.{block}.ff_context.linear_out", 1),
    ("single_transformer_blocks.{block}.attn.to_qkv_mlp_proj", 2),
    ("single_transformer_blocks.{block}.attn.to_out", 2),
]


def train_config(model_dir: Path, data_dir: Path, output_dir: Path, *, images: int, save_every: int, rank: int = 4, learning_rate: float = 5e-2) -> dict:
    return {
        "model": "flux2-klein-base-4b",
        "model_path": str(model_dir),
        "data": str(data_dir),
        "seed": 42,
        "steps": 2,
        "guidance": 4.0,
        "quantize": None,
        "max_resolution": 64,
        "low_ram": False,
        "gradient_checkpointing": False,
        "training_loop": {"num_epochs": 1, "batch_size": 1},
        "optimizer": {"name": "AdamW", "learning_rate": learning_rate},
        "checkpoint": {"output_path": str(output_dir), "save_frequency": save_every},
        "monitoring": {"preview_width": 64, "preview_height": 64, "plot_frequency": 1, "generate_image_frequency": images},
        "lora_layers": {
            "targets": [
                {"module_path": path, "blocks": {"start": 0, "end": blocks}, "rank": rank} for path, blocks in TARGETS
            ]
        },
    }


def train_selftest_run(workspace, model_dir: Path, *, run_id: str = "20261127-030000-mira", dataset: str = "mira",
                       images: int = 3, save_every: int = 1) -> RunPaths:
    """Train the self-test model for `images` iterations (one epoch), a checkpoint every `save_every`."""
    from core.models import selftest_model

    paths = run_paths(workspace, run_id)
    paths.root.mkdir(parents=True, exist_ok=True)
    data_dir = write_mflux_dataset(workspace.dataset_images_dir(dataset), count=images, trigger=TRIGGER)
    (data_dir / "preview_01.txt").write_text(f"{TRIGGER}, portrait", encoding="utf-8")
    config = train_config(model_dir, data_dir, paths.mflux_dir, images=images, save_every=save_every)
    storage.write_json(paths.train_json, config)
    paths.write_record(RunRecord.from_dict({
        "run_id": run_id, "dataset": dataset, "model": "selftest", "trigger": TRIGGER, "status": "running",
        "iterations": images, "started_at": time.time(),
    }))
    selftest_model.use_selftest_geometry()
    from mflux.models.common.training.runner import TrainingRunner

    cwd = os.getcwd()
    try:
        os.chdir(paths.root)
        TrainingRunner.train(config_path=str(paths.train_json), resume_path=None)
    finally:
        os.chdir(cwd)
    for step, zip_path in paths.checkpoint_zips():
        storage.append_line(paths.events, json.dumps({"type": "checkpoint", "step": step, "path": str(zip_path), "time": time.time()}))
    paths.update_record(status="completed", finished_at=time.time())
    return paths


def copy_run(paths: RunPaths, workspace, run_id: str | None = None) -> RunPaths:
    """A private copy of a trained run inside `workspace` (datasets copied too), so a test may change it."""
    target = run_paths(workspace, run_id or paths.run_id)
    shutil.copytree(paths.root, target.root)
    source_datasets = paths.root.parent.parent.parent / "datasets"
    if source_datasets.is_dir() and source_datasets.resolve() != workspace.datasets_dir.resolve():
        shutil.copytree(source_datasets, workspace.datasets_dir, dirs_exist_ok=True)
    return target


def after_last_resume(paths: RunPaths) -> tuple[int, list[dict]]:
    """The step the run's last resume started from (the worker's `status` event with `resumed_from`) and the
    events written after it: what the resumed worker really did."""
    from core.runs import events as run_events

    events = run_events.read_all(paths)
    marks = [i for i, e in enumerate(events) if e["type"] == "status" and isinstance(e.get("resumed_from"), int)]
    assert marks, f"{paths.run_id} was never resumed"
    return events[marks[-1]]["resumed_from"], events[marks[-1] + 1:]


def checkpoint_files(paths: RunPaths) -> dict[int, tuple[int, int]]:
    """step -> (inode, mtime in ns) of each checkpoint zip: changes when a checkpoint is written again."""
    return {step: (zip_path.stat().st_ino, zip_path.stat().st_mtime_ns) for step, zip_path in paths.checkpoint_zips()}


def assert_resume_continues(paths: RunPaths, from_step: int, total: int, save_every: int,
                            earlier: dict[int, tuple[int, int]], listed: list[int]) -> None:
    """The resumed run went on after `from_step`: its first step is from_step + 1 and it then ran every step to
    `total`; it saved only checkpoints after from_step; `listed` (the run's checkpoint list) keeps the `earlier`
    checkpoints (checkpoint_files before the resume), untouched, followed by the new ones."""
    resumed_from, after = after_last_resume(paths)
    assert resumed_from == from_step
    steps = [e["step"] for e in after if e["type"] == "step"]
    assert steps == list(range(from_step + 1, total + 1)), f"the resumed worker ran steps {steps}"
    saved = [e["step"] for e in after if e["type"] == "checkpoint"]
    assert saved == [s for s in range(from_step + 1, total + 1) if s % save_every == 0 or s == total], saved
    assert listed == sorted(earlier) + saved
    assert {step: files for step, files in checkpoint_files(paths).items() if step in earlier} == earlier


def losses(workspace, run_id: str) -> dict[int, float]:
    """step -> loss of a run, from its events."""
    from core.runs import events as run_events

    line = run_events.timeline(run_events.read_all(run_paths(workspace, run_id)))
    return dict(zip(line.steps, line.losses))


def wait_for(predicate, timeout: float = 120.0):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")
