"""Two browsers on one app: a Stop belongs to the page that started the job (ui/long_job.py)."""

from __future__ import annotations

import pytest

from core.generation import local as generation
from core.workspace import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PROMPT = "mira, two browsers"
COUNT = 16  # tiny images, several seconds in all: long enough to press Stop elsewhere meanwhile


def wait_text(page, selector, text, timeout=120_000):
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout)


def open_generate(page, url) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Local Generate").click()
    page.locator("#gen-stop").wait_for()


def start_generating(page, seed: int) -> None:
    page.locator("#gen-prompt textarea").fill(PROMPT)
    page.locator("#gen-model input").click()
    page.get_by_role("option", name="Self-test model", exact=False).click()
    page.locator("#gen-size input").click()
    page.get_by_role("option", name="tiny 64 (self-test)").click()
    for elem_id, value in (("gen-steps", 2), ("gen-seed", seed), ("gen-count", COUNT)):
        field = page.locator(f"#{elem_id} input").first
        field.fill(str(value))
        field.press("Tab")
    page.locator("#gen-run").click()
    wait_text(page, "#gen-progress", "✅")  # the first image is saved: the job is under way


def made(workspace, seed: int) -> list[int]:
    return sorted(g.settings["seed"] for g in generation.history(workspace, limit=1000)
                  if g.settings.get("prompt") == PROMPT and seed <= g.settings["seed"] < seed + COUNT)


def test_stop_in_another_browser_leaves_this_browsers_job_running(app_url, app_workspace, browser):
    workspace = Workspace(app_workspace)
    first, second = browser.new_context(viewport={"width": 1400, "height": 1000}), browser.new_context()
    try:
        a, b = first.new_page(), second.new_page()
        open_generate(b, app_url)
        open_generate(a, app_url)
        start_generating(a, seed=100)
        b.locator("#gen-stop").click()
        b.wait_for_function("() => (document.querySelector('#gen-progress')?.innerText || '').trim() !== ''", timeout=30_000)
        a.wait_for_function("t => { const p = document.querySelector('#gen-progress')?.innerText || '';"
                            " return p.includes('✅') && p.includes(t) || p.includes('Stopped'); }",
                            arg=f"(seed {100 + COUNT - 1})", timeout=300_000)  # A's last image saved (or A stopped)
        assert "Stopped" not in a.locator("#gen-progress").inner_text()
        assert made(workspace, 100) == list(range(100, 100 + COUNT))
        assert b.locator("#gen-progress").inner_text().strip() == "Nothing is generating."  # B runs nothing of its own

        start_generating(a, seed=200)  # A's own Stop still stops A's job
        a.locator("#gen-stop").click()
        wait_text(a, "#gen-progress", "⏹ Stopped.", timeout=120_000)
        assert len(made(workspace, 200)) < COUNT  # Stop is checked at every denoising step: it may end the first image
    finally:
        first.close()
        second.close()
