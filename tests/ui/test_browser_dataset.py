"""A real Chromium: import pictures by upload, check the dataset, remove an image; edit captions by keyboard."""

import time

import pytest
from playwright.sync_api import expect

from core.captions import store as captions
from core.dataset import datasets
from core.workspace import Workspace
from tests.support.browser import screenshot
from tests.support.images import photo_image

pytestmark = pytest.mark.browser


def _pick_dataset(page, name):
    page.get_by_role("tab", name="Dataset").click()
    page.locator("#dataset-picker input").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.locator("#dataset-status").get_by_text(name, exact=True).wait_for(timeout=60_000)


def _wait_loaded(page):
    """The page's load events have run: the Dataset tab's status line is filled in."""
    page.wait_for_function("(document.querySelector('#dataset-status')?.innerText || '').trim() !== ''", timeout=60_000)
    _wait_idle(page)


def _wait_idle(page):
    """No Gradio event is running: no component shows a pending or generating status."""
    page.wait_for_function("!document.querySelector('.pending, .generating')", timeout=60_000)


def _wait_text(page, selector, text, timeout=60_000):
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)", arg=[selector, text], timeout=timeout)


def test_import_by_upload_check_and_remove_an_image(app_url, app_workspace, page, tmp_path):
    files = []
    for i in range(3):
        path = tmp_path / f"photo {i}.jpg"
        photo_image((800, 600), seed=60 + i).save(path)
        files.append(path)
    (tmp_path / "photo 0.txt").write_text("browser, 미라 standing", encoding="utf-8")
    files.append(tmp_path / "photo 0.txt")
    (tmp_path / "fake.png").write_text("not an image")
    files.append(tmp_path / "fake.png")

    page.goto(app_url)
    _wait_loaded(page)
    page.locator("#dataset-new-name input, #dataset-new-name textarea").first.fill("browser-import")
    page.locator("#dataset-create").click()
    page.locator("#dataset-status").get_by_text("browser-import", exact=True).wait_for(timeout=60_000)
    page.locator("#dataset-upload input[type=file]").set_input_files([str(f) for f in files])
    page.locator("#dataset-upload").get_by_text("fake", exact=True).wait_for(timeout=60_000)
    page.locator("#dataset-import").click()
    page.locator("#dataset-import-status").get_by_text("imported into 'browser-import'").wait_for(timeout=60_000)
    assert "3 image(s) imported" in page.locator("#dataset-import-status").inner_text()
    report = page.locator("#dataset-import-report").inner_text()
    assert "fake.png" in report and "rejected" in report and "not an image" in report

    page.locator("#dataset-check").click()
    page.locator("#dataset-check-summary").get_by_text("Not ready to train").wait_for(timeout=60_000)
    table = page.locator("#dataset-check-table")
    assert table.locator("tr[data-level=error]").count() == 2  # two images without captions
    table.locator("img").first.evaluate("img => img.decode()")  # thumbnails are served
    assert table.locator("img").first.evaluate("img => img.naturalWidth") > 0
    screenshot(page, "dataset-tab")

    dataset = datasets.open_dataset(Workspace(app_workspace), "browser-import")
    assert captions.read(dataset, "photo_0") == "browser, 미라 standing"
    _wait_text(page, "#dataset-status", "3 image(s)", timeout=60_000)
    assert [i.stem for i in dataset.items()] == ["photo_0", "photo_1", "photo_2"]

    # Remove photo_1: once the gallery shows the three images, click its thumbnail, wait for the selection to show.
    thumbs = page.locator("#dataset-gallery button.thumbnail-item")
    expect(thumbs).to_have_count(3, timeout=60_000)
    _wait_idle(page)
    info = page.locator("#dataset-image-info")
    thumbs.nth(1).click()
    expect(info).to_contain_text("photo_1", timeout=60_000)
    page.locator("#dataset-remove-image").click()
    expect(info).to_contain_text("Removed photo_1", timeout=60_000)
    expect(thumbs).to_have_count(2, timeout=60_000)
    assert [i.stem for i in dataset.items()] == ["photo_0", "photo_2"]
    assert not (dataset.images_dir / "photo_1.png").exists() and not (dataset.images_dir / "photo_1.txt").exists()
    assert captions.read(dataset, "photo_0") == "browser, 미라 standing"
    assert list((Workspace(app_workspace).trash_dir / "images").glob("*photo_1*/photo_1.png"))  # recoverable


