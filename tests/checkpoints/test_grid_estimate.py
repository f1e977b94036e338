"""The grid's defaults follow the run (model, training resolution, a few checkpoints), and its size and a time
estimate are known before it starts (core.checkpoints.grid_form, grid_estimate)."""

import json

import pytest

from core.checkpoints import grid_estimate, grid_form
from core.runs.paths import run_paths
from core.runs.record import RunRecord


def selftest_run(workspace, run_id="20261127-010000-mira", steps=range(0, 12), resolution=64, model="selftest"):
    """A run folder with a record and checkpoint zips named as mflux names them (their content is not read here)."""
    paths = run_paths(workspace, run_id)
    paths.write_record(RunRecord(run_id=paths.run_id, dataset="mira", model=model, trigger="m1ra", max_resolution=resolution))
    paths.checkpoints_dir.mkdir(parents=True)
    for step in steps:
        (paths.checkpoints_dir / f"{step:07d}_checkpoint.zip").write_bytes(b"zip")
    return paths


def test_the_defaults_follow_the_run_and_keep_the_grid_small(workspace):
    paths = selftest_run(workspace)
    defaults = grid_form.defaults_for_run(workspace, paths.run_id)
    assert defaults.model == "selftest" and defaults.size == "64x64"  # not 1024x1024 on the 4B model
    assert defaults.available == list(range(0, 12))
    assert defaults.steps == [1, 4, 8, 11]  # four, spread over the run, with the newest; step 0 left out
    assert defaults.strengths == "1.0" and defaults.seeds == "1"
    big = selftest_run(workspace, "20261127-020000-kim", steps=[0, 250, 500], resolution=520, model="flux2-klein-base-4b")
    defaults = grid_form.defaults_for_run(workspace, big.run_id)
    assert defaults.model == "flux2-klein-base-4b" and defaults.size == "512x512" and defaults.steps == [250, 500]


def test_the_size_and_an_estimate_are_known_before_the_grid_starts(workspace):
    paths = selftest_run(workspace)
    defaults = grid_form.defaults_for_run(workspace, paths.run_id)
    spec = grid_form.grid_spec(workspace, paths.run_id, "{trigger}, portrait\n{trigger} walking", defaults.strengths,
                               defaults.seeds, model=defaults.model, size=defaults.size, steps=defaults.steps)
    plan = grid_estimate.estimate(workspace, spec)
    assert (plan.cells, plan.cached, plan.checkpoints, plan.prompts) == (2 + 4 * 2, 0, 4, 2)
    assert (plan.width, plan.height, plan.sample_steps, plan.model) == (64, 64, 2, "selftest")
    low, high = plan.seconds
    assert 0 < low <= high < 600  # a small self-test grid takes seconds to minutes, not hours
    text = plan.summary()
    assert "base + 4 checkpoints x 1 strength x 2 prompts x 1 seed = 10 cells" in text
    assert "an estimate: typical for the self-test model" in text


def test_the_estimate_uses_this_machines_measured_render_times(workspace):
    paths = selftest_run(workspace)
    cells = paths.compare_dir / "cells"
    cells.mkdir(parents=True)
    for n, seconds in enumerate((2.0, 3.0, 4.0)):  # what run_grid writes beside each rendered cell
        (cells / f"{n}.json").write_text(json.dumps({"model": "selftest", "width": 64, "height": 64, "steps": 2,
                                                     "guidance": 4.0, "render_seconds": seconds}))
    (cells / "other.json").write_text(json.dumps({"model": "selftest", "width": 512, "height": 512, "steps": 2,
                                                  "guidance": 4.0, "render_seconds": 300.0}))
    spec = grid_form.grid_spec(workspace, paths.run_id, "a", "1.0, 1.5", "1, 2", model="selftest", size="64x64", steps=[11])
    plan = grid_estimate.estimate(workspace, spec)
    assert plan.cells == 2 + 1 * 2 * 2
    assert "measured on this machine (3 earlier images)" in plan.basis
    assert plan.seconds[0] >= 6 * 3.0 * 0.8 and plan.seconds[1] < 6 * 3.0 * 1.3 + 11  # the median, plus loading


@pytest.mark.parametrize("fields, message", [
    (dict(steps=[40]), "no checkpoint at step 40"),
    (dict(size="100x100"), "not a multiple of 16"),
])
def test_a_grid_that_cannot_render_says_so_before_it_starts(workspace, fields, message):
    paths = selftest_run(workspace)
    values = dict(size="64x64", steps=[11]) | fields
    spec = grid_form.grid_spec(workspace, paths.run_id, "a", "1", "1", size=values["size"], steps=values["steps"])
    with pytest.raises(Exception, match=message):
        grid_estimate.estimate(workspace, spec)
