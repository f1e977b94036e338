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
