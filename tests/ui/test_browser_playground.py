"""A real Chromium uses the Runware Playground tab against the loopback Runware API (real SDK)."""

from __future__ import annotations

import hashlib
import re

import pytest

from core.runs.record import RunRecord
from tests.support.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RUN_ID = "20261127-020000-mira"
# The tab has read its lists: a run is selected and its AIR is in the LoRA field.
OPENED = ("document.querySelector('#playground-run input')?.value !== '' &&"
          " (document.querySelector('#playground-lora textarea, #playground-lora input')?.value || '') !== ''")


@pytest.fixture(scope="module")
def playground_app(tmp_path_factory, cache_dir, likeness_model_dir, trained_run):
    """The app on its own workspace with two runs published to a loopback Runware: RUN_ID without a chosen
    checkpoint (Runware only) and a trained self-test run with one (both sides)."""
    from core.runware import registry as runware
    from core.runs.paths import run_paths
    from core.settings import load_settings, register_secret
    from core.storage import write_json
    from core.workspace import Workspace
    from tests.support.app_server import running_app
    from tests.support.env import free_port
    from core.selftest.loopback_runware import FakeRunware
    from tests.support.images import write_mflux_dataset

    root = tmp_path_factory.mktemp("playground-workspace")
    workspace = Workspace(root).ensure()
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=3)
    paths = run_paths(workspace, RUN_ID)
    paths.write_record(RunRecord(run_id=RUN_ID, dataset="mira", model="selftest", trigger="mira"))
    with FakeRunware(image_delay=0.2) as fake:
        register_secret("RUNWARE_API_KEY", fake.api_key)
        settings = load_settings(env_file=None, environ={
            "WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()),
            "RUNWARE_WS_URL": fake.url, "RUNWARE_API_KEY": fake.api_key, "LIKENESS_MODEL": str(likeness_model_dir)})
        data = b"adapter" * 50
        registration = runware.register(settings, url=fake.host_file("a.safetensors", data),
                                        sha256=hashlib.sha256(data).hexdigest(), air="story:mira@1", name="Mira",
                                        version="1", trigger_words="mira", default_weight=0.9)
        write_json(paths.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira", "air": registration.air, "runware_status": "ready"}]})
        from core.checkpoints import store as checkpoints
        from tests.support.runs import copy_run

        trained = copy_run(trained_run, workspace)
        chosen = checkpoints.choose(workspace, trained.run_id, step=3, strength=0.8)
        registration = runware.register(settings, url=fake.host_file("t.safetensors", chosen.adapter_path.read_bytes()),
                                        sha256=chosen.sha256, air="story:trained@1", name="Trained", version="1",
                                        trigger_words="mira", default_weight=0.8)
        write_json(trained.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira", "air": registration.air, "runware_status": "ready"}]})
        with running_app(settings) as url:
            yield url, fake


def _pick(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


def test_generate_with_session_cost_then_batch_report_and_reopen(playground_app, page):
    url, fake = playground_app
    page.goto(url)
    page.get_by_role("tab", name="Runware Playground").click()
    # Like a person, pick once the tab has read its lists: it opens on the run with the chosen checkpoint and shows
    # that run's AIR (a pick made while the page is still loading its lists can be overridden by them).
    page.wait_for_function(OPENED, timeout=30_000)
    _pick(page, "playground-run", RUN_ID)
    lora = page.locator("#playground-lora textarea, #playground-lora input").first
    page.wait_for_function("() => document.querySelector('#playground-lora textarea, #playground-lora input').value === 'story:mira@1'")
    _pick(page, "playground-size", "128x128 (quick test)")
    page.locator("#playground-prompt textarea").fill("{trigger}, a portrait")
    page.locator("#playground-generate").click()
    cost = page.locator("#playground-cost")
    cost.get_by_text(re.compile(r"Today's total:\s*\$0\.0019 over 1 request")).wait_for(timeout=30_000)
    page.locator("#playground-gallery img").first.wait_for(timeout=30_000)
    assert fake.tasks("imageInference")[-1]["positivePrompt"] == "mira, a portrait"
    page.locator("#playground-generate").click()
    cost.get_by_text(re.compile(r"Today's total:\s*\$0\.0038 over 2 requests")).wait_for(timeout=30_000)
    assert lora.input_value() == "story:mira@1"

    fake.prompt_faults = {"cafe": "no_credit"}  # one of the test prompts fails; the others go on
    page.locator("#playground-batch").click()
    page.locator("#playground-progress").get_by_text(re.compile("Report completed")).wait_for(timeout=60_000)
    table = page.locator("#playground-table")
    text = table.inner_text()
    assert "no credit" in text and text.count("✓") == 2
    assert "No local image" in text
    cost.get_by_text(re.compile(r"Today's total:\s*\$0\.0076 over 4 requests")).wait_for(timeout=10_000)
    page.locator("#playground-cloud img").wait_for(timeout=10_000)
    screenshot(page, "playground-batch")

    page.reload()  # today's total is kept across the reload, and says what it covers
    page.get_by_role("tab", name="Runware Playground").click()
    cost.get_by_text(re.compile(r"Today's total:\s*\$0\.0076 over 4 requests")).wait_for(timeout=30_000)
    assert "every Runware request of this Playground today" in cost.inner_text()
    page.wait_for_function(OPENED, timeout=30_000)
    _pick(page, "playground-run", RUN_ID)
    page.wait_for_function("(id) => document.querySelector('#playground-run input')?.value === id", arg=RUN_ID,
                           timeout=30_000)
    page.wait_for_function("() => document.querySelector('#playground-reports input').value !== ''")
    page.locator("#playground-open").click()
    page.locator("#playground-report-link").get_by_text("report.html").wait_for(timeout=20_000)
    assert page.locator("#playground-table").inner_text().count("✓") == 2
    assert "samplers" in page.locator("#playground-scores").inner_text()
    page.locator("#playground-table [data-testid=cell-1-1]").click()  # a row shows its pair
    page.locator("#playground-scores").get_by_text(re.compile(r"^2\. mira walking")).wait_for(timeout=20_000)

    fake.fault = "no_credit"  # a failed request is one sentence on the page
    page.locator("#playground-prompt textarea").fill("{trigger}, a portrait")
    _pick(page, "playground-size", "128x128 (quick test)")
    page.locator("#playground-generate").click()
    page.locator("[data-testid='toast-body']").filter(has_text="no credit left").first.wait_for(timeout=30_000)
    fake.fault, fake.image_delay = None, 3.0  # Stop ends a slow batch and keeps its report
    page.locator("#playground-concurrency input[type=number]").fill("1")
    page.locator("#playground-batch").click()
    page.locator("#playground-progress").get_by_text("Comparing").wait_for(timeout=30_000)
    page.locator("#playground-stop").click()
    page.locator("#playground-progress").get_by_text("Report stopped").wait_for(timeout=30_000)
    fake.image_delay = 0.2


def test_compare_one_prompt_with_the_local_image(playground_app, trained_run, page):
    url, fake = playground_app
    page.goto(url)
    page.get_by_role("tab", name="Runware Playground").click()
    _pick(page, "playground-run", trained_run.run_id)
    page.wait_for_function("() => document.querySelector('#playground-lora textarea, #playground-lora input').value === 'story:trained@1'")
    _pick(page, "playground-size", "128x128 (quick test)")
    page.locator("#playground-prompt textarea").fill("{trigger} smiling")
    page.locator("#playground-compare").click()
    scores = page.locator("#playground-scores")
    scores.get_by_text("Likeness to the dataset, local").wait_for(timeout=120_000)
    text = scores.inner_text()
    assert "SSIM" in text and "Likeness to the dataset, Runware" in text and "samplers" in text
    assert page.locator("#playground-slider img").count() == 2
    page.locator("#playground-local img").wait_for()
    sent = fake.tasks("imageInference")[-1]
    assert sent["positivePrompt"] == "mira smiling" and sent["lora"] == [{"model": "story:trained@1", "weight": 0.8}]
    screenshot(page, "playground-compare")


@pytest.fixture(scope="module")
def no_likeness_app(tmp_path_factory, cache_dir):
    """The app with a likeness model that cannot load (an empty folder) and one run published to a loopback Runware."""
    from core.runware import registry as runware
    from core.runs.paths import run_paths
    from core.settings import load_settings, register_secret
    from core.storage import write_json
    from core.workspace import Workspace
    from tests.support.app_server import running_app
    from tests.support.env import free_port
    from core.selftest.loopback_runware import FakeRunware
    from tests.support.images import write_mflux_dataset

    root = tmp_path_factory.mktemp("playground-no-likeness")
    workspace = Workspace(root).ensure()
    empty = tmp_path_factory.mktemp("no-likeness-model")
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=2)
    paths = run_paths(workspace, RUN_ID)
    paths.write_record(RunRecord(run_id=RUN_ID, dataset="mira", model="selftest", trigger="mira"))
    with FakeRunware(image_delay=0.1) as fake:
        register_secret("RUNWARE_API_KEY", fake.api_key)
        settings = load_settings(env_file=None, environ={
            "WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()),
            "RUNWARE_WS_URL": fake.url, "RUNWARE_API_KEY": fake.api_key, "LIKENESS_MODEL": str(empty)})
        data = b"adapter" * 50
        runware.register(settings, url=fake.host_file("a.safetensors", data), sha256=hashlib.sha256(data).hexdigest(),
                         air="story:mira@1", name="Mira", version="1", trigger_words="mira", default_weight=0.9)
        write_json(paths.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira",
                                                      "air": "story:mira@1", "runware_status": "ready"}]})
        with running_app(settings) as url:
            yield url, workspace, empty


