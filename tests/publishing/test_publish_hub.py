"""Publishing to a loopback Hub with the real huggingface_hub client: content, secrets, retries, errors."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from PIL import Image

from core.errors import (AppError, HubAuthError, HubError, HubPermissionError, HubRateLimited, HubRepoExists,
                         HubTimeout, HubTokenMissing)
from core.publishing import publish as publishing
from core.publishing.upload import ALLOWLIST
from core.selftest.loopback_hub import FakeHub
from tests.support.publishing import HF_TOKEN, RUNWARE_KEY, hub_settings, make_run


@pytest.fixture()
def hub():
    server = FakeHub(tokens={HF_TOKEN: "alice", "hf_ReadOnlyToken0123456789abcdefXYZ": "alice"},
                     readonly_tokens=("hf_ReadOnlyToken0123456789abcdefXYZ",)).start()
    yield server
    server.stop()


def run_publish(settings, request):
    events = list(publishing.publish(settings, request))
    return events, events[-1].result


def request_for(adapter, samples, **kw):
    return publishing.PublishRequest("20261127-mira", adapter=adapter, samples=samples, runware=False, **kw)


def test_publish_commits_only_the_allowlist_and_the_pinned_url_gives_the_same_bytes(settings, workspace, hub):
    settings = hub_settings(settings, hub)
    paths, adapter, samples = make_run(workspace)
    events, version = run_publish(settings, request_for(adapter, samples, repo_id="mira-lora", strength=0.8))

    assert version.repo_id == "alice/mira-lora" and version.hub_status == "committed"
    files = hub.files("alice/mira-lora")
    assert sorted(files) == [".gitattributes", "README.md", "pytorch_lora_weights.safetensors",
                             "samples/01.png", "samples/02.png", "training_config.json"]
    assert all(any(p.fullmatch(path) for p in ALLOWLIST) for path in files if path != ".gitattributes")
    assert hub.commit_count("alice/mira-lora") == 2  # the repo's initial commit + ONE commit for the version
    assert version.url == f"{hub.url}/alice/mira-lora/resolve/{version.commit}/pytorch_lora_weights.safetensors"

    downloaded = httpx.get(version.url, headers={"authorization": f"Bearer {HF_TOKEN}"}).content
    assert hashlib.sha256(downloaded).hexdigest() == hashlib.sha256(adapter.read_bytes()).hexdigest() == version.sha256

    config = json.loads(files["training_config.json"])
    assert config["steps"] == 4 and config["training_loop"]["num_epochs"] == 2
    assert "data_path" not in config and "output_path" not in config["checkpoint"]
    for index in (1, 2):
        image = Image.open(__import__("io").BytesIO(files[f"samples/0{index}.png"]))
        assert image.info == {} or set(image.info) <= {"dpi"}  # pixels only, no text chunks
        assert image.size == (48, 48)

    card = files["README.md"].decode()
    assert "base_model: black-forest-labs/FLUX.2-klein-base-4B" in card and "base_model_relation: adapter" in card
    assert 'instance_prompt: "mira"' in card and "url: samples/02.png" in card and "`0.8`" in card
    record = json.loads(paths.publish_json.read_text())
    assert record["versions"][0]["commit"] == version.commit and record["versions"][0]["runware_status"] == "skipped"
    assert [e.payload["stage"] for e in events][0] == "token" and "alice" in events[1].message


def test_no_secret_and_no_local_path_is_in_any_uploaded_byte(settings, workspace, hub, tmp_path):
    settings = hub_settings(settings, hub)
    _, adapter, samples = make_run(workspace)
    run_publish(settings, request_for(adapter, samples))
    sent = hub.received_bytes()
    assert len(sent) > adapter.stat().st_size  # the adapter itself went through this server
    assert RUNWARE_KEY.encode() not in sent and HF_TOKEN.encode() not in sent
    assert str(workspace.root).encode() not in sent and str(__import__("pathlib").Path.home()).encode() not in sent


def test_rerun_with_unchanged_files_makes_no_commit_and_an_edited_card_makes_one(settings, workspace, hub):
    settings = hub_settings(settings, hub)
    paths, adapter, samples = make_run(workspace)
    _, first = run_publish(settings, request_for(adapter, samples))
    _, again = run_publish(settings, request_for(adapter, samples))
    assert hub.commit_count(f"alice/{first.repo_id.split('/')[1]}") == 2
    assert again.commit == first.commit and len(publishing.read_record(paths).versions) == 1

    card, edited = publishing.draft_card(settings, request_for(adapter, samples), account="someone")
    assert not edited and 'load_lora_weights("someone/' in card
    from core.publishing import model_card

    model_card.save_draft(paths, card.replace("## Trigger word", "My own words.\n\n## Trigger word"))
    _, third = run_publish(settings, request_for(adapter, samples[:1]))
    files = hub.files(third.repo_id)
    assert third.commit != first.commit and "My own words." in files["README.md"].decode()
    assert "samples/02.png" not in files  # the version's samples replace the previous ones
    readme = files["README.md"].decode()
    assert f'load_lora_weights("{third.repo_id}"' in readme  # the draft was written for "someone/..."
    assert f"hf download {third.repo_id} pytorch_lora_weights.safetensors" in readme and "someone/" not in readme
    assert "url: samples/01.png" in readme and "samples/02.png" not in readme  # widget fitted to the samples
    assert hub.commit_count(third.repo_id) == 3


def test_a_server_error_on_commit_says_so_and_the_same_publish_then_completes(settings, workspace, hub):
    settings = hub_settings(settings, hub)
    paths, adapter, samples = make_run(workspace)
    hub.fail("POST", r"/commit/", 500)
    with pytest.raises(HubError) as failed:
        run_publish(settings, request_for(adapter, samples, repo_id="mira"))
    assert str(failed.value).startswith("The Hub had a server error (500)") and "Publish again" in str(failed.value)
    assert failed.value.status == 500 and failed.value.repo_id == "alice/mira"
    assert publishing.read_record(paths).versions[0].hub_status == "failed"
    _, version = run_publish(settings, request_for(adapter, samples, repo_id="mira"))
    assert version.hub_status == "committed" and hub.commit_count("alice/mira") == 2
    assert len(publishing.read_record(paths).versions) == 1


@pytest.mark.parametrize("setup, error, expected", [
    ("bad_token", HubAuthError, "The Hub refused HF_TOKEN"),
    ("read_only", HubPermissionError, "Your token may not write to alice/mira"),
    ("rate_limit", HubRateLimited, "The Hub is rate-limiting this account"),
    ("name_taken", HubRepoExists, "The repo name alice/mira is already taken"),
    ("made_elsewhere", HubRepoExists, "The repo name alice/mira is already taken"),
    ("no_token", HubTokenMissing, "HF_TOKEN is not set"),
])
def test_each_hub_error_gives_its_sentence(settings, workspace, hub, setup, error, expected):
    token = {"bad_token": "hf_NotAValidToken0123456789abcdefXYZ",
             "read_only": "hf_ReadOnlyToken0123456789abcdefXYZ"}.get(setup, HF_TOKEN)
    live = hub_settings(settings, hub, token=token)
    if setup == "no_token":
        live = hub_settings(settings, hub, token=None)
    _, adapter, samples = make_run(workspace)
    allow_existing = None
    if setup == "rate_limit":
        hub.fail("POST", r"/commit/", 429)
    if setup == "name_taken":
        run_publish(hub_settings(settings, hub), request_for(adapter, samples, repo_id="mira"))
        allow_existing = False
    if setup == "made_elsewhere":  # created on the Hub by hand, never published from this workspace
        from huggingface_hub import HfApi

        HfApi(endpoint=hub.url, token=HF_TOKEN).create_repo("alice/mira")
        allow_existing = None
    with pytest.raises(AppError) as failed:
        run_publish(live, request_for(adapter, samples, repo_id="mira", allow_existing=allow_existing))
    assert type(failed.value) is error and str(failed.value).startswith(expected)
    if setup == "made_elsewhere":
        assert hub.commit_count("alice/mira") == 1  # nothing was pushed into a repo this app did not make
        _, version = run_publish(hub_settings(settings, hub), request_for(adapter, samples, repo_id="mira",
                                                                          allow_existing=True))
        assert version.hub_status == "committed"
    assert failed.value.todo and "Traceback" not in str(failed.value) and token not in str(failed.value)


def test_a_private_repo_is_published_but_blocked_for_runware(settings, workspace, hub):
    settings = hub_settings(settings, hub)
    paths, adapter, samples = make_run(workspace)
    request = publishing.PublishRequest("20261127-mira", adapter=adapter, samples=samples, private=True,
                                        air="mysource:mira", repo_id="mira-private")
    events, version = run_publish(settings, request)
    assert hub.repos["alice/mira-private"]["private"] is True and version.hub_status == "committed"
    assert version.runware_status == "blocked" and "PUBLIC" in version.runware_message
    assert version.air is None
    assert any(e.payload.get("status") == "blocked" for e in events)
    assert "Not registered on Runware" in events[-1].message


def test_a_card_holding_a_secret_or_broken_yaml_is_refused_before_upload(settings, workspace, hub):
    settings = hub_settings(settings, hub)
    _, adapter, samples = make_run(workspace)
    card, _ = publishing.draft_card(settings, request_for(adapter, samples), account="alice")
    with pytest.raises(AppError, match="README.md contains your RUNWARE_API_KEY"):
        run_publish(settings, request_for(adapter, samples, card_text=card + f"\nkey: {RUNWARE_KEY}\n"))
    with pytest.raises(AppError, match="front matter is not valid YAML on line"):
        run_publish(settings, request_for(adapter, samples, card_text=card.replace("tags:", "tags: [", 1)))
    assert not hub.repos  # nothing was created or sent


def test_a_hub_that_stops_answering_fails_in_bounded_time_with_a_sentence(settings, workspace, hub):
    from core.publishing import hub as hub_client

    settings = hub_settings(settings, hub)
    _, adapter, samples = make_run(workspace)
    hub.stall_seconds = 3
    hub_client.set_timeouts(read=0.5)
    try:
        with pytest.raises(HubError) as failed:
            run_publish(settings, request_for(adapter, samples))
    finally:
        hub_client.set_timeouts(read=120.0)
        hub.stall_seconds = 0
    assert type(failed.value) is HubTimeout
    assert str(failed.value).startswith("The Hub did not answer in time while trying to check your token")
    _, version = run_publish(settings, request_for(adapter, samples))  # the normal bounds again
    assert version.hub_status == "committed"


def test_an_adapter_that_is_not_safetensors_or_names_a_local_folder_is_refused(settings, workspace, hub, tmp_path):
    from safetensors.numpy import save_file
    import numpy as np

    settings = hub_settings(settings, hub)
    _, _, samples = make_run(workspace)
    not_safetensors = tmp_path / "weights.safetensors"
    not_safetensors.write_bytes(b"PK\x03\x04 a zip, not an adapter")
    with pytest.raises(AppError, match="^The adapter file is not a safetensors file"):
        run_publish(settings, request_for(not_safetensors, samples))
    leaky = tmp_path / "leaky.safetensors"
    save_file({"a": np.zeros((2, 2), np.float32)}, str(leaky), metadata={"source": "/Users/me/lora/run1"})
    with pytest.raises(AppError, match="metadata 'source' names a folder on this computer"):
        run_publish(settings, request_for(leaky, samples))
    assert not hub.repos
