"""`python -m core runware ...` against the loopback Runware API (real SDK, in a subprocess)."""

from __future__ import annotations

import hashlib
import json

from core.runs.record import RunRecord
from core.runware import registry as runware
from tests.support.env import cli_env, run_cli


def _env(workspace_dir, cache_dir, fake, **extra):
    return cli_env(workspace_dir, cache_dir, **{"RUNWARE_WS_URL": fake.url, "RUNWARE_API_KEY": fake.api_key, **extra})


def test_generate_with_a_lora_prints_images_and_cost(workspace_dir, cache_dir, runware_settings, fake_runware):
    data = b"lora-bytes" * 10
    runware.register(runware_settings, url=fake_runware.host_file("l.safetensors", data),
                     sha256=hashlib.sha256(data).hexdigest(), air="story:mira@2", name="Mira", version="2",
                     trigger_words="mira", default_weight=1.0)
    code, out, err = run_cli(["runware", "generate", "--prompt", "mira, portrait", "--lora", "story:mira@2:0.7",
                              "--seed", "3", "--width", "256", "--height", "256", "--results", "2",
                              "--output-type", "base64Data"], _env(workspace_dir, cache_dir, fake_runware))
    assert code == 0, (out, err)
    assert len(out["images"]) == 2 and out["cost"] == 0.0038
    assert all(json.loads(open(i["path"][:-4] + ".json").read())["seed"] in (3, 4) for i in out["images"])
    assert fake_runware.tasks("imageInference")[-1]["lora"] == [{"model": "story:mira@2", "weight": 0.7}]
    assert fake_runware.api_key not in json.dumps(out)
    assert out["today"]["requests"] == 1 and out["today"]["dollars"] == 0.0038  # the Playground's total for today
    code, again, _ = run_cli(["runware", "generate", "--prompt", "mira", "--width", "256", "--height", "256"],
                             _env(workspace_dir, cache_dir, fake_runware))
    assert code == 0 and again["today"]["requests"] == 2 and again["today"]["dollars"] == round(0.0038 + again["cost"], 6)


def test_generate_failure_is_one_sentence_and_exit_1(workspace_dir, cache_dir, fake_runware):
    env = _env(workspace_dir, cache_dir, fake_runware, RUNWARE_API_KEY="wrong-key-123")
    code, out, _ = run_cli(["runware", "generate", "--prompt", "x", "--width", "256", "--height", "256"], env)
    assert code == 1 and out["ok"] is False
    assert out["error"].startswith("Runware refused the API key") and "wrong-key-123" not in out["error"]
    fake_runware.fault = "no_credit"
    code, out, _ = run_cli(["runware", "generate", "--prompt", "x", "--width", "256", "--height", "256"],
                           _env(workspace_dir, cache_dir, fake_runware))
    assert code == 1 and "no credit" in out["error"]


def test_architecture_command(workspace_dir, cache_dir, fake_runware):
    code, out, _ = run_cli(["runware", "architecture"], _env(workspace_dir, cache_dir, fake_runware))
    assert code == 0 and out["value"] == fake_runware.architecture and out["source"] == "runware"
    code, out, _ = run_cli(["runware", "architecture"],
                           _env(workspace_dir, cache_dir, fake_runware, RUNWARE_ARCHITECTURE="flux1d"))
    assert code == 1 and "FLUX.1 [dev]" in out["error"]


def test_compare_runware_only_and_reports(workspace, workspace_dir, cache_dir, runware_settings, fake_runware, tmp_path):
    from core.runs.paths import run_paths
    from core.storage import write_json

    paths = run_paths(workspace, "20261127-010000-mira")
    paths.write_record(RunRecord(run_id=paths.run_id, dataset="mira", model="selftest", trigger="mira"))
    data = b"x" * 99
    runware.register(runware_settings, url=fake_runware.host_file("m.safetensors", data),
                     sha256=hashlib.sha256(data).hexdigest(), air="story:mira@3", name="Mira", version="3",
                     trigger_words="mira", default_weight=1.0)
    write_json(paths.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira", "air": "story:mira@3", "runware_status": "ready"}]})
    prompts = tmp_path / "prompts.json"
    write_json(prompts, ["{trigger} smiling", "{trigger} running [timeout]"])
    fake_runware.prompt_faults = {"[timeout]": "timeout"}
    env = _env(workspace_dir, cache_dir, fake_runware)
    code, out, err = run_cli(["runware", "compare", paths.run_id, "--prompts", str(prompts), "--no-local",
                              "--width", "128", "--height", "128", "--timeout", "2"], env)
    assert code == 0, (out, err)
    assert out["counts"]["runware_done"] == 1 and out["counts"]["runware_failed"] == 1
    assert out["pairs"][0]["prompt"] == "mira smiling" and out["pairs"][0]["cloud_image"] == "00-runware.png"
    assert out["pairs"][1]["cloud_error"].startswith("Runware did not answer")
    code, listed, _ = run_cli(["runware", "reports", paths.run_id], env)
    assert code == 0 and [r["folder"] for r in listed["reports"]] == [out["folder"]]
