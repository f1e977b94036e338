"""A real Chromium on the Caption Editor's edges (issue 14): it names the open dataset, Apply without a preview leaves
the editor as it was, an unsaved caption asks before the page is left, and a failed Florence-2 download ends in one
sentence naming the host actually used (HF_ENDPOINT)."""

import pytest
from playwright.sync_api import expect

from core.captions import store as captions
from core.dataset import datasets
from core.workspace import Workspace
from tests.support.images import photo_image
from tests.ui.test_browser_dataset import _wait_idle, _wait_text

pytestmark = pytest.mark.browser

# Ask the page whether leaving it now would be held up by a beforeunload handler (what a reload would do).
WOULD_ASK = """() => { const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented; }"""


@pytest.fixture()
def mirror_app(tmp_path, cache_dir):
    """The app with HF_ENDPOINT pointing at a mirror nobody answers, on a workspace of its own."""
    from core.settings import load_settings
    from tests.support.app_server import running_app
    from tests.support.env import free_port

    root = tmp_path / "mirror-workspace"
    root.mkdir()
    mirror = f"http://127.0.0.1:{free_port()}"
    settings = load_settings(env_file=None, export=False, environ={
        "WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()), "HF_ENDPOINT": mirror,
        "HF_HUB_CACHE": str(tmp_path / "hub-cache")})
    with running_app(settings) as url:
        yield url, Workspace(root).ensure(), mirror


def test_caption_editor_names_its_dataset_keeps_the_editor_and_guards_unsaved_text(mirror_app, page):
    url, workspace, mirror = mirror_app
    dataset = datasets.create(workspace, "cap-mira", trigger="mira")
    for i in range(3):
        photo_image((160, 120), seed=110 + i).save(dataset.images_dir / f"img{i}.png")
    captions.save(dataset, "img0", "mira, a girl in a red dress")
    captions.save(dataset, "img1", "mira, sitting")

    page.goto(url)
    _wait_text(page, "#dataset-status", "cap-mira")
    page.get_by_role("tab", name="Caption Editor").click()
    page.locator("#caption-status").get_by_text("img0 (1/3)").wait_for(timeout=60_000)
    expect(page.locator("#caption-dataset")).to_contain_text("Dataset: cap-mira", timeout=60_000)
    _wait_idle(page)

    # Apply without a preview: one toast; the gallery, the image and the caption stay, no red box.
    box = page.locator("#caption-text textarea")
    page.get_by_text("Find and replace · prefix / suffix · trigger word").click()
    page.locator("#caption-apply").click()
    page.locator("[data-testid='toast-body']").filter(has_text="Preview the changes first").first.wait_for(timeout=60_000)
    _wait_idle(page)
    expect(page.locator("#caption-gallery button.thumbnail-item")).to_have_count(3)
    assert page.locator("#caption-image img").count() == 1
    assert box.input_value() == "mira, a girl in a red dress"
    for elem_id in ("caption-gallery", "caption-image", "caption-text", "caption-status"):
        assert page.locator(f"#{elem_id} .error").count() == 0, elem_id

    # An edit not yet saved: leaving the page asks first; once saved, it does not.
    assert page.evaluate(WOULD_ASK) is False
    box.click()
    box.press("End")
    box.type(", smiling")
    assert page.evaluate(WOULD_ASK) is True
    page.keyboard.press("Control+KeyS")
    page.locator("#caption-status").get_by_text("saved ✓").wait_for(timeout=60_000)
    assert captions.read(dataset, "img0") == "mira, a girl in a red dress, smiling"
    assert page.evaluate(WOULD_ASK) is False

    # Auto-caption with a model that cannot be downloaded: the status ends in the sentence, naming the mirror.
    page.get_by_text("Auto-caption with Florence-2").click()
    page.locator("#caption-model input, #caption-model textarea").first.fill("alice/florence-missing")
    page.locator("#caption-auto").click()
    status = page.locator("#caption-auto-status")
    expect(status).to_contain_text(f"could not be downloaded from {mirror}", timeout=120_000)
    text = status.inner_text()
    assert "Downloading" not in text and "⛔" in text and "HF_ENDPOINT" in text
    assert "huggingface.co" not in text
