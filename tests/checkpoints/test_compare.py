"""The comparison grid on a real self-test run: one warm model, swaps, prompt reuse, a disk cache, Stop, likeness."""

import pytest
from PIL import Image

from core.checkpoints import compare
from core.generation import local as generation
from core.checkpoints import likeness
from core.dataset.preview_prompts import load_test_prompts
from core.progress import Cancellation, Cancelled, drain

pytestmark = pytest.mark.slow  # a trained run, and mflux renders every cell


def spec(run_id, **changes):
    values = dict(run_id=run_id, prompts=["mira, portrait", "mira walking"], strengths=[1.0, 1.5], seeds=[1], steps=[2, 3],
                  width=64, height=64, sample_steps=2, guidance=4.0)
    values.update(changes)
    return compare.GridSpec(**values)


def stats():
    return dict(vars(generation.engine().stats))


def delta(before):
    return {k: v - before[k] for k, v in stats().items()}


def test_grid_fills_cell_by_cell_then_comes_from_the_cache(run_copy, workspace, settings):
    generation.unload()
    before = stats()
    events = list(compare.run_grid(workspace, spec(run_copy.run_id), settings=settings))
    cells = [e.payload["cell"] for e in events if "cell" in e.payload]
    assert len(cells) == 2 + 2 * 2 * 2 and [e.step for e in events if "cell" in e.payload] == list(range(1, 11))
    grid = events[-1].result
    assert grid.rows == ["base", "2", "3"]
    changes = delta(before)
    assert changes["images"] == 10 and changes["model_loads"] == 1
    assert changes["prompt_encodings"] == 2  # each prompt once, reused across checkpoints and strengths
    assert changes["lora_loads"] == 2 and changes["scale_changes"] == 2  # one swap per checkpoint, strengths in memory
    assert all(Image.open(c.path).size == (64, 64) for c in cells)
    assert grid.cell("base", 0).strength is None
    assert grid.cell("2", 1, 1.5).settings["adapter_sha256"] != grid.cell("3", 1, 1.5).settings["adapter_sha256"]
    base, step3 = Image.open(grid.cell("base", 0).path), Image.open(grid.cell("3", 0, 1.5).path)
    assert list(base.getdata()) != list(step3.getdata())

    before = stats()
    again = [e.payload["cell"] for e in compare.run_grid(workspace, spec(run_copy.run_id), settings=settings) if "cell" in e.payload]
    assert all(c.cached for c in again) and delta(before)["images"] == 0
    before = stats()
    wider = [e.payload["cell"] for e in compare.run_grid(workspace, spec(run_copy.run_id, strengths=[1.0, 2.0]), settings=settings) if "cell" in e.payload]
    assert sum(not c.cached for c in wider) == 4 and delta(before)["images"] == 4  # only the new strength is computed
    assert compare.last_grid(run_copy).spec.strengths == [1.0, 2.0]


def test_stop_keeps_the_finished_cells(run_copy, workspace, settings):
    small = spec(run_copy.run_id, prompts=["mira, portrait"], strengths=[1.0], seeds=[5])
    cancel = Cancellation()
    done = []
    with pytest.raises(Cancelled):
        for event in compare.run_grid(workspace, small, cancel=cancel, settings=settings):
            if "cell" in event.payload:
                done.append(event.payload["cell"])
                if len(done) == 1:
                    cancel.request()
    assert len(done) == 1
    resumed = [e.payload["cell"] for e in compare.run_grid(workspace, small, settings=settings) if "cell" in e.payload]
    assert [c.cached for c in resumed] == [True, False, False]


def test_prompts_file_fills_the_trigger_and_bad_specs_are_refused(run_copy, workspace, tmp_path):
    prompts = load_test_prompts(trigger="mira")
    assert len(prompts) >= 2 and all(p.startswith("mira") for p in prompts) and not any("{trigger}" in p for p in prompts)
    text = tmp_path / "p.txt"
    text.write_text("{trigger} on a boat\n\n{trigger} in snow\n")
    assert load_test_prompts(text, "kim") == ["kim on a boat", "kim in snow"]
    with pytest.raises(Exception, match="no checkpoint at step 40"):
        list(compare.run_grid(workspace, spec(run_copy.run_id, steps=[40])))


def test_likeness_ranks_cells_and_checkpoints(run_copy, workspace, settings, likeness_model_dir):
    grid = drain(compare.run_grid(workspace, spec(run_copy.run_id, prompts=["mira"], strengths=[1.0]), settings=settings))
    dataset = likeness.dataset_images_of_run(workspace, run_copy)
    assert len(dataset) == 3
    model = str(likeness_model_dir)
    assert likeness.score([dataset[0]], [dataset[0]], model=model) == [pytest.approx(1.0, abs=1e-3)]
    per_cell, ranking = likeness.rank(grid, dataset, model=model)
    assert set(per_cell) == {c.key for c in grid.cells}
    assert all(-1.0 <= v <= 1.0 for v in per_cell.values())
    assert sorted(r.row for r in ranking) == ["2", "3", "base"]
    assert [r.score for r in ranking] == sorted((r.score for r in ranking), reverse=True)
    assert all(r.cells == 1 for r in ranking)


def test_progress_shows_inside_each_image_and_stop_ends_within_it(run_copy, workspace, settings):
    """A long cell reports its denoising steps (no silent "Preparing" for minutes), and a Stop asked during one
    ends the grid at the next step (mflux's in-loop callback), before that image is finished or saved."""
    generation.unload()
    long = spec(run_copy.run_id, prompts=["mira, long"], strengths=[1.0], seeds=[9], steps=[3], sample_steps=20)
    cancel = Cancellation()
    messages = []
    before = stats()
    with pytest.raises(Cancelled):
        for event in compare.run_grid(workspace, long, cancel=cancel, settings=settings):
            messages.append(event.message)
            if "denoising step 2/20" in event.message:
                cancel.request()
    assert any(m.startswith("Prepared the adapter of step 3") for m in messages)
    assert any(m.startswith("Loading the selftest model") for m in messages)
    steps_seen = [m for m in messages if "denoising step" in m]
    assert steps_seen[0].endswith("base model, denoising step 1/20") and len(steps_seen) < 20
    assert delta(before)["images"] == 0  # the image was not finished
    assert not any((run_copy.compare_dir / "cells").glob("*.png"))
