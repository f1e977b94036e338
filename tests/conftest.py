"""Shared fixtures: an isolated workspace and cache, the self-test model, the launched app, a browser.

Everything runs offline on real components: real mflux on the self-test model, the real Gradio
server, Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Before anything imports mlx, gradio or huggingface_hub.
os.environ["MLX_DISABLE_COMPILE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_XET"] = "1"  # uploads through the LFS API, which tests/support/fake_hub.py speaks
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="hf-home-"))  # never the person's own cache
for _secret in ("HF_TOKEN", "RUNWARE_API_KEY", "APP_PASSWORD", "APP_USERNAME", "WORKSPACE_DIR", "APP_HOST", "APP_PORT"):
    os.environ.pop(_secret, None)

import pytest  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.app_server import running_app  # noqa: E402
from tests.support.browser import launch_browser  # noqa: E402
from tests.support.env import free_port  # noqa: E402


# Fixtures that train or generate with real mflux. A test that uses one (directly or through another fixture)
# must be marked `slow`, so that `-m "not slow"` stays quick; collection stops with the list otherwise.
TRAINS_OR_GENERATES = {"trained_run", "completed_run"}


def pytest_collection_modifyitems(config, items):
    unmarked = [
        item.nodeid for item in items
        if TRAINS_OR_GENERATES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            f"These tests train or generate with real mflux ({', '.join(sorted(TRAINS_OR_GENERATES))}) but are not "
            "marked slow; add @pytest.mark.slow to each:\n  " + "\n  ".join(unmarked)
        )


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def selftest_model_dir(cache_dir) -> Path:
    from core.models import selftest_model

    return selftest_model.ensure(cache_dir)


@pytest.fixture()
def workspace_dir(tmp_path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    return root


@pytest.fixture()
def settings(workspace_dir, cache_dir):
    from core.settings import load_settings

    return load_settings(env_file=None, environ={"WORKSPACE_DIR": str(workspace_dir), "APP_CACHE_DIR": str(cache_dir)})


@pytest.fixture()
def workspace(settings):
    from core.workspace import Workspace

    return Workspace(settings.workspace).ensure()


@pytest.fixture(scope="session")
def app_workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("app-workspace")


@pytest.fixture(scope="session")
def app_url(app_workspace, cache_dir, selftest_model_dir, likeness_model_dir):
    """The real app, launched once per session on a free loopback port (likeness with the tiny DINOv2)."""
    from core.settings import load_settings

    settings = load_settings(
        env_file=None,
        environ={"WORKSPACE_DIR": str(app_workspace), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()),
                 "LIKENESS_MODEL": str(likeness_model_dir)},
    )
    with running_app(settings) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture()
def fake_runware():
    """A loopback Runware WebSocket API (tests/support/fake_runware.py) for the real runware-sdk."""
    from core.selftest.loopback_runware import FakeRunware

    with FakeRunware() as fake:
        yield fake


@pytest.fixture()
def runware_settings(settings, fake_runware):
    """Settings pointing the app's Runware calls at the loopback server, with its API key."""
    from dataclasses import replace

    from core.settings import register_secret

    register_secret("RUNWARE_API_KEY", fake_runware.api_key)
    return replace(settings, runware_ws_url=fake_runware.url, runware_api_key=fake_runware.api_key)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, selftest_model_dir):
    """A self-test run trained once per session (3 iterations, checkpoints at steps 0-3); copy it with
    tests.support.runs.copy_run before changing anything in it."""
    from core.workspace import Workspace
    from tests.support.runs import train_selftest_run

    workspace = Workspace(tmp_path_factory.mktemp("trained-run-workspace")).ensure()
    return train_selftest_run(workspace, selftest_model_dir)


@pytest.fixture()
def run_copy(trained_run, workspace):
    from tests.support.runs import copy_run

    return copy_run(trained_run, workspace)


@pytest.fixture(scope="session")
def likeness_model_dir(tmp_path_factory):
    """A tiny random DINOv2 in a folder: the LIKENESS_MODEL of the settings that score likeness."""
    from core.selftest.tiny_dinov2 import build_tiny_dinov2

    return build_tiny_dinov2(tmp_path_factory.mktemp("tiny-dinov2"))
