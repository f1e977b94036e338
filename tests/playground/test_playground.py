"""Local vs Runware comparison: the real local engine on the self-test model and the real runware-sdk
against the loopback Runware API; reports written, reopened, and failures isolated."""

from __future__ import annotations

import json

import pytest

from core.checkpoints import store as checkpoints
from core.errors import RunwareUnknownAir
from core.playground import pairs as playground
from core.runware import registry as runware
from core.playground.report import list_reports, load_report
from core.publishing import record as publish_record
from core.runs.record import RunRecord
from core.storage import write_json

PROMPTS = ["{trigger}, a portrait", "{trigger} in the rain [nocredit]"]


@pytest.fixture()
def published_run(run_copy, workspace, runware_settings, fake_runware):
    """A trained self-test run with a chosen checkpoint, registered on the loopback Runware."""
    chosen = checkpoints.choose(workspace, run_copy.run_id, step=3, strength=0.8)
    url = fake_runware.host_file("adapter.safetensors", chosen.adapter_path.read_bytes())
    registration = runware.register(runware_settings, url=url, sha256=chosen.sha256, air="story:mira@1",
                                    name="Mira", version="1", trigger_words="mira", default_weight=0.8)
    write_json(run_copy.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira", "air": registration.air, "runware_status": "ready"}]})
    return run_copy


@pytest.mark.slow
def test_pairs_fill_in_with_scores_and_failures_stay_per_item(published_run, runware_settings, fake_runware,
                                                               likeness_model_dir):
    from dataclasses import replace

    settings = replace(runware_settings, likeness_model=str(likeness_model_dir))
    fake_runware.prompt_faults = {"[nocredit]": "no_credit"}
    events = []
    runner = playground.compare_stages(settings, published_run.run_id, prompts=PROMPTS, width=128,
                                       height=128, seed=5, concurrency=2)
    while True:
        try:
            events.append(next(runner))
        except StopIteration as done:
            report = done.value
            break
    assert report.status == "completed"
    first, no_credit = report.pairs
    assert first.prompt == "mira, a portrait" and first.local_image and first.cloud_image
    assert first.ssim is not None and -1 <= first.ssim <= 1 and first.cost == pytest.approx(0.0019)
    assert -1 <= first.likeness_local <= 1 and -1 <= first.likeness_cloud <= 1
    assert no_credit.likeness_local is not None and no_credit.likeness_cloud is None
    assert "no credit" in no_credit.cloud_error and no_credit.local_image  # the local side still ran
    assert report.settings["lora_air"] == "story:mira@1" and report.settings["strength"] == 0.8
    sent = fake_runware.tasks("imageInference")
    assert {t["lora"][0]["model"] for t in sent} == {"story:mira@1"} and {t["seed"] for t in sent} == {5}
    assert {(t["steps"], t["CFGScale"]) for t in sent} == {(2, 4.0)}  # the local model's defaults, on both sides
    pair_events = [e for e in events if "pair" in e.payload]
    assert len(pair_events) == 4 and events[-1].step == events[-1].total and events[-1].result is report
    # Saved and reopened
    data = json.loads((report.folder / "report.json").read_text())
    assert data["counts"] == {"prompts": 2, "runware_done": 1, "runware_failed": 1, "local_done": 2, "local_failed": 0}
    html = (report.folder / "report.html").read_text()
    assert "00-local.png" in html and "00-runware.png" in html and "samplers" in html
    again = load_report(report.folder)
    assert [p.to_dict() for p in again.pairs] == [p.to_dict() for p in report.pairs]
    assert [r.name for r in list_reports(published_run)] == [report.name]
    # A second comparison reuses the local image (same settings) from Local Generate's history
    import shutil

    shutil.rmtree(published_run.root / "playground" / "local-cache")
    second = playground.compare(settings, published_run.run_id, prompts=PROMPTS[:1], width=128, height=128,
                                seed=5)
    assert second.pairs[0].local_cached and second.pairs[0].local_image
    assert [r.name for r in list_reports(published_run)] == [second.name, report.name]


@pytest.mark.slow
def test_a_run_without_an_air_is_refused_with_a_sentence(run_copy, runware_settings):
    with pytest.raises(RunwareUnknownAir) as caught:
        playground.compare(runware_settings, run_copy.run_id, prompts=PROMPTS)
    assert caught.value.lora and "Publish" in str(caught.value)


def test_likeness_model_set_only_in_dot_env_scores_the_pairs(workspace, fake_runware, tmp_path, monkeypatch):
    """LIKENESS_MODEL written in .env (not in the environment) is the model the Playground scores likeness with."""
    from core.checkpoints import likeness
    from core.runs.paths import run_paths
    from core.selftest.tiny_dinov2 import build_tiny_dinov2
    from core.settings import load_settings, register_secret
    from tests.support.images import write_mflux_dataset

    monkeypatch.delenv("LIKENESS_MODEL", raising=False)
    model_dir = build_tiny_dinov2(tmp_path / "dinov2-from-dotenv")
    env_file = tmp_path / ".env"
    env_file.write_text(f"LIKENESS_MODEL={model_dir}\n")
    register_secret("RUNWARE_API_KEY", fake_runware.api_key)
    settings = load_settings(env_file=env_file, environ={
        "WORKSPACE_DIR": str(workspace.root), "APP_CACHE_DIR": str(tmp_path / "cache"),
        "RUNWARE_WS_URL": fake_runware.url, "RUNWARE_API_KEY": fake_runware.api_key})
    assert settings.likeness_model == str(model_dir)
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=3)
    paths = run_paths(workspace, "20261127-060000-mira")
    paths.write_record(RunRecord(run_id=paths.run_id, dataset="mira", model="selftest", trigger="mira"))
    write_json(paths.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira", "air": "story:env@1",
                                                  "runware_status": "ready"}]})
    runware.register(settings, url=fake_runware.host_file("e", b"e"), air="story:env@1", name="E", version="1",
                     trigger_words="", default_weight=1, sha256=__import__("hashlib").sha256(b"e").hexdigest())
    report = playground.compare(settings, paths.run_id, prompts=["{trigger}, a portrait"], width=128, height=128,
                                local=False)
    pair = report.pairs[0]
    assert report.status == "completed" and pair.cloud_image
    dataset = likeness.dataset_images_of_run(workspace, paths)
    expected = likeness.score([report.folder / pair.cloud_image], dataset, model=str(model_dir))[0]
    assert pair.likeness_cloud == pytest.approx(expected, abs=1e-4)


