"""A real Chromium: compare a trained run's checkpoints, move the viewer with the keyboard, score, choose,
then generate locally with the chosen adapter (preselected); the grid's defaults, estimate, Stop and layout."""

import json
import time

import pytest

from core import storage
from core.workspace import Workspace
from tests.support.browser import screenshot
from tests.support.runs import copy_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_text(page, selector, text, timeout=10_000):
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return !!e && e.innerText.includes(t); }",
                           arg=[selector, text], timeout=timeout)


def wait_value(page, selector, text, timeout=30_000):
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return !!e && e.value === t; }",
                           arg=[selector, text], timeout=timeout)


def fill(page, elem_id, value):
    field = page.locator(f"#{elem_id} textarea, #{elem_id} input").first
    field.fill(str(value))
    field.press("Tab")


def test_grid_viewer_likeness_choose_and_generate(app_url, app_workspace, trained_run, likeness_model_dir, page):
    run = copy_run(trained_run, Workspace(app_workspace), run_id="20261127-040000-mira-browser")
    page.goto(app_url)
    page.get_by_role("tab", name="Checkpoints").click()
    page.locator("#ckpt-refresh").click()
    page.locator("#ckpt-run input").click()
    page.get_by_role("option", name=run.run_id, exact=True).click()
    wait_text(page, "#ckpt-table", time.strftime("%Y-%m-%d"), 30_000)
    assert page.locator("#ckpt-run input").input_value() == run.run_id

    fill(page, "grid-prompts", "{trigger}, portrait")
    fill(page, "grid-strengths", "1.0, 1.5")
    fill(page, "grid-size", "64x64")
    fill(page, "grid-sample-steps", 2)
    page.locator("#grid-run").click()
    wait_text(page, "#grid-status", "Grid complete", 180_000)
    assert page.locator("#compare-grid img").count() == 4 * 2  # 4 rows (base, steps 1-3) x 2 strength columns
    assert "mira, portrait" in page.locator("#compare-grid").inner_text()

    wait_text(page, "#viewer-settings", "Base model (no LoRA)", 30_000)
    page.locator("#viewer-settings").click()  # focus outside any text field
    page.keyboard.press("ArrowDown")
    wait_text(page, "#viewer-settings", "Checkpoint step 1", 30_000)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    wait_text(page, "#viewer-settings", "Checkpoint step 3", 30_000)
    page.keyboard.press("ArrowUp")
    wait_text(page, "#viewer-settings", "Checkpoint step 2", 30_000)
    assert "Strength 1.0 · seed 1 · 64x64 · 2 steps · guidance 4.0 · model selftest" in page.locator("#viewer-settings").inner_text()

    page.locator("#grid-score").click()
    wait_text(page, "#grid-status", "Scored 7 cells", 120_000)
    wait_text(page, "#likeness-table", "base model")
    assert all(f"step {n}" in page.locator("#likeness-table").inner_text() for n in (1, 2, 3))
    assert page.locator("#compare-grid .grid-score").count() == 8

    fill(page, "choose-strength", 1.5)
    page.locator("#choose-button").click()
    wait_text(page, "#chosen-status", "Chosen: step 2 at strength 1.5", 30_000)
    chosen = json.loads(run.chosen_json.read_text())
    assert chosen["step"] == 2 and chosen["strength"] == 1.5
    screenshot(page, "checkpoints-grid")

    page.get_by_role("tab", name="Local Generate").click()
    fill(page, "gen-prompt", "mira, smiling")
    page.locator("#gen-model input").click()
    page.get_by_role("option", name="Self-test model", exact=False).click()
    page.locator("#gen-size input").click()
    page.get_by_role("option", name="tiny 64 (self-test)").click()
    fill(page, "gen-steps", 2)
    fill(page, "gen-seed", 5)
    # The chosen checkpoint and its strength are preselected; the list holds the chosen ones and this run's steps.
    wait_value(page, "#gen-lora input", f"★ {run.run_id} · step 2 (chosen, strength 1.5)")
    assert page.locator("#gen-lora-strength input[type='number']").input_value() == "1.5"
    page.locator("#gen-lora input").click()
    options = page.locator("[role='option']").all_inner_texts()
    page.keyboard.press("Escape")
    assert f"{run.run_id} · step 3" in options and not any("step 0" in o and run.run_id not in o for o in options)
    page.locator("#gen-run").click()
    wait_text(page, "#gen-progress", "Saved", 120_000)
    settings = json.loads(page.locator("#gen-settings .cm-content").inner_text())
    assert settings["seed"] == 5 and settings["loras"][0]["path"] == chosen["adapter_path"]
    assert page.locator("#gen-gallery img").count() >= 1
    screenshot(page, "local-generate")



