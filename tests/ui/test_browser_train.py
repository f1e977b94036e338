"""A real Chromium trains the self-test model from the Train tab: presets, Start, live progress, Stop."""

from __future__ import annotations

import pytest

from core.training import config as train_config
from core.training import runner as training
from core.workspace import Workspace
from tests.support.browser import screenshot
from tests.support.images import write_mflux_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]


PLOT_DRAWN = """() => {
    const plot = document.querySelector('#train-loss-plot');
    if (!plot || plot.innerText.includes('Infinity')) return false;
    return [...plot.querySelectorAll('.mark-line path')].some(p => (p.getAttribute('d') || '').includes('L'));
}"""


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
    note = page.locator("#train-preset-note").inner_text()
    # The note says what the form now has (the memory preset's own blurb says 1024 px; the self-test preset set 64 px).
    assert "64 px" in note and "1024 px" not in note and f"rank {selftest.rank}" in note
    page.locator("#train-trigger textarea, #train-trigger input").first.fill("mira")
    epochs = page.locator("#train-epochs input")
    epochs.fill("100")  # 400 steps: long enough to watch, reload and stop
    epochs.press("Tab")
    page.locator("#train-check").click()
    page.locator("#train-check-result").get_by_text("Ready to train").wait_for(timeout=60_000)
    assert "400 steps" in page.locator("#train-check-result").inner_text()

    page.locator("#train-start").click()
    page.wait_for_function(
        "(() => { const p = document.querySelector('#train-progress-text'); return p && Number(p.dataset.step) >= 2; })()",
        timeout=120_000,
    )
    assert "running" in page.locator("#train-progress-text").inner_text()
    # The loss curve draws while the run goes on, without leaving the tab (it used to stay blank with a legend
    # "series -Infinity" until a tab switch).
    page.wait_for_function(PLOT_DRAWN, timeout=30_000)
    log = page.locator("#train-log textarea")
    assert "\r" not in log.input_value() and "\x1b" not in log.input_value()
    screenshot(page, "train-running")

    # A reload (or a second browser tab) finds the running run selected, the form showing its settings, and Stop works.
    run_id = training.active_runs(workspace)[0].run_id
    page.reload()
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("(id) => document.querySelector('#train-run input')?.value.startsWith(id)", arg=run_id,
                           timeout=30_000)
    page.wait_for_function("document.querySelector('#train-epochs input')?.value === '100'", timeout=30_000)
    assert page.locator("#train-model input[value='selftest']").is_checked()
    assert page.locator("#train-resolution input").input_value() == str(selftest.max_resolution)
    assert run_id in page.locator("#train-preset-note").inner_text()
    page.wait_for_function(PLOT_DRAWN, timeout=30_000)

    page.locator("#train-stop").click()
    page.wait_for_function(
        "(() => { const p = document.querySelector('#train-progress-text'); return p && p.dataset.status === 'stopped'; })()",
        timeout=120_000,
    )
    text = page.locator("#train-progress-text").inner_text()
    screenshot(page, "train-stopped")
    run = training.status(workspace, run_id)
    assert run.status == "stopped" and run.checkpoints and run.checkpoints[-1] == run.step < 400
    assert f"step {run.step}/400" in text


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
