"""Launch Chromium for Playwright: the system's (Debian's /usr/bin/chromium) when there is one.

Never `playwright install` on Linux here: .ci/run installs Debian's chromium. On a Mac without a
system Chromium, `make test` has fetched Playwright's own browser, which is used when none is found.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                  "/Applications/Chromium.app/Contents/MacOS/Chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch_browser(playwright):
    executable = chromium_path()
    if executable is None and os.uname().sysname == "Linux":
        raise RuntimeError("No system Chromium found: install Debian's chromium (`.ci/run` does) or set CHROMIUM_PATH.")
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-artifacts/NAME.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