def test_an_unloadable_likeness_model_says_why_on_the_page_and_the_lists_and_fields_are_sane(no_likeness_app, page):
    from core.runs.paths import run_paths

    url, workspace, empty = no_likeness_app
    page.goto(url)
    page.get_by_role("tab", name="Runware Playground").click()
    # The only run is selected on its own and its LoRA filled in.
    page.wait_for_function("() => document.querySelector('#playground-lora textarea, #playground-lora input').value === 'story:mira@1'",
                           timeout=30_000)
    cfg = page.locator("#playground-cfg input")
    cfg.fill("3.5")
    assert cfg.evaluate("e => e.checkValidity()")  # guidance steps by 0.1, not 1
    assert cfg.get_attribute("max") == "20" and page.locator("#playground-seed input").get_attribute("min") == "0"
    assert page.locator("#playground-steps input").get_attribute("step") == "1"
    cfg.fill("0")

    page.locator("#playground-with-local input").uncheck()
    _pick(page, "playground-size", "128x128 (quick test)")
    page.locator("#playground-prompt textarea").fill("{trigger}, a portrait")
    page.locator("#playground-compare").click()
    progress = page.locator("#playground-progress")
    progress.get_by_text("Likeness was not scored", exact=False).wait_for(timeout=60_000)
    assert f"the folder {empty}" in progress.inner_text()
    page.locator("#playground-scores").get_by_text("Likeness was not scored", exact=False).wait_for(timeout=10_000)

    # A run made after the page loaded is listed when the tab is opened again.
    later = run_paths(workspace, "20261128-later")
    later.write_record(RunRecord(run_id=later.run_id, dataset="mira", model="selftest", trigger="mira"))
    page.get_by_role("tab", name="Publish").click()
    page.get_by_role("tab", name="Runware Playground").click()
    page.locator("#playground-run input").click()
    page.get_by_role("option", name="20261128-later").wait_for(timeout=30_000)
    page.keyboard.press("Escape")
    assert page.locator("#playground-run input").input_value() == RUN_ID  # the run shown is kept
