"""The typed records read the files earlier versions wrote, and write them back without losing a key."""

from __future__ import annotations

import json

from core.publishing import record as publish_record
from core.runs.paths import run_paths
from core.runs.record import RunRecord
from core.training import config as train_config

# run.json as the previous version wrote it: a self-test run, stopped, resumed once and finished. "iterations" and
# "written_by" are keys this version does not know.
OLD_RUN_JSON = """{
  "run_id": "20261127-030000-mira",
  "dataset": "mira",
  "model": "selftest",
  "trigger": "mira",
  "status": "completed",
  "status_message": "Finished; the last checkpoint is at step 12.",
  "created_at": 1795000000.25,
  "queued_at": 1795000300.5,
  "total_steps": 12,
  "max_resolution": 64,
  "form": {
    "dataset": "mira", "trigger": "mira", "model": "selftest", "epochs": 3, "batch_size": 1, "learning_rate": 0.0001,
    "rank": 4, "layers": "attention", "max_resolution": 64, "quantize": null, "gradient_checkpointing": false,
    "low_ram": false, "save_every": 2, "preview_every": 0, "seed": 42, "preview_prompts": ["mira, portrait"]
  },
  "cache_dir": "/home/me/.cache/character-lora",
  "mflux_version": "0.24.0",
  "dataset_fingerprint": {"count": 1, "sha256": "5d41402abc4b2a76b9719d911017c592",
                          "items": [{"image": "img_00.png", "bytes": 1234, "caption_sha1": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"}]},
  "preview_prompts": ["mira, portrait"],
  "pid": 4242,
  "spawned_at": 1795000300.75,
  "worker_started": true,
  "updated_at": 1795000900.0,
  "started_at": 1795000301.0,
  "resume_from": "/home/me/outputs/runs/20261127-030000-mira/mflux/checkpoints/0000006_checkpoint.zip",
  "resume_step": 6,
  "stop_requested_at": null,
  "error": null,
  "resumes": 1,
  "resumed_from": 6,
  "step": 12,
  "finished_at": 1795000900.0,
  "iterations": 3,
  "written_by": {"app": "a later version", "fields": [1, 2]}
}
"""

# publish.json as the previous version wrote it: one version on the Hub and ready on Runware, one whose Hub commit
# failed. "schema" and "reviewed" are keys this version does not know.
OLD_PUBLISH_JSON = """{
  "versions": [
    {
      "id": "alice/mira-lora@0123456789ab",
      "repo_id": "alice/mira-lora",
      "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "started": "2026-11-27T05:00:00+0000",
      "step": 6,
      "strength": 1.5,
      "trigger": "mira",
      "files": [{"path": "pytorch_lora_weights.safetensors", "bytes": 1000, "sha256": "ff00"},
                {"path": "README.md", "bytes": 200, "sha256": "ee11"}],
      "account": "alice",
      "error": null,
      "private": false,
      "repo_url": "https://huggingface.co/alice/mira-lora",
      "hub_status": "committed",
      "commit": "c0ffee0123456789c0ffee0123456789c0ffee01",
      "commit_url": "https://huggingface.co/alice/mira-lora/commit/c0ffee0123456789c0ffee0123456789c0ffee01",
      "url": "https://huggingface.co/alice/mira-lora/resolve/c0ffee0123456789c0ffee0123456789c0ffee01/pytorch_lora_weights.safetensors",
      "committed": "2026-11-27T05:00:09+0000",
      "air": "mysource:mira@1",
      "runware_status": "ready",
      "runware_stage": "ready",
      "architecture": "flux2_klein_4b",
      "architecture_source": "runware",
      "runware_url": "https://huggingface.co/alice/mira-lora/resolve/c0ffee0123456789c0ffee0123456789c0ffee01/pytorch_lora_weights.safetensors",
      "runware_message": null,
      "finished": "2026-11-27T05:01:00+0000",
      "reviewed": true
    },
    {
      "id": "alice/mira-lora@fedcba987654",
      "repo_id": "alice/mira-lora",
      "sha256": "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
      "started": "2026-11-28T09:00:00+0000",
      "step": 8,
      "strength": 1.0,
      "trigger": "mira",
      "files": [],
      "account": "alice",
      "error": "The Hub refused the upload.",
      "private": false,
      "repo_url": "https://huggingface.co/alice/mira-lora",
      "hub_status": "failed",
      "finished": "2026-11-28T09:00:30+0000"
    }
  ],
  "schema": "v1"
}
"""