def test_the_grid_follows_the_run_estimates_stops_quietly_and_keeps_the_viewer_beside_it(app_url, app_workspace, trained_run, page):
    workspace = Workspace(app_workspace)
    run = copy_run(trained_run, workspace, run_id="20261128-010000-mira-grid")  # made after the app started
    page.goto(app_url)
    page.get_by_role("tab", name="Checkpoints").click()
    wait_value(page, "#ckpt-run input", run.run_id)  # the newest run, read from disk when the page loaded
    # The fields follow the 64 px self-test run: its model, its resolution, its checkpoints, a small grid.
    wait_value(page, "#grid-size textarea", "64x64")
    assert page.locator("#grid-model input").input_value().startswith("Self-test model")
    wait_text(page, "#grid-plan", "= 8 cells")  # base + 3 checkpoints x 1 strength x 2 prompts x 1 seed
    plan = page.locator("#grid-plan").inner_text()
    assert "base + 3 checkpoints x 1 strength x 2 prompts x 1 seed" in plan and "an estimate" in plan and "64x64" in plan
    # The viewer and Choose sit beside the grid, not below it.
    grid_box, viewer_box = page.locator("#grid-html").bounding_box(), page.locator("#viewer-panel").bounding_box()
    assert viewer_box["x"] >= grid_box["x"] + grid_box["width"] - 5 and abs(viewer_box["y"] - grid_box["y"]) < 40
    assert page.locator("#viewer-panel #choose-button").count() == 1

    # A run started later appears when the tab is opened again; the one shown stays.
    later = copy_run(trained_run, workspace, run_id="20261128-020000-mira-later")
    page.get_by_role("tab", name="Local Generate").click()
    page.get_by_role("tab", name="Checkpoints").click()
    page.locator("#ckpt-run input").click()
    page.get_by_role("option", name=later.run_id, exact=True).wait_for(timeout=30_000)
    page.keyboard.press("Escape")
    assert page.locator("#ckpt-run input").input_value() == run.run_id

    # A longer grid: its size follows the fields; Stop ends it within an image, quietly.
    fill(page, "grid-seeds", "1, 2, 3, 4, 5, 6, 7, 8")
    fill(page, "grid-sample-steps", 30)
    wait_text(page, "#grid-plan", "= 64 cells")
    page.locator("#grid-run").click()
    wait_text(page, "#grid-status", "denoising step", 120_000)
    page.wait_for_function("() => document.querySelectorAll('#compare-grid img').length >= 1", timeout=120_000)
    page.locator("#grid-stop").click()
    wait_text(page, "#grid-status", "Stopped after", 60_000)
    assert page.locator("#grid-status .error, #grid-html .error").count() == 0
    assert page.locator("[data-testid='toast-body']").count() == 0
    wait_text(page, "#viewer-settings", "Base model (no LoRA)", 30_000)

    # Likeness that cannot be scored (the run's pictures are gone): one sentence, and the viewer stays as it was.
    storage.write_json(run.train_json, {**storage.read_json(run.train_json), "data": str(app_workspace / "gone")})
    run.update_record(dataset="gone")
    page.locator("#grid-score").click()
    toast = page.locator("[data-testid='toast-body']").filter(has_text="The dataset has no images to compare with")
    toast.first.wait_for(timeout=60_000)
    assert page.locator("#viewer-image img").count() == 1 and page.locator("#viewer-panel .error").count() == 0
    assert "Base model (no LoRA)" in page.locator("#viewer-settings").inner_text()
    screenshot(page, "checkpoints-grid-stopped")
