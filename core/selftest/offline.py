"""The self-test's offline stand-ins: a tiny random Florence-2 and DINOv2, and loopback Hub and Runware servers.

They are the same ones the test suite uses (shipped in the repository under tests/support/), so the self-test
checks exactly what CI checks. Built models are cached under <cache>/models/ and reused.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from core.selftest.tiny_florence import build_tiny_florence
from core.selftest.tiny_dinov2 import build_tiny_dinov2
from core.selftest.loopback_hub import FakeHub
from core.selftest.loopback_runware import FakeRunware


def _cached(folder: Path, build) -> Path:
    marker = folder / ".built"
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        build(folder)
        marker.write_text("ok")
    return folder


def tiny_florence(cache_dir: Path) -> Path:
    return _cached(Path(cache_dir) / "models" / "selftest-florence2-v2", build_tiny_florence)  # v2: it says letters


def tiny_dinov2(cache_dir: Path) -> Path:
    return _cached(Path(cache_dir) / "models" / "selftest-dinov2", build_tiny_dinov2)


def hub_server():
    """A started loopback Hub and a throwaway write token for it: (server, token). Call server.stop()."""
    token = "hf_selftest" + secrets.token_hex(12)
    return FakeHub(tokens={token: "selftest"}).start(), token


def runware_server():
    """A started loopback Runware (WebSocket + image files) with a throwaway key. Call server.stop()."""
    return FakeRunware(api_key="rw-selftest-" + secrets.token_hex(12)).start()
