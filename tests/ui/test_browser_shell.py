"""A real Chromium opens the app and sees the header and the seven tabs."""

import pytest

from tests.support.browser import screenshot
from ui.shell import TABS

pytestmark = pytest.mark.browser


def test_the_app_shows_seven_tabs_and_the_machine_summary(app_url, page):
    page.goto(app_url)
    header = page.locator("#app-header")
    header.get_by_text("MLX", exact=False).wait_for(timeout=30_000)
    assert "mflux 0.24.0" in header.inner_text()
    tab_buttons = page.get_by_role("tab")
    labels = [tab_buttons.nth(i).inner_text().strip() for i in range(tab_buttons.count())]
    assert labels == [label for label, _, _ in TABS]
    for label, _, _ in TABS:
        page.get_by_role("tab", name=label).click()
        assert page.get_by_role("tab", name=label).get_attribute("aria-selected") == "true"
    assert screenshot(page, "shell").stat().st_size > 10_000


def test_an_error_is_one_sentence_in_a_toast_and_leaves_the_widgets_usable(app_url, page):
    """Create with an empty name used to paint a red "Error" box over the Name box that needed fixing."""
    page.goto(app_url)
    page.locator("#dataset-create").click()
    toast = page.locator("[data-testid='toast-body']").filter(has_text="The dataset name is empty")
    toast.first.wait_for(timeout=30_000)
    # No output of the event is covered: Gradio marks an errored output's wrapper with an error status box.
    name_box = page.locator("#dataset-new-name")
    assert name_box.locator(".error").count() == 0
    name_box.locator("textarea, input").first.fill("after-the-error")  # the box can be typed into at once
    page.locator("#dataset-create").click()
    from playwright.sync_api import expect

    expect(page.locator("#dataset-picker input")).to_have_value("after-the-error", timeout=30_000)