def test_caption_editing_by_keyboard_reaches_the_disk_and_undo_works(app_url, app_workspace, page):
    workspace = Workspace(app_workspace).ensure()
    dataset = datasets.create(workspace, "browser-captions", trigger="mira")
    for i in range(3):
        photo_image((320, 240), seed=70 + i).save(dataset.images_dir / f"img{i}.png")
    captions.save(dataset, "img0", "mira, a girl in a red dress")
    captions.save(dataset, "img2", "mira, red dress, sitting")

    page.goto(app_url)
    _pick_dataset(page, "browser-captions")
    page.get_by_role("tab", name="Caption Editor").click()
    box = page.locator("#caption-text textarea")
    page.locator("#caption-status").get_by_text("img0 (1/3)").wait_for(timeout=60_000)
    assert box.input_value() == "mira, a girl in a red dress"

    page.keyboard.press("Alt+KeyJ")  # jump to the caption that needs work: img1 is empty
    page.locator("#caption-status").get_by_text("img1 (2/3)").wait_for(timeout=60_000)
    box.click()
    box.type("미라 웃는 얼굴, standing")
    page.keyboard.press("Alt+ArrowDown")  # leaving the image saves it
    page.locator("#caption-status").get_by_text("img2 (3/3)").wait_for(timeout=60_000)
    assert captions.read(dataset, "img1") == "미라 웃는 얼굴, standing"
    box.press("End")
    box.type(", smiling")
    page.keyboard.press("Control+KeyS")
    page.locator("#caption-status").get_by_text("saved ✓").wait_for(timeout=60_000)
    assert captions.read(dataset, "img2") == "mira, red dress, sitting, smiling"
    page.keyboard.press("Alt+ArrowUp")
    page.locator("#caption-status").get_by_text("img1 (2/3)").wait_for(timeout=60_000)

    page.get_by_text("Find and replace · prefix / suffix · trigger word").click()
    page.locator("#caption-find input, #caption-find textarea").first.fill("red dress")
    page.locator("#caption-replace input, #caption-replace textarea").first.fill("blue coat")
    page.locator("#caption-preview-replace").click()
    _wait_text(page, "#caption-changes", "mira, blue coat, sitting, smiling")
    assert captions.read(dataset, "img0") == "mira, a girl in a red dress"  # a preview writes nothing
    screenshot(page, "caption-tab-preview")
    page.locator("#caption-apply").click()
    page.locator("#caption-status").get_by_text("applied to 2 caption(s)").wait_for(timeout=60_000)
    assert captions.read(dataset, "img0") == "mira, a girl in a blue coat"
    box.click()
    page.keyboard.press("Alt+KeyZ")
    page.locator("#caption-status").get_by_text("undid the last change").wait_for(timeout=60_000)
    assert captions.read(dataset, "img0") == "mira, a girl in a red dress"
    assert captions.read(dataset, "img2") == "mira, red dress, sitting, smiling"
    assert captions.read(dataset, "img1") == "미라 웃는 얼굴, standing"
    screenshot(page, "caption-tab")


# Fill the name and press Create from inside the page, on the first animation frame where both exist: before the
# page-load events (the picker's own refresh among them) have answered.
CREATE_AT_ONCE = """name => new Promise(resolve => {
  const go = () => {
    const box = document.querySelector('#dataset-new-name input, #dataset-new-name textarea');
    const button = document.querySelector('#dataset-create');
    if (!box || !button) { requestAnimationFrame(go); return; }
    box.value = name;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    button.click();
    resolve();
  };
  go();
})"""

# Count every change under #dataset-status: each run of the picker's listeners redraws it (pending, then done).
WATCH_STATUS = """() => {
  window.statusChanges = 0;
  new MutationObserver(records => { window.statusChanges += records.length; })
    .observe(document.querySelector('#dataset-status'), {subtree: true, childList: true, attributes: true, characterData: true});
}"""


@pytest.fixture()
def fresh_app(tmp_path, cache_dir):
    """The app on an empty workspace: its page is built with no dataset in the picker."""
    from core.settings import load_settings
    from tests.support.app_server import running_app
    from tests.support.env import free_port

    root = tmp_path / "fresh-workspace"
    root.mkdir()
    settings = load_settings(env_file=None, environ={"WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir),
                                                     "APP_PORT": str(free_port())})
    with running_app(settings) as url:
        yield url, Workspace(root)


def test_create_pressed_before_the_page_finished_loading_settles_on_the_new_dataset(fresh_app, page):
    url, workspace = fresh_app
    for name in ("alpha", "zeta"):  # made after the app started (e.g. by the CLI): the page-load refresh lists them
        datasets.create(workspace, name)
    page.goto(url, wait_until="commit")
    page.evaluate(CREATE_AT_ONCE, "early-mira")
    page.locator("#dataset-status").get_by_text("early-mira", exact=True).wait_for(timeout=60_000)
    page.evaluate(WATCH_STATUS)
    # Settled: a quiet spell of 8 s within two minutes. The endless loop redrew the status every second or so.
    quiet_since, last_count, deadline = time.monotonic(), 0, time.monotonic() + 120
    while time.monotonic() - quiet_since < 8:
        assert time.monotonic() < deadline, f"the dataset picker never settled: {last_count} redraws of its status"
        page.wait_for_timeout(500)
        count = page.evaluate("window.statusChanges")
        if count != last_count:
            quiet_since, last_count = time.monotonic(), count
    assert page.locator("#dataset-picker input").input_value() == "early-mira"  # the page-load refresh did not undo it
    assert "early-mira" in page.locator("#dataset-status").inner_text()
    assert datasets.list_names(workspace) == ["alpha", "early-mira", "zeta"]