def test_an_old_run_json_loads_into_the_record_and_round_trips(workspace):
    paths = run_paths(workspace, "20261127-030000-mira")
    paths.root.mkdir(parents=True)
    paths.record_json.write_text(OLD_RUN_JSON, encoding="utf-8")
    old = json.loads(OLD_RUN_JSON)

    record = paths.read_record()
    assert (record.run_id, record.dataset, record.model, record.trigger) == ("20261127-030000-mira", "mira", "selftest", "mira")
    assert (record.status, record.total_steps, record.step, record.resumes, record.resume_step) == ("completed", 12, 12, 1, 6)
    assert record.pid == 4242 and record.worker_started is True and record.stop_requested_at is None
    assert record.dataset_fingerprint["items"][0]["image"] == "img_00.png" and record.preview_prompts == ["mira, portrait"]
    assert record.extra == {"iterations": 3, "written_by": {"app": "a later version", "fields": [1, 2]}}
    plan = train_config.TrainPlan.from_dict(record.form)
    assert (plan.epochs, plan.rank, plan.layers, plan.save_every, plan.model) == (3, 4, "attention", 2, "selftest")

    paths.update_record(status="stopped", forced=True)  # what Stop writes: every other key stays as it was
    written = json.loads(paths.record_json.read_text(encoding="utf-8"))
    assert written == {**RunRecord().to_dict(), **old, "status": "stopped", "forced": True}
    assert RunRecord.load(paths.record_json) == paths.read_record()


def test_a_run_json_with_odd_values_or_no_object_reads_with_defaults(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"status": "running", "total_steps": "twelve", "pid": true, "created_at": 5, "form": []}')
    record = RunRecord.load(path)
    assert (record.status, record.total_steps, record.pid, record.created_at, record.form) == ("running", 0, None, 5, {})
    for text in ("[1, 2]", "{ broken", ""):
        path.write_text(text)
        assert RunRecord.load(path) == RunRecord()
    assert RunRecord.load(tmp_path / "missing.json") == RunRecord()


def test_an_old_publish_json_loads_into_the_record_and_round_trips(workspace):
    paths = run_paths(workspace, "20261127-030000-mira")
    paths.root.mkdir(parents=True)
    paths.publish_json.write_text(OLD_PUBLISH_JSON, encoding="utf-8")
    old = json.loads(OLD_PUBLISH_JSON)

    record = publish_record.read_record(paths)
    assert not record.damaged and record.extra == {"schema": "v1"}
    first, failed = record.versions
    assert (first.repo_id, first.step, first.strength, first.commit[:6], first.air) == ("alice/mira-lora", 6, 1.5, "c0ffee", "mysource:mira@1")
    assert first.files[0]["path"] == "pytorch_lora_weights.safetensors" and first.extra == {"reviewed": True}
    assert (failed.hub_status, failed.error, failed.commit, failed.air) == ("failed", "The Hub refused the upload.", None, None)
    assert record.ready_air() == record.newest_air() == "mysource:mira@1"
    assert record.find("alice/mira-lora", failed.sha256) is failed

    # Publishing the failed version again rewrites the file: every key of the old one is still there.
    failed.update(hub_status="committed", commit="beef" * 10, error=None)
    publish_record.save_version(paths, failed)
    written = json.loads(paths.publish_json.read_text(encoding="utf-8"))
    assert written["schema"] == "v1" and [v["id"] for v in written["versions"]] == [v["id"] for v in old["versions"]]
    assert written["versions"][0] == {k: v for k, v in old["versions"][0].items() if v is not None}  # nulls are left out
    assert written["versions"][1] == {**{k: v for k, v in old["versions"][1].items() if k != "error"},
                                      "hub_status": "committed", "commit": "beef" * 10}
    assert not list(workspace.trash_dir.rglob("publish.json"))  # a readable record is not set aside


def test_save_version_keeps_versions_in_the_order_they_started(workspace):
    paths = run_paths(workspace, "20261127-030000-mira")
    paths.root.mkdir(parents=True)
    paths.publish_json.write_text(OLD_PUBLISH_JSON, encoding="utf-8")
    earlier = publish_record.PublishedVersion(id="alice/other@1", repo_id="alice/other", started="2026-11-26T00:00:00+0000")
    publish_record.save_version(paths, earlier)
    assert [v.id for v in publish_record.read_record(paths).versions] == [
        "alice/other@1", "alice/mira-lora@0123456789ab", "alice/mira-lora@fedcba987654"]
