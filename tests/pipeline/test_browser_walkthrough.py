"""One person's afternoon in a real Chromium: the seven tabs in order, on the self-test model and loopback servers.

Dataset (create, import a folder) -> Caption Editor (edit by keyboard, saved on disk) -> Train (self-test preset,
start, progress and loss plot move, Stop, Resume to completion) -> Checkpoints (list, tiny comparison grid,
choose) -> Local Generate (one image with the chosen LoRA) -> Publish (token check on a loopback Hub, publish and
register on a loopback Runware) -> Runware Playground (compare with the local image). Each tab is screenshotted into
test-artifacts/walkthrough/NN-tab.png.
"""

from __future__ import annotations

import re

import pytest

from core.captions import store as captions
from core.checkpoints import store as checkpoints
from core.dataset import datasets
from core.training import runner as training
from core.runs.paths import run_paths
from core.workspace import Workspace
from tests.support.app_server import running_app
from tests.support.browser import ARTIFACTS, PLOT_DRAWN
from tests.support.env import free_port
from core.selftest.loopback_hub import FakeHub
from tests.support.images import write_mflux_dataset
from tests.support.publishing import HF_TOKEN, RUNWARE_KEY

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = ARTIFACTS / "walkthrough"
NAME = "walk-mira"


@pytest.fixture(scope="module")
def walk_app(tmp_path_factory, cache_dir, selftest_model_dir, likeness_model_dir):
    from core.settings import load_settings
    from core.selftest.loopback_runware import FakeRunware

    hub = FakeHub(tokens={HF_TOKEN: "alice"}).start()
    runware = FakeRunware(api_key=RUNWARE_KEY).start()
    root = tmp_path_factory.mktemp("walk-workspace")
    settings = load_settings(env_file=None, export=False, environ={
        "WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()),
        "HF_TOKEN": HF_TOKEN, "HF_ENDPOINT": hub.url, "RUNWARE_API_KEY": RUNWARE_KEY, "RUNWARE_WS_URL": runware.url,
        "LIKENESS_MODEL": str(likeness_model_dir)})
    try:
        with running_app(settings) as url:
            yield url, Workspace(root), hub, runware
    finally:
        runware.stop()
        hub.stop()


