"""Publishing the checkpoint chosen in a real self-test training run (core.checkpoints.choose), to both servers."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from core.checkpoints import store as checkpoints
from core.errors import PublishError
from core.publishing import publish as publishing
from tests.support.env import cli_env, run_cli
from core.selftest.loopback_hub import FakeHub
from tests.support.publishing import HF_TOKEN, hub_settings

pytestmark = pytest.mark.slow


@pytest.fixture()
def hub():
    server = FakeHub(tokens={HF_TOKEN: "alice"}).start()
    yield server
    server.stop()


def test_the_chosen_checkpoint_goes_to_the_hub_and_runware(run_copy, workspace, runware_settings, fake_runware, hub):
    settings = hub_settings(runware_settings, hub, runware_key=fake_runware.api_key)
    step = checkpoints.list_checkpoints(run_copy)[-1].step
    picked = checkpoints.choose(workspace, run_copy.run_id, step, 1.25)
    nothing = publishing.PublishRequest(run_copy.run_id, runware=False)
    card, edited = publishing.draft_card(settings, nothing, account="alice")
    assert not edited and "`1.25` (the strength chosen when comparing checkpoints; checkpoint at step" in card
    assert "(SELF-TEST)" in card  # the run was trained on the self-test model

    with pytest.raises(PublishError, match="trained on the self-test model"):  # never published without a word
        list(publishing.publish(settings, publishing.PublishRequest(run_copy.run_id, air="story:mira")))
    assert hub.repos == {}
    request = publishing.PublishRequest(run_copy.run_id, air="story:mira", allow_selftest=True)
    events = list(publishing.publish(settings, request))
    version = events[-1].result
    assert version.repo_id == "alice/mira-flux2-klein-lora" and version.step == picked.step
    body = httpx.get(version.url).content  # a public repo: no token needed, as for Runware
    assert hashlib.sha256(body).hexdigest() == picked.sha256 == version.sha256
    upload = fake_runware.tasks("modelUpload")[-1]
    assert upload["defaultWeight"] == 1.25 and upload["uniqueIdentifier"] == picked.sha256
    assert version.runware_status == "ready" and version.air == "story:mira@1"
    config = json.loads(hub.files(version.repo_id)["training_config.json"])
    assert "model_path" not in config and "data" not in config and str(workspace.root) not in json.dumps(config)
    assert config["lora_layers"]["targets"][0]["rank"] == 4
    readme = hub.files(version.repo_id)["README.md"].decode()
    for row in (f"| published checkpoint | step {picked.step} |",
                "| LoRA rank | 4 |", "| optimizer | AdamW |", "| epochs | 1 |", "| seed | 42 |"):
        assert row in readme
    assert "Self-test adapter" in readme and fake_runware.tasks("modelUpload")[-1]["name"].startswith("SELF-TEST ")


def test_cli_publish_hf_with_step_chooses_then_publishes(run_copy, workspace, workspace_dir, cache_dir, hub):
    step = checkpoints.list_checkpoints(run_copy)[0].step
    env = cli_env(workspace_dir, cache_dir, HF_TOKEN=HF_TOKEN, HF_ENDPOINT=hub.url)
    code, data, stderr = run_cli(["publish", "hf", run_copy.run_id, "--step", str(step), "--strength", "0.7",
                                  "--repo", "alice/mira-step", "--selftest"], env)
    assert code == 0, (data, stderr)
    chosen = checkpoints.read_chosen(run_copy)
    assert chosen.step == step and chosen.strength == 0.7
    assert data["version"]["sha256"] == chosen.sha256 and data["version"]["step"] == step
    assert hashlib.sha256(hub.files("alice/mira-step")["pytorch_lora_weights.safetensors"]).hexdigest() == chosen.sha256
