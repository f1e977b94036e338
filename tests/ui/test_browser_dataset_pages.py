"""A real Chromium on the Dataset tab's edges (issue 14): importing the same pictures twice, a folder that does not
exist, a long reason, removing several pictures and restoring them, deleting a dataset only after a second press,
the number fields' ranges, and the dataset list read from disk when a tab is opened."""

import pytest
from playwright.sync_api import expect

from core.dataset import datasets
from core.workspace import Workspace
from tests.support.images import photo_image
from tests.ui.test_browser_dataset import _wait_idle, _wait_loaded, _wait_text

pytestmark = pytest.mark.browser


def test_reimport_remove_several_restore_and_delete_with_confirmation(app_url, app_workspace, page, tmp_path):
    workspace = Workspace(app_workspace)
    files = []
    for name, seed in (("a", 90), ("b", 91), ("c", 92)):
        photo_image((320, 240), seed=seed).save(tmp_path / f"{name}.png")
        files.append(str(tmp_path / f"{name}.png"))
    (tmp_path / "notes.docx").write_text("not a picture")

    page.goto(app_url)
    _wait_loaded(page)
    epochs = page.locator("#dataset-epochs input[type=number]")
    assert [epochs.get_attribute(a) for a in ("min", "max", "step")] == ["1", "1000", "1"]
    batch = page.locator("#dataset-batch input[type=number]")
    assert [batch.get_attribute(a) for a in ("min", "max", "step")] == ["1", "16", "1"]

    page.locator("#dataset-new-name input, #dataset-new-name textarea").first.fill("reimport")
    page.locator("#dataset-create").click()
    page.locator("#dataset-status").get_by_text("reimport", exact=True).wait_for(timeout=60_000)
    status = page.locator("#dataset-import-status")
    page.locator("#dataset-upload input[type=file]").set_input_files(files)
    page.locator("#dataset-upload").get_by_text("c", exact=True).wait_for(timeout=60_000)  # the file list shows stems
    page.locator("#dataset-import").click()
    expect(status).to_contain_text("3 image(s) imported into 'reimport'", timeout=60_000)
    _wait_idle(page)

    # The same pictures again (and a file that is no picture): nothing is copied, the page says so.
    page.locator("#dataset-upload input[type=file]").set_input_files(files + [str(tmp_path / "notes.docx")])
    page.locator("#dataset-upload").get_by_text("notes", exact=True).wait_for(timeout=60_000)
    page.locator("#dataset-import").click()
    expect(status).to_contain_text("3 already in the dataset, skipped", timeout=60_000)
    assert "0 image(s) imported" in status.inner_text()
    dataset = datasets.open_dataset(workspace, "reimport")
    assert [i.stem for i in dataset.items()] == ["a", "b", "c"]
    report = page.locator("#dataset-import-report")
    expect(report).to_contain_text("already in the dataset as a", timeout=60_000)
    assert "GIF, BMP or TIFF" in report.inner_text()  # the whole reason is readable, every accepted format named
    cut = report.locator("td").evaluate_all("cells => cells.filter(c => c.scrollWidth > c.clientWidth + 1).length")
    assert cut == 0, "a cell of the import report is cut off"

    # A folder that does not exist: said so, no success mark.
    page.locator("#dataset-folder input, #dataset-folder textarea").first.fill(str(tmp_path / "no such folder"))
    page.locator("#dataset-import").click()
    expect(status).to_contain_text("does not exist", timeout=60_000)
    assert "✅" not in status.inner_text() and "⛔" in status.inner_text()
    page.locator("#dataset-folder input, #dataset-folder textarea").first.fill("")
    _wait_idle(page)

    # Select two pictures by clicking them, remove both at once; the image count follows.
    thumbs = page.locator("#dataset-gallery button.thumbnail-item")
    expect(thumbs).to_have_count(3, timeout=60_000)
    picked = page.locator("#dataset-remove-pick")
    thumbs.nth(0).click()
    expect(picked).to_contain_text("a", timeout=60_000)
    _wait_idle(page)
    thumbs.nth(2).click()
    expect(picked).to_contain_text("c", timeout=60_000)
    _wait_idle(page)
    page.locator("#dataset-remove-image").click()
    expect(page.locator("#dataset-image-info")).to_contain_text("Removed a, c", timeout=60_000)
    expect(page.locator("#dataset-status")).to_contain_text("1 image(s)", timeout=60_000)
    expect(thumbs).to_have_count(1, timeout=60_000)
    assert [i.stem for i in dataset.items()] == ["b"]

    # Restore one of them from the trash.
    _wait_idle(page)
    page.locator("#dataset-trash-pick input").click()
    page.get_by_role("option", name="a · removed", exact=False).click()
    page.keyboard.press("Escape")
    page.locator("#dataset-restore").click()
    expect(page.locator("#dataset-status")).to_contain_text("2 image(s)", timeout=60_000)
    expect(thumbs).to_have_count(2, timeout=60_000)
    assert [i.stem for i in dataset.items()] == ["a", "b"]
    assert [r.stem for r in datasets.removed_images(workspace, "reimport")] == ["c"]

    # Delete asks first; "Keep it" keeps it; the second press moves it to the trash.
    _wait_idle(page)
    page.locator("#dataset-delete").click()
    expect(page.locator("#dataset-delete-note")).to_contain_text("Delete reimport", timeout=60_000)
    assert "reimport" in datasets.list_names(workspace)
    page.locator("#dataset-delete-cancel").click()
    expect(page.locator("#dataset-delete-row")).to_be_hidden(timeout=60_000)
    assert "reimport" in datasets.list_names(workspace)
    page.locator("#dataset-delete").click()
    page.locator("#dataset-delete-confirm").click()
    expect(page.locator("#dataset-delete-row")).to_be_hidden(timeout=60_000)
    page.wait_for_function("() => document.querySelector('#dataset-picker input').value !== 'reimport'", timeout=60_000)
    assert "reimport" not in datasets.list_names(workspace)
    assert list((workspace.trash_dir / "datasets").glob("*/reimport/images/a.png"))  # recoverable