def shot(page, number: int, tab: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{number:02d}-{tab}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def field(page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def pick(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def wait_text(page, selector: str, text: str, timeout: float = 60_000) -> None:
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout)


def progress_is(page, condition: str, timeout: float) -> None:
    page.wait_for_function(
        f"(() => {{ const p = document.querySelector('#train-progress-text'); return p && ({condition}); }})()",
        timeout=timeout)


def test_a_person_walks_the_seven_tabs_in_order(walk_app, page, tmp_path):
    try:
        walk(walk_app, page, tmp_path)
    except BaseException:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
        raise


def walk(walk_app, page, tmp_path):
    url, workspace, hub, runware = walk_app
    folder = write_mflux_dataset(tmp_path / "my pictures", count=4, trigger="mira")
    page.set_default_timeout(120_000)  # 2 cores shared with other work: events queue for a while
    page.goto(url)
    # Like a person, wait for the page to finish loading (the header fills in after the page-load events).
    # An early Create is tests/ui/test_browser_dataset.py's concern.
    page.locator("#app-header").get_by_text("MLX", exact=False).wait_for()

    # 1. Dataset: create it, import the folder.
    page.get_by_role("tab", name="Dataset").click()
    field(page, "dataset-new-name").fill(NAME)
    page.locator("#dataset-create").click()
    page.locator("#dataset-status").get_by_text(NAME, exact=True).wait_for(timeout=30_000)
    field(page, "dataset-folder").fill(str(folder))
    page.locator("#dataset-import").click()
    wait_text(page, "#dataset-import-status", f"imported into '{NAME}'", timeout=180_000)
    assert "4 image(s) imported" in page.locator("#dataset-import-status").inner_text()
    dataset = datasets.open_dataset(workspace, NAME)
    assert len(dataset.items()) == 4
    shot(page, 1, "dataset")

    # 2. Caption Editor: one caption edited by keyboard reaches the disk.
    page.get_by_role("tab", name="Caption Editor").click()
    first = dataset.items()[0].stem
    page.locator("#caption-status").get_by_text(f"{first} (1/4)").wait_for(timeout=30_000)
    box = page.locator("#caption-text textarea")
    before = box.input_value()
    assert before == captions.read(dataset, first) and before
    box.click()
    box.press("End")
    box.type(", 웃는 얼굴")
    page.keyboard.press("Control+KeyS")
    page.locator("#caption-status").get_by_text("saved ✓").wait_for(timeout=30_000)
    assert captions.read(dataset, first) == before + ", 웃는 얼굴"
    shot(page, 2, "caption-editor")

    # 3. Train: self-test preset, start, watch, stop, resume to completion.
    page.get_by_role("tab", name="Train").click()
    pick(page, "train-goal-preset", "Self-test (tiny model)")
    pick(page, "train-dataset", NAME)
    page.locator("#train-apply-presets").click()
    page.wait_for_function("document.querySelector('#train-resolution input').value === '64'", timeout=30_000)
    field(page, "train-trigger").fill("mira")
    epochs = page.locator("#train-epochs input")
    epochs.fill("40")  # 4 images x 40 epochs = 160 steps (about a minute here): time to reload before Stop
    epochs.press("Tab")
    save_every = page.locator("#train-save-every input")
    save_every.fill("16")  # 10 checkpoints
    save_every.press("Tab")
    page.locator("#train-check").click()
    page.locator("#train-check-result").get_by_text("Ready to train").wait_for(timeout=60_000)
    assert "160 steps" in page.locator("#train-check-result").inner_text()
    page.locator("#train-start").click()
    progress_is(page, "Number(p.dataset.step) >= 2", 240_000)
    page.wait_for_function(PLOT_DRAWN, timeout=60_000)  # the loss line draws while training, on this tab
    # Reload in the middle: the running run is selected again, its settings are in the form, and Stop reaches it.
    running = training.active_runs(workspace)[0].run_id
    page.reload()
    page.locator("#app-header").get_by_text("MLX", exact=False).wait_for()
    page.get_by_role("tab", name="Train").click()
    page.wait_for_function("(id) => document.querySelector('#train-run input')?.value.startsWith(id)", arg=running)
    page.wait_for_function("document.querySelector('#train-epochs input')?.value === '40'")
    assert page.locator("#train-resolution input").input_value() == "64"
    progress_is(page, "p.dataset.status === 'running'", 60_000)
    page.locator("#train-stop").click()
    progress_is(page, "p.dataset.status === 'stopped'", 240_000)
    run = training.list_runs(workspace)[0]
    assert run.status == "stopped" and 2 <= run.step < 160 and run.checkpoints[-1] == run.step
    stopped_at = run.step
    shot(page, 3, "train-stopped")
    page.locator("#train-resume").click()
    progress_is(page, "p.dataset.status === 'completed'", 300_000)
    run = training.list_runs(workspace)[0]
    assert run.status == "completed" and run.step == 160 and stopped_at in run.checkpoints and 160 in run.checkpoints
    assert page.locator("#train-loss-plot canvas, #train-loss-plot svg").count() > 0
    shot(page, 4, "train-completed")

    # 4. Checkpoints: the list, a tiny grid (base + two checkpoints), choose one.
    page.get_by_role("tab", name="Checkpoints").click()  # opening the tab lists what training wrote meanwhile
    page.locator("#ckpt-table").get_by_text("160", exact=True).first.wait_for(timeout=30_000)
    field(page, "grid-prompts").fill("{trigger}, portrait")
    field(page, "grid-strengths").fill("1.0")
    field(page, "grid-seeds").fill("1")
    field(page, "grid-size").fill("64x64")
    page.locator("#grid-sample-steps input").fill("2")
    pick(page, "grid-model", "Self-test model (tiny, random: checks the pipeline, not quality)")
    page.locator("#grid-run").click()
    wait_text(page, "#grid-status", "✅", timeout=300_000)
    assert page.locator("#grid-html img").count() >= 2
    page.locator("#viewer-down").click()  # off the base-model row onto a checkpoint
    page.locator("#choose-button").click()
    wait_text(page, "#chosen-status", "✅ Chosen: step")
    chosen = checkpoints.read_chosen(run_paths(workspace, run.run_id))
    assert chosen is not None and chosen.adapter_path.is_file()
    # Reload in the middle: the run comes back selected, with its checkpoints and the chosen one named.
    page.reload()
    page.locator("#app-header").get_by_text("MLX", exact=False).wait_for()
    page.get_by_role("tab", name="Checkpoints").click()
    page.wait_for_function("(id) => document.querySelector('#ckpt-run input')?.value === id", arg=run.run_id)
    page.locator("#ckpt-table").get_by_text("160", exact=True).first.wait_for(timeout=30_000)
    wait_text(page, "#chosen-status", f"step {chosen.step}")
    shot(page, 5, "checkpoints")

    # 5. Local Generate: one 64 px image with the chosen LoRA.
    page.get_by_role("tab", name="Local Generate").click()
    field(page, "gen-prompt").fill("mira, walking in the rain")
    pick(page, "gen-model", "Self-test model (tiny, random: checks the pipeline, not quality)")
    pick(page, "gen-size", "tiny 64 (self-test)")
    page.locator("#gen-steps input").fill("2")
    page.locator("#gen-seed input").fill("7")
    page.locator("#gen-refresh").click()
    pick(page, "gen-lora", f"★ {run.run_id} · step {chosen.step} (chosen, strength {chosen.strength:g})")
    page.locator("#gen-run").click()
    wait_text(page, "#gen-progress", "✅", timeout=300_000)
    page.locator("#gen-gallery img").first.wait_for(timeout=30_000)
    shot(page, 6, "local-generate")

    # 6. Publish: token check against the loopback Hub, publish public and register on the loopback Runware.
    page.get_by_role("tab", name="Publish").click()
    page.locator("#publish-check-token").click()
    page.locator("#publish-account").get_by_text("alice", exact=False).wait_for(timeout=30_000)
    page.locator("#publish-chosen").get_by_text(f"step {chosen.step}", exact=False).wait_for(timeout=30_000)
    field(page, "publish-repo").fill("walk-mira")
    field(page, "publish-repo").press("Enter")
    page.locator("#publish-visibility").get_by_text("Public").click()
    field(page, "publish-air").fill("story:walk")
    # A self-test run is published only when asked for, and then labelled as one (card and Runware name).
    page.locator("#publish-chosen").get_by_text("Self-test adapter.", exact=False).first.wait_for(timeout=30_000)
    page.locator("#publish-selftest input").check()
    page.locator("#publish-button").click()
    result = page.locator("#publish-result")
    result.get_by_text("Runware AIR", exact=False).wait_for(timeout=180_000)
    assert "story:walk@1" in result.inner_text() and "ready" in result.inner_text()
    assert hub.files("alice/walk-mira")["pytorch_lora_weights.safetensors"] == chosen.adapter_path.read_bytes()
    assert runware.tasks("modelUpload")[-1]["air"] == "story:walk@1"
    assert HF_TOKEN not in page.content() and RUNWARE_KEY not in page.content()
    shot(page, 7, "publish")

    # 7. Runware Playground: the same prompt on Runware beside the local image.
    page.get_by_role("tab", name="Runware Playground").click()
    pick(page, "playground-run", run.run_id)
    # The run is picked here (the tab opens on the run with the chosen checkpoint); its AIR fills in.
    page.wait_for_function("document.querySelector('#playground-lora textarea, #playground-lora input').value === 'story:walk@1'",
                           timeout=30_000)
    pick(page, "playground-size", "128x128 (quick test)")
    page.locator("#playground-prompt textarea").fill("{trigger} smiling")
    page.locator("#playground-compare").click()
    page.locator("#playground-scores").get_by_text("Likeness to the dataset, local").wait_for(timeout=300_000)
    assert page.locator("#playground-slider img").count() == 2
    sent = runware.tasks("imageInference")[-1]
    assert sent["positivePrompt"] == "mira smiling" and sent["lora"][0]["model"] == "story:walk@1"
    assert HF_TOKEN not in page.content() and RUNWARE_KEY not in page.content()
    shot(page, 8, "playground")

    # A reload in the middle of the Playground: it comes back on the run with the chosen checkpoint, its AIR, the
    # saved report and today's Runware total (not reset to zero).
    page.reload()
    page.get_by_role("tab", name="Runware Playground").click()
    page.wait_for_function("document.querySelector('#playground-lora textarea, #playground-lora input').value === 'story:walk@1'",
                           timeout=30_000)
    assert page.locator("#playground-run input").input_value() == run.run_id
    page.locator("#playground-cost").get_by_text(re.compile(r"Today's total:\s*\$\d+\.\d{4} over [1-9]\d* request")).wait_for(
        timeout=30_000)
    page.wait_for_function("document.querySelector('#playground-reports input').value !== ''", timeout=30_000)
