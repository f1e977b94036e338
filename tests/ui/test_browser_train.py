"""A real Chromium trains the self-test model from the Train tab: presets, Start, live progress, Stop."""

from __future__ import annotations

import pytest

from core.training import config as train_config
from core.training import runner as training
from core.workspace import Workspace
from tests.support.browser import screenshot
from tests.support.images import write_mflux_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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
    selftest = train_config.compose(workspace, "browser-mira", "mira", ["selftest"])
    page.wait_for_function(  # the preset reached the form
        "([rank, resolution]) => document.querySelector('#train-rank input')?.value === rank"
        " && document.querySelector('#train-resolution input')?.value === resolution",
        arg=[str(selftest.rank), str(selftest.max_resolution)], timeout=30_000,
    )
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


def test_raw_json_and_form_stay_in_sync_and_aitoolkit_yaml_imports(app_url, app_workspace, page, tmp_path):
    from tests.training.test_train_config import AITOOLKIT_YAML

    page.goto(app_url)
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("document.querySelector('#train-rank input') && document.querySelector('#train-rank input').value !== ''",
                           timeout=30_000)
    page.get_by_text("Raw train.json").click()
    seed = page.locator("#train-seed input")
    seed.fill("7")
    seed.press("Tab")
    page.wait_for_function("document.querySelector('#train-raw-json .cm-content').innerText.includes('\"seed\": 7')", timeout=20_000)
    # Paste a whole train.json into the editor: the form follows.
    config = train_config.compose(Workspace(app_workspace), "", "", ["goal-quick-test"], memory_gb=48).config()
    config["checkpoint"]["save_frequency"] = 123
    page.locator("#train-raw-json .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(train_config.to_json(config))
    page.wait_for_function("document.querySelector('#train-save-every input').value === '123'", timeout=20_000)
    assert page.locator("#train-rank input").input_value() == "8"  # the pasted JSON's targets

    yaml_path = tmp_path / "mira_flux_lora.yaml"
    yaml_path.write_text(AITOOLKIT_YAML, encoding="utf-8")
    page.get_by_text("Import an ai-toolkit config").click()
    page.locator("#train-aitoolkit-file input[type=file]").set_input_files(str(yaml_path))
    report = page.locator("#train-import-report")
    report.get_by_text("Carried over").wait_for(timeout=30_000)
    assert "No equivalent here" in report.inner_text() and "EMA" in report.inner_text()
    page.wait_for_function("document.querySelector('#train-rank input').value === '32'", timeout=20_000)
    assert page.locator("#train-trigger textarea, #train-trigger input").first.input_value() == "m1ra"
    screenshot(page, "train-import")
