"""The Publish tab in a real Chromium: token check, PUBLIC warning, card editing, one click to a Hub commit."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.workspace import Workspace
from tests.support.app_server import running_app
from tests.support.browser import screenshot
from tests.support.env import free_port
from core.selftest.loopback_hub import FakeHub
from tests.support.publishing import HF_TOKEN, RUNWARE_KEY, make_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def publish_app(tmp_path_factory, cache_dir):
    from core.settings import load_settings

    from core.selftest.loopback_runware import FakeRunware

    hub = FakeHub(tokens={HF_TOKEN: "alice"}).start()
    runware = FakeRunware(api_key=RUNWARE_KEY).start()
    root = tmp_path_factory.mktemp("publish-app")
    workspace = Workspace(root).ensure()
    _, adapter, _ = make_run(workspace, samples=3)
    make_run(workspace, run_id="20261126-old", samples=1, seed=3)
    settings = load_settings(env_file=None, export=False, environ={
        "WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()),
        "HF_TOKEN": HF_TOKEN, "HF_ENDPOINT": hub.url, "RUNWARE_API_KEY": RUNWARE_KEY, "RUNWARE_WS_URL": runware.url})
    with running_app(settings) as url:
        yield url, hub, adapter, runware, workspace
    runware.stop()
    hub.stop()


def open_publish_with(page, url, adapter) -> None:
    """Open the Publish tab and point it at an adapter file (the 'another adapter' field)."""
    page.goto(url)
    page.get_by_role("tab", name="Publish").click()
    page.get_by_text("Advanced: publish another adapter file").click()
    field = page.locator("#publish-adapter textarea, #publish-adapter input").first
    field.fill(str(adapter))
    field.press("Enter")
    page.locator("#publish-chosen").get_by_text("exported adapter", exact=False).wait_for(timeout=20_000)


def test_publish_tab_from_token_check_to_a_pinned_url(publish_app, page):
    url, hub, adapter, _, _ = publish_app
    page.goto(url)
    page.get_by_role("tab", name="Publish").click()
    page.locator("#publish-check-token").click()
    page.locator("#publish-account").get_by_text("alice", exact=False).wait_for(timeout=20_000)
    assert HF_TOKEN not in page.content()

    chosen = page.locator("#publish-chosen")
    chosen.get_by_text("chosen for publishing", exact=False).wait_for(timeout=20_000)  # nothing chosen yet
    page.get_by_text("Advanced: publish another adapter file").click()
    page.locator("#publish-adapter textarea, #publish-adapter input").first.fill(str(adapter))
    page.locator("#publish-adapter textarea, #publish-adapter input").first.press("Enter")
    chosen.get_by_text("exported adapter", exact=False).wait_for(timeout=20_000)

    editor = page.locator("#publish-card-editor textarea")
    page.wait_for_function("document.querySelector('#publish-card-editor textarea').value.includes('base_model')")
    assert "instance_prompt: \"mira\"" in editor.input_value()
    page.locator("#publish-card-preview").get_by_text("Recommended strength").wait_for()

    page.locator("#publish-visibility").get_by_text("Private").click()
    page.locator("#publish-visibility-note").get_by_text("Runware cannot download it", exact=False).wait_for()

    editor.fill(editor.input_value().replace("## Trigger word", "Drawn for my story shorts.\n\n## Trigger word"))
    page.locator("#publish-card-preview").get_by_text("Drawn for my story shorts.").wait_for()
    page.locator("#publish-card-save").click()
    page.locator("#publish-card-state").get_by_text("Draft saved", exact=False).wait_for()

    page.locator("#publish-repo input, #publish-repo textarea").first.fill("mira-browser")
    page.locator("#publish-repo input, #publish-repo textarea").first.press("Enter")
    page.locator("#publish-samples").get_by_text("sample_0.png").click()  # two samples instead of three
    page.locator("#publish-button").click()
    result = page.locator("#publish-result")
    result.get_by_text("Download URL", exact=False).wait_for(timeout=60_000)
    text = result.inner_text()
    assert "alice/mira-browser" in text and "Runware can only download from a PUBLIC repo" in text
    commit = hub.head("alice/mira-browser")["oid"]
    assert f"/alice/mira-browser/resolve/{commit}/pytorch_lora_weights.safetensors" in text
    readme = hub.files("alice/mira-browser")["README.md"].decode()
    assert "Drawn for my story shorts." in readme and 'load_lora_weights("alice/mira-browser"' in readme
    assert "samples/02.png" in readme and "samples/03.png" not in readme
    assert sorted(p for p in hub.files("alice/mira-browser") if p.startswith("samples/")) == ["samples/01.png",
                                                                                              "samples/02.png"]
    assert hub.repos["alice/mira-browser"]["private"] is True
    expect(page.locator("#publish-versions")).to_contain_text("blocked")
    progress = page.locator("#publish-progress").inner_text()
    assert "Signed in as alice" in progress and "files ready" in progress
    assert HF_TOKEN not in page.content() and RUNWARE_KEY not in page.content()
    assert screenshot(page, "publish-tab").stat().st_size > 10_000


def test_a_hub_error_shows_one_sentence_and_the_next_click_finishes(publish_app, page):
    url, hub, adapter, _, _ = publish_app
    open_publish_with(page, url, adapter)
    page.locator("#publish-repo input, #publish-repo textarea").first.fill("mira-retry")
    page.locator("#publish-repo input, #publish-repo textarea").first.press("Enter")
    page.locator("#publish-runware input").uncheck()
    hub.fail("POST", r"/commit/", 503)
    page.locator("#publish-button").click()
    page.locator("#publish-progress").get_by_text("server error (503)", exact=False).wait_for(timeout=60_000)
    assert "Traceback" not in page.content()
    page.locator("#publish-button").click()
    page.locator("#publish-result").get_by_text("Download URL", exact=False).wait_for(timeout=60_000)
    assert hub.commit_count("alice/mira-retry") == 2
    screenshot(page, "publish-tab-retry")


def test_a_public_repo_is_registered_on_runware_with_its_stages_shown(publish_app, page):
    url, hub, adapter, runware, _ = publish_app
    open_publish_with(page, url, adapter)
    page.locator("#publish-repo input, #publish-repo textarea").first.fill("mira-public")
    page.locator("#publish-visibility").get_by_text("Public").click()
    page.locator("#publish-air input, #publish-air textarea").first.fill("story:mira")
    page.locator("#publish-button").click()
    result = page.locator("#publish-result")
    result.get_by_text("Runware AIR", exact=False).wait_for(timeout=90_000)
    assert "story:mira@1" in result.inner_text() and "ready" in result.inner_text()
    progress = page.locator("#publish-progress").inner_text()
    for stage in ("validated", "downloaded", "optimized", "stored", "ready"):
        assert f"Runware: {stage}" in progress
    upload = runware.tasks("modelUpload")[-1]
    assert upload["downloadURL"] == f"{hub.url}/alice/mira-public/resolve/{hub.head('alice/mira-public')['oid']}/pytorch_lora_weights.safetensors"
    expect(page.locator("#publish-versions")).to_contain_text("story:mira@1")
    assert RUNWARE_KEY not in page.content()
    screenshot(page, "publish-tab-runware")


def test_stop_during_the_runware_wait_then_publish_again_finishes(publish_app, page):
    url, hub, adapter, runware, _ = publish_app
    open_publish_with(page, url, adapter)
    page.locator("#publish-repo input, #publish-repo textarea").first.fill("mira-stop")
    page.locator("#publish-air input, #publish-air textarea").first.fill("story:stop")
    runware.stage_delay = 2.0
    try:
        page.locator("#publish-button").click()
        try:
            page.locator("#publish-progress").get_by_text("Runware: validated", exact=False).wait_for(timeout=120_000)
        except Exception:
            screenshot(page, "debug-stop")
            raise
        page.locator("#publish-stop").click()
        page.locator("#publish-progress").get_by_text("Stopped.", exact=False).wait_for(timeout=30_000)
    finally:
        runware.stage_delay = 0.01
    expect(page.locator("#publish-versions")).to_contain_text("pending")
    page.locator("#publish-button").click()
    page.locator("#publish-result").get_by_text("Runware AIR", exact=False).wait_for(timeout=60_000)
    assert "story:stop@1" in page.locator("#publish-result").inner_text()
    assert hub.commit_count("alice/mira-stop") == 2


def test_typing_in_the_card_then_switching_run_keeps_the_text_as_that_runs_draft(publish_app, page):
    url, _, _, _, workspace = publish_app
    page.goto(url)
    page.get_by_role("tab", name="Publish").click()
    page.locator("#publish-run input").click()
    page.get_by_role("option", name="20261126-old").click()
    editor = page.locator("#publish-card-editor textarea")
    page.locator("#publish-chosen").get_by_text("run 20261126-old", exact=False).wait_for(timeout=20_000)
    editor.fill("---\nbase_model: black-forest-labs/FLUX.2-klein-base-4B\n---\n\n# Old character, written by hand\n")
    page.locator("#publish-card-preview").get_by_text("Old character, written by hand").wait_for()
    page.locator("#publish-run input").click()
    page.get_by_role("option", name="20261127-mira").click()
    page.wait_for_function("!document.querySelector('#publish-card-editor textarea').value.includes('written by hand')")
    draft = workspace.runs_dir / "20261126-old" / "model_card.md"
    assert "Old character, written by hand" in draft.read_text(encoding="utf-8")
    page.locator("#publish-run input").click()
    page.get_by_role("option", name="20261126-old").click()
    page.wait_for_function("document.querySelector('#publish-card-editor textarea').value.includes('written by hand')")
    assert "edited draft" in page.locator("#publish-card-state").inner_text()


def _toast(page, text: str):
    return page.locator("[data-testid='toast-body']").filter(has_text=text).first


def test_an_empty_air_or_repo_name_is_refused_before_anything_reaches_the_hub(publish_app, page):
    url, hub, adapter, _, _ = publish_app
    before = set(hub.repos)
    open_publish_with(page, url, adapter)
    repo = page.locator("#publish-repo input, #publish-repo textarea").first
    repo.fill("mira-no-air")
    repo.press("Enter")
    page.locator("#publish-visibility").get_by_text("Public").click()
    page.locator("#publish-air input, #publish-air textarea").first.fill("")
    page.locator("#publish-button").click()
    _toast(page, "Runware needs the AIR source and id").wait_for(timeout=60_000)
    assert set(hub.repos) == before  # refused before any repo was created: no empty public repo left behind

    page.locator("#publish-air input, #publish-air textarea").first.fill("not an air")
    page.locator("#publish-button").click()
    _toast(page, "'not an air' is not a Runware AIR").wait_for(timeout=60_000)
    assert set(hub.repos) == before

    repo.fill("")
    page.locator("#publish-button").click()
    _toast(page, "The repo name is empty").wait_for(timeout=60_000)
    assert "mira-flux2-klein-lora" in page.locator("[data-testid='toast-body']").last.inner_text()
    assert set(hub.repos) == before
    assert page.locator("#publish-result .error, #publish-progress .error, #publish-repo .error").count() == 0


def test_the_tab_opens_on_the_chosen_run_lists_new_runs_and_refuses_an_unlabelled_selftest(publish_app, page):
    import shutil
    import time

    from core import storage
    from core.models import adapters
    from core.runs.paths import run_paths

    url, hub, _, _, workspace = publish_app
    made = [run_paths(workspace, "20261128-newest").root, run_paths(workspace, "20261120-tiny").root]
    try:
        # Both runs are made after the app started; the newest has no chosen checkpoint, the tiny one has.
        make_run(workspace, run_id="20261128-newest", samples=1, seed=11)
        tiny, tiny_adapter, _ = make_run(workspace, run_id="20261120-tiny", samples=1, seed=12)
        record = tiny.read_record()
        record.model = "selftest"
        tiny.write_record(record)
        storage.write_json(tiny.chosen_json, {"run_id": tiny.run_id, "step": 4, "strength": 0.9, "trigger": "mira",
                                              "adapter_path": str(tiny_adapter), "sha256": adapters.sha256(tiny_adapter),
                                              "chosen_at": time.time()})
        page.goto(url)
        page.get_by_role("tab", name="Publish").click()
        chosen = page.locator("#publish-chosen")
        chosen.get_by_text("step 4 of run 20261120-tiny", exact=False).wait_for(timeout=30_000)
        chosen.get_by_text("Self-test adapter.", exact=False).first.wait_for()
        page.locator("#publish-run input").click()
        page.get_by_role("option", name="20261128-newest").wait_for()  # made after the app started: listed
        page.keyboard.press("Escape")

        page.locator("#publish-runware input").uncheck()
        page.locator("#publish-button").click()
        _toast(page, "trained on the self-test model").wait_for(timeout=60_000)
        assert "alice/tiny-lora" not in hub.repos and "alice/mira-flux2-klein-lora" not in hub.repos
        assert page.locator("#publish-result").inner_text().strip() == ""

        repo = page.locator("#publish-repo input, #publish-repo textarea").first
        repo.fill("tiny-lora")
        repo.press("Enter")
        page.locator("#publish-selftest input").check()
        page.locator("#publish-button").click()
        page.locator("#publish-result").get_by_text("Download URL", exact=False).wait_for(timeout=60_000)
        assert "Self-test adapter." in hub.files("alice/tiny-lora")["README.md"].decode()

        # A run picked here by hand stays picked when the tab is opened again.
        page.locator("#publish-run input").click()
        page.get_by_role("option", name="20261127-mira").click()
        chosen.get_by_text("run 20261127-mira", exact=False).wait_for(timeout=30_000)
        page.get_by_role("tab", name="Train").click()
        page.get_by_role("tab", name="Publish").click()
        page.wait_for_timeout(5_000)  # the tab-open handlers have run
        assert page.locator("#publish-run input").input_value() == "20261127-mira"
    finally:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