def test_dataset_lists_are_read_again_when_a_tab_is_opened(app_url, app_workspace, page):
    workspace = Workspace(app_workspace).ensure()
    datasets.create(workspace, "list-a")
    page.goto(app_url)
    _wait_loaded(page)
    page.locator("#dataset-picker input").click()
    page.get_by_role("option", name="list-a", exact=True).click()
    page.locator("#dataset-status").get_by_text("list-a", exact=True).wait_for(timeout=60_000)
    page.get_by_role("tab", name="Caption Editor").click()
    _wait_text(page, "#caption-dataset", "list-a")

    datasets.create(workspace, "list-b")  # by the CLI, after the page loaded
    photo_image((64, 64), seed=120).save(datasets.open_dataset(workspace, "list-a").images_dir / "late.png")
    page.get_by_role("tab", name="Dataset").click()
    expect(page.locator("#dataset-status")).to_contain_text("1 image(s)", timeout=60_000)  # the count as on disk now
    _wait_idle(page)
    page.locator("#dataset-picker input").click()
    expect(page.get_by_role("option", name="list-b", exact=True)).to_be_visible(timeout=60_000)
    page.keyboard.press("Escape")
    _wait_idle(page)

    page.get_by_role("tab", name="Caption Editor").click()
    _wait_text(page, "#caption-dataset", "list-a")
    _wait_idle(page)
    datasets.delete(workspace, "list-a")  # the open dataset goes away behind the page's back
    page.get_by_role("tab", name="Train").click()
    page.get_by_role("tab", name="Caption Editor").click()
    page.wait_for_function("() => { const t = document.querySelector('#caption-dataset')?.innerText || '';"
                           " return t.includes('Dataset:') && !t.includes('list-a'); }", timeout=60_000)
    _wait_idle(page)
    assert page.locator("[data-testid='toast-body']").filter(has_text="no dataset named 'list-a'").count() == 0
