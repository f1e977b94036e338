"""`python -m core publish ...` against a loopback Hub: the same core calls, JSON out, non-zero on failure."""

from __future__ import annotations

import pytest

from tests.support.env import cli_env, run_cli
from core.selftest.loopback_hub import FakeHub
from tests.support.publishing import HF_TOKEN, RUNWARE_KEY, make_run


@pytest.fixture()
def hub():
    server = FakeHub(tokens={HF_TOKEN: "alice"}).start()
    yield server
    server.stop()


def test_publish_hf_then_status_then_a_rerun_changes_nothing(workspace, workspace_dir, cache_dir, hub):
    _, adapter, samples = make_run(workspace)
    env = cli_env(workspace_dir, cache_dir, HF_TOKEN=HF_TOKEN, HF_ENDPOINT=hub.url, RUNWARE_API_KEY=RUNWARE_KEY)
    args = ["publish", "hf", "20261127-mira", "--repo", "mira-lora", "--adapter", str(adapter),
            "--sample", str(samples[0]), "--strength", "0.9"]
    code, data, stderr = run_cli(args, env)
    assert code == 0, (data, stderr)
    version = data["version"]
    assert version["repo_id"] == "alice/mira-lora" and version["url"].endswith("/pytorch_lora_weights.safetensors")
    assert version["commit"] in version["url"] and version["strength"] == 0.9
    assert sorted(hub.files("alice/mira-lora")) == [".gitattributes", "README.md", "pytorch_lora_weights.safetensors",
                                                    "samples/01.png", "training_config.json"]
    code, again, _ = run_cli(args, env)
    assert code == 0 and again["version"]["commit"] == version["commit"] and hub.commit_count("alice/mira-lora") == 2
    code, status, _ = run_cli(["publish", "status", "20261127-mira"], env)
    assert code == 0 and [v["commit"] for v in status["versions"]] == [version["commit"]]
    assert HF_TOKEN not in str(status) and RUNWARE_KEY not in str(status)


def test_publish_with_a_bad_token_exits_non_zero_with_one_sentence(workspace, workspace_dir, cache_dir, hub):
    _, adapter, _ = make_run(workspace)
    env = cli_env(workspace_dir, cache_dir, HF_TOKEN="hf_WrongToken0123456789abcdefghijk", HF_ENDPOINT=hub.url)
    code, data, _ = run_cli(["publish", "hf", "20261127-mira", "--adapter", str(adapter)], env)
    assert code == 1 and data["ok"] is False
    assert data["error"].startswith("The Hub refused HF_TOKEN") and "hf_WrongToken" not in data["error"]
    assert not hub.repos


def test_publish_runware_without_a_hub_version_says_to_publish_first(workspace, workspace_dir, cache_dir, hub):
    make_run(workspace)
    env = cli_env(workspace_dir, cache_dir, HF_TOKEN=HF_TOKEN, HF_ENDPOINT=hub.url)
    code, data, _ = run_cli(["publish", "runware", "20261127-mira", "--air", "mysource:mira"], env)
    assert code == 1 and data["error"] == ("Run 20261127-mira has no version on the Hub yet. "
                                           "Publish it to the Hub first (publish hf).")


def test_publish_all_registers_on_runware_and_publish_runware_reuses_the_remembered_air(
        workspace, workspace_dir, cache_dir, hub, fake_runware):
    _, adapter, _ = make_run(workspace)
    env = cli_env(workspace_dir, cache_dir, HF_TOKEN=HF_TOKEN, HF_ENDPOINT=hub.url,
                  RUNWARE_API_KEY=fake_runware.api_key, RUNWARE_WS_URL=fake_runware.url)
    code, data, stderr = run_cli(["publish", "all", "20261127-mira", "--adapter", str(adapter), "--air", "story:mira"],
                                 env)
    assert code == 0, (data, stderr)
    assert data["version"]["air"] == "story:mira@1" and data["version"]["runware_status"] == "ready"
    code, again, _ = run_cli(["publish", "runware", "20261127-mira"], env)
    assert code == 0 and again["version"]["air"] == "story:mira@1"
    assert again["message"].startswith("Published to alice/mira-flux2-klein-lora") and "is ready" in again["message"]
    assert len(fake_runware.tasks("modelUpload")) == 1  # already ready: not sent again
