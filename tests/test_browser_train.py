"""A real Chromium trains the self-test model from the Train tab: presets, Start, live progress, Stop."""

from __future__ import annotations

import pytest

from core import training
from core.workspace import Workspace
from tests.support.browser import screenshot
from tests.support.images import write_mflux_dataset

pytestmark = pytest.mark.browser


def test_start_shows_live_progress_and_stop_saves(app_url, app_workspace, page):
    workspace = Workspace(app_workspace)
    write_mflux_dataset(workspace.dataset_images_dir("browser-mira"), count=4, trigger="mira")
    page.goto(app_url)
    page.get_by_role("tab", name="Train").click()
    goal = page.locator("#train-goal-preset input")
    goal.click()
    page.get_by_role("option", name="Self-test (tiny model)").click()
    dataset = page.locator("#train-dataset input")
    dataset.click()
    page.get_by_role("option", name="browser-mira").click()
    page.locator("#train-apply-presets").click()
    page.locator("#train-rank input").filter(has_text="").first.wait_for()
    page.wait_for_function("document.querySelector('#train-resolution input').value === '64'", timeout=30_000)
    page.locator("#train-trigger textarea, #train-trigger input").first.fill("mira")
    epochs = page.locator("#train-epochs input")
    epochs.fill("25")  # 100 steps: long enough to watch and stop
    epochs.press("Tab")
    page.locator("#train-check").click()
    page.locator("#train-check-result").get_by_text("Ready to train").wait_for(timeout=60_000)
    assert "100 steps" in page.locator("#train-check-result").inner_text()

    page.locator("#train-start").click()
    page.wait_for_function(
        "(() => { const p = document.querySelector('#train-progress-text'); return p && Number(p.dataset.step) >= 2; })()",
        timeout=120_000,
    )
    assert "running" in page.locator("#train-progress-text").inner_text()
    assert page.locator("#train-loss-plot canvas, #train-loss-plot svg").count() > 0
    screenshot(page, "train-running")

    page.locator("#train-stop").click()
    page.wait_for_function(
        "(() => { const p = document.querySelector('#train-progress-text'); return p && p.dataset.status === 'stopped'; })()",
        timeout=120_000,
    )
    text = page.locator("#train-progress-text").inner_text()
    screenshot(page, "train-stopped")
    run = training.list_runs(workspace)[0]
    assert run.status == "stopped" and run.checkpoints and run.checkpoints[-1] == run.step < 100
    assert f"step {run.step}/100" in text
