"""Chromium for Playwright: the system's (Debian's /usr/bin/chromium) when there is one.

`python -m tests.support.browser` (run by `make test`) gets one the way the platform allows: Debian/Ubuntu's
chromium and fonts-noto-cjk through apt-get (as root or with sudo), Playwright's own on a Mac; elsewhere it prints
BROWSER_MISSING, and the browser tests then fail with that same sentence. Playwright's own browser is never
fetched on Linux.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

BROWSER_MISSING = (
    "No Chromium was found for the browser tests: install Chromium and a CJK font with your system's package manager "
    "(Debian/Ubuntu: `sudo apt-get install chromium fonts-noto-cjk`) or set CHROMIUM_PATH to a Chromium executable, "
    "then run `make test` again."
)
APT_PACKAGES = ["chromium", "fonts-noto-cjk"]

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
    if executable is None and platform.system() != "Darwin":  # on a Mac, Playwright's own (make test fetched it)
        raise RuntimeError(BROWSER_MISSING)
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def ensure_browser() -> None:
    """Get a Chromium for the browser tests where none is found; say what to run where that is not possible."""
    if chromium_path() is not None:
        return
    if platform.system() == "Darwin":
        subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=True)
        return
    if platform.system() == "Linux" and shutil.which("apt-get") and (os.geteuid() == 0 or shutil.which("sudo")):
        apt = ([] if os.geteuid() == 0 else ["sudo"]) + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
        print(f"Installing {' and '.join(APT_PACKAGES)} for the browser tests (apt-get)…", flush=True)
        if (subprocess.run(apt + ["update", "-qq"]).returncode == 0
                and subprocess.run(apt + ["install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES]).returncode == 0
                and chromium_path() is not None):
            return
    print(BROWSER_MISSING, file=sys.stderr, flush=True)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-artifacts/NAME.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


if __name__ == "__main__":
    ensure_browser()


# True once the Train tab's loss plot has drawn a line (Gradio 6.31's LinePlot renders Vega line marks; a plot
# built from an empty frame used to stay blank with a "series -Infinity" legend).
PLOT_DRAWN = """() => {
    const plot = document.querySelector('#train-loss-plot');
    if (!plot || plot.innerText.includes('Infinity')) return false;
    return [...plot.querySelectorAll('.mark-line path')].some(p => (p.getAttribute('d') || '').includes('L'));
}"""
