"""Secrets never leave the settings: the whole pipeline runs with HF_TOKEN and RUNWARE_API_KEY set, then every file
it wrote, everything the loopback Hub and Runware received, the log (at DEBUG) and the app's pages are searched for
the secret values."""

from __future__ import annotations

import logging
import urllib.request
import zipfile
from pathlib import Path

import pytest

from core.progress import drain
from tests.support.app_server import running_app
from tests.support.env import free_port
from core.selftest.loopback_hub import FakeHub

pytestmark = pytest.mark.slow

HF_SECRET = "hf_PipelineSecretToken9876543210zyxw"
RW_SECRET = "rw-pipeline-secret-key-5432109876abc"
SECRETS = (HF_SECRET, RW_SECRET)


def files_containing(root: Path, needles: tuple[str, ...]) -> list[str]:
    """Files under `root` holding any needle, looking inside zips too (mflux checkpoints are compressed zips)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            blobs = {str(path): path.read_bytes()}
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    blobs.update({f"{path}!{n}": archive.read(n) for n in archive.namelist()})
            found += [f"{where}: {needle[:6]}…" for where, data in blobs.items() for needle in needles if needle.encode() in data]
    return found


def publish_to(hub: FakeHub, runware):
    """The self-test's publish stage, aimed at servers this test can inspect afterwards."""
    def stage(run) -> str:
        from dataclasses import replace

        from core.publishing import publish

        run.settings = replace(run.settings, hf_token=HF_SECRET, hf_endpoint=hub.url, runware_api_key=RW_SECRET,
                               runware_ws_url=runware.url)
        request = publish.PublishRequest(run.data["run_id"], repo_id="secret-lora", air="secret:mira",
                                         allow_selftest=True)
        version = drain(publish.publish(run.settings, request, cancel=run.cancel))
        assert version is not None and version.runware_status == "ready", version
        run.data["air"] = version.air
        return "published"
    return stage


def test_no_secret_in_any_file_upload_task_or_log_of_a_whole_pipeline(settings, workspace, monkeypatch):
    from core.selftest import runner as selftest
    from core.log import setup_logging
    from core.selftest.runner import Stage
    from core.selftest.stages import STAGES
    from core.settings import load_settings
    from core.selftest.loopback_runware import FakeRunware

    monkeypatch.setenv("HF_TOKEN", HF_SECRET)  # also in every subprocess's environment (the training worker)
    monkeypatch.setenv("RUNWARE_API_KEY", RW_SECRET)
    base = load_settings(env_file=None, export=False, environ={
        "WORKSPACE_DIR": str(settings.workspace), "APP_CACHE_DIR": str(settings.cache_dir),
        "HF_TOKEN": HF_SECRET, "RUNWARE_API_KEY": RW_SECRET})
    assert base.hf_token == HF_SECRET and base.runware_api_key == RW_SECRET
    log_file = setup_logging(workspace.logs_dir, level=logging.DEBUG, console=False)
    hub = FakeHub(tokens={HF_SECRET: "alice"}).start()
    runware = FakeRunware(api_key=RW_SECRET).start()
    try:
        stages = tuple(Stage(s.name, s.title, publish_to(hub, runware), s.needs) if s.name == "publish" else s
                       for s in STAGES)
        report = drain(selftest.run(base, stages=stages, keep=True))
        assert report.ok, report.lines()
        root = Path(report.workspace)
        logging.getLogger("core.test").debug("pipeline done")
        for handler in logging.getLogger().handlers:
            handler.flush()

        assert log_file.is_file() and "pipeline done" in log_file.read_text(encoding="utf-8")
        assert list(root.rglob("*.safetensors")) and list(root.rglob("*.zip")) and list(root.rglob("events.jsonl"))
        assert files_containing(root, SECRETS) == []  # datasets, run folders, exports, cards, reports
        assert files_containing(settings.workspace, SECRETS) == []  # incl. outputs/logs/app.log
        uploaded = hub.files("alice/secret-lora")
        assert "README.md" in uploaded and "pytorch_lora_weights.safetensors" in uploaded
        for name, data in uploaded.items():
            assert not any(s.encode() in data for s in SECRETS), name
        assert not any(s.encode() in hub.received_bytes() for s in SECRETS)  # request lines and bodies
        assert runware.tasks("modelUpload") and runware.tasks("imageInference")
        assert not any(s in repr(task) for task in runware.received for s in SECRETS)
    finally:
        runware.stop()
        hub.stop()
        logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers if not getattr(h, "_lora_app", False)]


@pytest.mark.browser
def test_no_secret_in_the_pages_the_app_serves(tmp_path, cache_dir, page):
    from core.settings import load_settings

    hub = FakeHub(tokens={HF_SECRET: "alice"}).start()
    settings = load_settings(env_file=None, export=False, environ={
        "WORKSPACE_DIR": str(tmp_path / "ws"), "APP_CACHE_DIR": str(cache_dir), "APP_PORT": str(free_port()),
        "HF_TOKEN": HF_SECRET, "HF_ENDPOINT": hub.url, "RUNWARE_API_KEY": RW_SECRET})
    try:
        with running_app(settings) as url:
            for route in ("/", "/config", "/gradio_api/info"):
                with urllib.request.urlopen(url + route, timeout=30) as response:
                    body = response.read().decode("utf-8", "replace")
                assert body and not any(s in body for s in SECRETS), route
            page.goto(url)
            page.locator("#app-header").get_by_text("HF_TOKEN", exact=False).wait_for(timeout=60_000)
            for tab in ("Dataset", "Caption Editor", "Train", "Checkpoints", "Local Generate", "Publish",
                        "Runware Playground"):
                page.get_by_role("tab", name=tab).click()
                assert not any(s in page.content() for s in SECRETS), tab
            page.get_by_role("tab", name="Publish").click()
            page.locator("#publish-check-token").click()
            page.locator("#publish-account").get_by_text("alice", exact=False).wait_for(timeout=60_000)
            html = page.content()
            assert "alice" in html and not any(s in html for s in SECRETS)
            assert not any(s in log.read_text(encoding="utf-8", errors="replace")
                           for log in (tmp_path / "ws").rglob("*.log") for s in SECRETS)
    finally:
        hub.stop()
