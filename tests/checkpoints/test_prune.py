"""Keep-last-N and delete move old checkpoints to the trash (recoverable), never the chosen one."""

import time

import pytest

from core import storage
from core.checkpoints import store as checkpoints
from core.errors import AppError, CheckpointError, NotFound
from core.runs.paths import run_paths
from core.runs.record import RunRecord


def run_with_checkpoints(workspace, steps=(0, 100, 200, 300, 400), chosen=None, run_id="20261127-010000-mira"):
    """A run folder with checkpoint zips named as mflux names them, and (as the Checkpoints tab writes it) a chosen.json."""
    paths = run_paths(workspace, run_id)
    paths.write_record(RunRecord(run_id=paths.run_id, model="selftest", trigger="m1ra"))
    paths.checkpoints_dir.mkdir(parents=True)
    for step in steps:
        (paths.checkpoints_dir / f"{step:07d}_checkpoint.zip").write_bytes(b"z" * (1000 + step))
    if chosen is not None:
        adapter = checkpoints.adapter_path(paths, chosen)
        storage.write_bytes(adapter, b"adapter")
        storage.write_json(paths.chosen_json, {"run_id": paths.run_id, "step": chosen, "strength": 1.25, "adapter_path": str(adapter),
                                               "sha256": "0" * 64, "chosen_at": time.time()})
    return paths


def steps_of(paths):
    return [step for step, _ in paths.checkpoint_zips()]


def test_prune_keeps_the_newest_and_the_chosen_and_the_rest_is_recoverable(workspace):
    paths = run_with_checkpoints(workspace, chosen=100)
    removed = checkpoints.prune_checkpoints(workspace, paths.run_id, keep=2)
    assert removed.removed == [0, 200] and removed.protected == [100]
    assert steps_of(paths) == [100, 300, 400] == removed.kept
    assert removed.bytes_moved == 1000 + 1200
    for moved in removed.trash:  # in the workspace's trash, byte for byte
        assert str(workspace.trash_dir / paths.run_id) in moved
    assert sorted(p.name for p in (workspace.trash_dir / paths.run_id).rglob("*.zip")) == [
        "0000000_checkpoint.zip", "0000200_checkpoint.zip"]
    assert "Step 100 is the chosen checkpoint and was kept" in removed.summary()
    again = checkpoints.prune_checkpoints(workspace, paths.run_id, keep=2)
    assert again.removed == [] and "Nothing was removed" in again.summary()
    with pytest.raises(AppError, match="Keep at least 1"):
        checkpoints.prune_checkpoints(workspace, paths.run_id, keep=0)


def test_delete_moves_one_step_and_refuses_the_chosen_one(workspace):
    paths = run_with_checkpoints(workspace, chosen=300)
    removed = checkpoints.delete_checkpoints(workspace, paths.run_id, [200])
    assert removed.removed == [200] and steps_of(paths) == [0, 100, 300, 400]
    with pytest.raises(CheckpointError, match="Step 300 is the chosen checkpoint"):
        checkpoints.delete_checkpoints(workspace, paths.run_id, [300])
    assert 300 in steps_of(paths)
    with pytest.raises(NotFound, match="no checkpoint at step 200"):
        checkpoints.delete_checkpoints(workspace, paths.run_id, [200])
    both = checkpoints.delete_checkpoints(workspace, paths.run_id, [0, 300])  # the chosen one of several stays
    assert both.removed == [0] and both.protected == [300] and steps_of(paths) == [100, 300, 400]


def test_local_generate_lists_the_chosen_ones_and_the_selected_runs_checkpoints(workspace):
    mira = run_with_checkpoints(workspace, chosen=300)
    kim = run_with_checkpoints(workspace, steps=(0, 5, 10), run_id="20261127-020000-kim")
    other = run_with_checkpoints(workspace, steps=(0, 7), run_id="20261127-030000-zed")
    choices = checkpoints.lora_choices(workspace, kim.run_id)
    labels = [c.label for c in choices]
    assert labels[0] == f"★ {mira.run_id} · step 300 (chosen, strength 1.25)" and choices[0].strength == 1.25
    assert labels[1:] == [f"{kim.run_id} · step {s}" for s in (10, 5, 0)]
    assert not any(other.run_id in label for label in labels)  # not every step of every run
    assert checkpoints.last_chosen(workspace).run_id == mira.run_id
    with pytest.raises(NotFound):
        checkpoints.ensure_adapter(workspace, workspace.runs_dir / "nope.safetensors")
