"""A real Chromium: compare a trained run's checkpoints, move the viewer with the keyboard, score, choose,
then generate locally with the chosen adapter."""

import json
import time

import pytest

from core.workspace import Workspace
from tests.support.browser import screenshot
from tests.support.runs import copy_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_text(page, selector, text, timeout=10_000):
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return !!e && e.innerText.includes(t); }",
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
    page.locator("#gen-refresh").click()
    lora = page.locator("#gen-lora input")
    lora.click()
    page.get_by_role("option", name=chosen["adapter_path"].rsplit("/", 1)[-1]).click()
    page.locator("#gen-run").click()
    wait_text(page, "#gen-progress", "Saved", 120_000)
    settings = json.loads(page.locator("#gen-settings .cm-content").inner_text())
    assert settings["seed"] == 5 and settings["loras"][0]["path"] == chosen["adapter_path"]
    assert page.locator("#gen-gallery img").count() >= 1
    screenshot(page, "local-generate")