def test_stop_keeps_a_readable_report(workspace, runware_settings, fake_runware):
    from core.progress import Cancellation
    from core.runs.paths import run_paths

    paths = run_paths(workspace, "20261127-040000-mira")
    paths.write_record(RunRecord(run_id=paths.run_id, dataset="mira", model="selftest", trigger="mira"))
    write_json(paths.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira", "air": "story:gone@1", "runware_status": "ready"}]})
    runware.register(runware_settings, url=fake_runware.host_file("g", b"g"), air="story:gone@1", name="G",
                     version="1", trigger_words="", default_weight=1, sha256=__import__("hashlib").sha256(b"g").hexdigest())
    fake_runware.image_delay = 0.5
    cancel = Cancellation()
    runner = playground.compare_stages(runware_settings, paths.run_id, prompts=[f"p{i}" for i in range(6)],
                                       width=128, height=128, concurrency=2, local=False, cancel=cancel)
    events = []
    while True:
        try:
            events.append(next(runner))
        except StopIteration as done:
            report = done.value
            break
        if any("pair" in e.payload for e in events):
            cancel.request()
    assert report.status == "stopped"
    saved = load_report(report.folder)
    assert saved.status == "stopped" and 1 <= saved.counts()["runware_done"] < 6
    assert fake_runware.max_concurrent <= 2


def test_air_comes_from_the_publish_record_preferring_ready_versions(workspace):
    from core.runs.paths import run_paths

    paths = run_paths(workspace, "20261127-050000-mira")
    paths.root.mkdir(parents=True)
    assert playground.lora_air_from_publish(paths) is None
    write_json(paths.publish_json, {"versions": [
        {"air": "me:mira@1", "runware_status": "ready"}, {"air": "me:mira@2", "runware_status": "failed"}]})
    assert playground.lora_air_from_publish(paths) == "me:mira@1"
    write_json(paths.publish_json, {"versions": [
        {"air": "me:mira@1", "runware_status": "ready"}, {"air": "me:mira@2", "runware_status": "ready"}]})
    assert playground.lora_air_from_publish(paths) == "me:mira@2"


def test_a_foreign_or_damaged_publish_record_reads_as_unpublished(workspace):
    from core.publishing import publish
    from core.runs.paths import run_paths

    paths = run_paths(workspace, "20261127-050100-mira")
    paths.root.mkdir(parents=True)
    write_json(paths.publish_json, {"air": "me:mira@3", "status": "pending"})  # not our layout
    assert playground.lora_air_from_publish(paths) is None and publish.read_record(paths).versions == []
    write_json(paths.publish_json, {"versions": [{"air": "me:mira@4", "runware_status": "processing"}]})
    assert playground.lora_air_from_publish(paths) == "me:mira@4"  # not ready yet: Runware will say so
    paths.publish_json.write_text("{ broken")
    assert publish.read_record(paths).versions == []
    publish_record.save_version(paths, publish_record.PublishedVersion(id="r@1", repo_id="r", started="2026-11-27T05:00:00"))
    assert publish.read_record(paths).versions[0].id == "r@1"
    kept = [p for p in workspace.trash_dir.rglob("publish.json")]
    assert kept and kept[0].read_text() == "{ broken"  # what could not be read is kept, not overwritten
