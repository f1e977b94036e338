"""A real Chromium trains the self-test model from the Train tab: presets, Start, live progress, Stop."""

from __future__ import annotations

import sys

import pytest

from core.training import config as train_config
from core.training import runner as training
from core.workspace import Workspace
from tests.support.browser import PLOT_DRAWN, screenshot
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
    if training.list_runs(Workspace(app_workspace)):  # an earlier test's run is selected: its settings fill the form first
        page.locator("#train-preset-note").get_by_text("The form shows the settings of run").wait_for(timeout=30_000)
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


def interrupted_run(workspace, run_id: str) -> str:
    """A self-test run whose worker died before its first checkpoint (what a closed laptop or a crash leaves)."""
    import subprocess

    from core import storage
    from core.runs.paths import run_paths
    from core.runs.record import RunRecord

    write_mflux_dataset(workspace.dataset_images_dir("browser-lost"), count=4, trigger="lost")
    plan = train_config.compose(workspace, "browser-lost", "lost", ["selftest"])
    plan.epochs = 7
    paths = run_paths(workspace, run_id)
    paths.root.mkdir(parents=True)
    storage.write_json(paths.train_json, plan.config(workspace))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    paths.write_record(RunRecord(run_id=run_id, dataset="browser-lost", model="selftest", trigger="lost", status="running",
                                 pid=dead.pid, worker_started=True, total_steps=28, form=plan.to_dict()))
    bar = "".join(f"\r{step * 100 // 28:3d}%|{'#' * (step * 10 // 28):<10}| {step}/28" for step in range(12))
    lines = "".join(f"\x1b[32mstep {step}\x1b[0m done\n" for step in range(60))
    paths.worker_log.write_bytes((lines + bar + "\nKilled\n").encode())
    return run_id


@pytest.fixture()
def own_app(tmp_path, cache_dir, selftest_model_dir):
    """The app on a workspace of its own: what earlier tests left in the shared app (its jobs, its loaded models)
    does not decide what this page shows."""
    from core.settings import load_settings
    from tests.support.app_server import running_app
    from tests.support.env import free_port

    root = tmp_path / "train-workspace"
    settings = load_settings(env_file=None, environ={"WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir),
                                                     "APP_PORT": str(free_port())})
    Workspace(root).ensure()
    with running_app(settings) as url:
        yield url, root


def test_a_reload_after_a_dead_worker_selects_the_interrupted_run_and_the_form_is_checked_honestly(own_app, page):
    app_url, app_workspace = own_app
    workspace = Workspace(app_workspace)
    assert not training.active_runs(workspace)  # the notice's run is chosen when nothing runs
    run_id = interrupted_run(workspace, "20991231-235959-browser-lost")  # made after the app started
    page.goto(app_url)
    page.get_by_role("tab", name="Train").click()
    notice = page.locator("#train-notice")
    notice.get_by_text("Interrupted run(s)").wait_for(timeout=30_000)
    assert f"{run_id} is selected under Run" in notice.inner_text()
    page.wait_for_function("(id) => document.querySelector('#train-run input')?.value.startsWith(id)", arg=run_id,
                           timeout=30_000)
    page.wait_for_function("document.querySelector('#train-epochs input')?.value === '7'", timeout=30_000)
    assert page.locator("#train-model input[value='selftest']").is_checked()
    # The worker log's tail reads as the terminal showed it, and the box shows its end.
    log = page.locator("#train-log textarea")
    page.wait_for_function("document.querySelector('#train-log textarea')?.value.endsWith('Killed')", timeout=30_000)
    assert " 39%|###       | 11/28\nKilled" in log.input_value() and "\x1b" not in log.input_value()
    page.wait_for_function("(() => { const t = document.querySelector('#train-log textarea');"
                           " return t.scrollHeight > t.clientHeight && t.scrollTop + t.clientHeight >= t.scrollHeight - 4; })()",
                           timeout=10_000)
    page.locator("#train-history").click()  # the run history and its diff pickers know the run too
    page.wait_for_function("(id) => document.querySelector('#train-runs-table')?.textContent.includes(id)", arg=run_id,
                           timeout=10_000)

    # The learning rate takes 0.0001 as a valid value, and ArrowUp nudges it instead of jumping to 1.
    rate = page.locator("#train-lr input")
    rate.fill("0.0001")
    assert rate.evaluate("input => input.checkValidity()")
    assert page.locator("#train-settings input:invalid, #train-lr input:invalid").count() == 0
    rate.press("ArrowUp")
    assert 0.0001 < float(rate.input_value()) < 0.0002
    assert rate.evaluate("input => input.checkValidity()")
    assert page.locator("input[type=number]:invalid").count() == 0

    # The real 4B model on this CPU-only machine, weights not downloaded, no trigger word: a warning, not a tick.
    page.locator("#train-model input[value='flux2-klein-base-4b']").check()
    page.locator("#train-trigger textarea, #train-trigger input").first.fill("")
    page.locator("#train-check").click()
    result = page.locator("#train-check-result")
    page.wait_for_function("(() => { const t = document.querySelector('#train-check-result')?.innerText || '';"
                           " return /Can start|Ready to train|Not ready/.test(t); })()", timeout=180_000)
    text = result.inner_text()
    assert "Can start, but read" in text, text
    assert "✅" not in text and "Ready to train" not in text
    assert "not downloaded yet" in text and "No trigger word is set" in text
    if sys.platform != "darwin":  # no Metal GPU here
        assert "would take days" in text
    screenshot(page, "train-check-warnings")
