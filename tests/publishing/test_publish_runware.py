"""One publish from Hub commit to a Runware model that is ready: real huggingface_hub and real runware-sdk
against the loopback Hub and Runware servers (the fake Runware downloads the pinned URL from the fake Hub)."""

from __future__ import annotations

import dataclasses

import pytest

from core.publishing import publish as publishing
from core.errors import AppError
from core.selftest.loopback_hub import FakeHub
from tests.support.publishing import HF_TOKEN, hub_settings, make_run


@pytest.fixture()
def hub():
    server = FakeHub(tokens={HF_TOKEN: "alice"}).start()
    yield server
    server.stop()


@pytest.fixture()
def live(runware_settings, fake_runware, hub):
    return hub_settings(runware_settings, hub, runware_key=fake_runware.api_key)


def publish_all(settings, adapter, samples, **kw):
    request = publishing.PublishRequest("20261127-mira", repo_id="mira-lora", adapter=adapter, samples=samples,
                                        strength=0.85, **kw)
    events = list(publishing.publish(settings, request))
    return events, events[-1].result


def test_publish_registers_the_pinned_file_and_waits_until_ready(live, workspace, hub, fake_runware):
    paths, adapter, samples = make_run(workspace)
    events, version = publish_all(live, adapter, samples, air="mysource:mira")

    stages = [e.payload.get("status") for e in events if e.payload.get("stage") == "runware"]
    assert stages[:7] == ["sending", "architecture", "validated", "downloaded", "optimized", "stored", "ready"]
    assert stages[7:] == ["ready"]  # the publish's own summary of the stage
    assert version.runware_status == "ready" and version.air == "mysource:mira@1"
    assert version.architecture == fake_runware.architecture and version.architecture_source == "runware"
    upload = fake_runware.tasks("modelUpload")[-1]
    assert upload["downloadURL"] == version.url and f"/resolve/{version.commit}/" in upload["downloadURL"]
    assert upload["uniqueIdentifier"] == version.sha256 and upload["defaultWeight"] == 0.85
    assert upload["air"] == "mysource:mira@1" and upload["positiveTriggerWords"] == "mira" and upload["version"] == "1"
    assert upload["architecture"] == fake_runware.architecture  # what modelSearch reported, never a constant
    assert fake_runware.models["mysource:mira@1"].status == "ready"  # it downloaded the URL and the sha256 matched
    assert "is ready" in events[-1].message
    assert HF_TOKEN not in str(fake_runware.received)  # the Hub token never goes to Runware
    saved = publishing.read_record(paths).versions[0]
    assert saved.runware_status == "ready" and saved.air == "mysource:mira@1"

    # The same click again: no commit, no upload, the same AIR.
    uploads, commits = len(fake_runware.tasks("modelUpload")), hub.commit_count("alice/mira-lora")
    _, again = publish_all(live, adapter, samples)
    assert again.air == "mysource:mira@1" and again.runware_status == "ready"
    assert len(fake_runware.tasks("modelUpload")) == uploads and hub.commit_count("alice/mira-lora") == commits


def test_a_new_adapter_gets_the_next_version_of_the_remembered_air(live, workspace, hub, fake_runware):
    _, adapter, samples = make_run(workspace)
    publish_all(live, adapter, samples, air="mysource:mira")
    _, newer, _ = make_run(workspace, run_id="20261127-mira", seed=7)  # a retrained adapter, same run
    _, version = publish_all(live, newer, samples)  # no AIR typed: remembered
    assert version.air == "mysource:mira@2" and version.runware_status == "ready"
    assert sorted(fake_runware.models) == ["mysource:mira@1", "mysource:mira@2"]


def test_a_failed_registration_is_recorded_and_the_same_publish_then_finishes(live, workspace, hub, fake_runware):
    paths, adapter, samples = make_run(workspace)
    fake_runware.upload_fault = "failed"
    with pytest.raises(AppError) as failed:
        publish_all(live, adapter, samples, air="mysource:mira")
    assert "could not deploy mysource:mira@1" in str(failed.value)
    entry = publishing.read_record(paths).versions[0]
    assert entry.hub_status == "committed" and entry.runware_status == "failed"
    assert entry.runware_message == str(failed.value)
    assert publishing.read_record(paths).ready_air() is None  # a failed registration is not offered to the Playground

    fake_runware.upload_fault = None
    commits = hub.commit_count("alice/mira-lora")
    _, version = publish_all(live, adapter, samples)
    assert version.runware_status == "ready" and version.air == "mysource:mira@1"  # the version is kept
    assert publishing.read_record(paths).ready_air() == "mysource:mira@1"
    assert hub.commit_count("alice/mira-lora") == commits


def test_without_an_air_nothing_reaches_the_hub_and_the_message_says_what_to_type(live, workspace, hub, fake_runware):
    paths, adapter, samples = make_run(workspace)
    with pytest.raises(AppError) as failed:
        publish_all(live, adapter, samples)
    assert str(failed.value).startswith("Runware needs the AIR source and id")
    assert "untick Runware registration" in failed.value.todo
    assert hub.repos == {} and publishing.read_record(paths).versions == []  # no empty public repo left behind
    assert fake_runware.tasks("modelUpload") == []
    _, version = publish_all(live, adapter, samples, air="mysource:mira")
    assert version.runware_status == "ready" and hub.commit_count("alice/mira-lora") == 2


def test_an_unresolvable_architecture_refuses_to_register(live, workspace, hub, fake_runware):
    paths, adapter, samples = make_run(workspace)
    fake_runware.architectures.clear()
    with pytest.raises(AppError, match="RUNWARE_ARCHITECTURE"):
        publish_all(live, adapter, samples, air="mysource:mira")
    assert fake_runware.tasks("modelUpload") == []
    assert publishing.read_record(paths).versions[0].runware_status == "failed"
    fake_runware.architectures["runware:1@1"] = "my-klein"  # a value uploads accept; the base stays unknown
    override = dataclasses.replace(live, runware_architecture="my-klein")
    _, version = publish_all(override, adapter, samples)
    assert version.runware_status == "ready" and version.architecture_source == "override"
    assert version.architecture == fake_runware.tasks("modelUpload")[-1]["architecture"] == "my-klein"


def test_stop_while_waiting_for_runware_keeps_the_version_and_the_next_click_finishes(live, workspace, hub,
                                                                                      fake_runware):
    from core.progress import Cancellation, Cancelled

    paths, adapter, samples = make_run(workspace)
    fake_runware.stage_delay = 0.5
    cancel = Cancellation()
    request = publishing.PublishRequest("20261127-mira", repo_id="mira-lora", adapter=adapter, samples=samples,
                                        air="mysource:mira")
    seen = []
    with pytest.raises(Cancelled):
        for event in publishing.publish(live, request, cancel):
            seen.append(event.payload.get("status"))
            if event.payload.get("status") == "validated":
                cancel.request()
    assert "ready" not in seen
    entry = publishing.read_record(paths).versions[0]
    assert entry.runware_status == "pending" and entry.air == "mysource:mira@1"
    assert "publish again" in entry.runware_message
    fake_runware.stage_delay = 0.01
    _, version = publish_all(live, adapter, samples)
    assert version.runware_status == "ready" and version.air == "mysource:mira@1"


def test_a_private_repo_made_public_on_the_hub_is_registered_by_the_next_publish(live, workspace, hub, fake_runware):
    paths, adapter, samples = make_run(workspace)
    request = dict(private=True, air="mysource:mira")
    _, blocked = publish_all(live, adapter, samples, **request)
    assert blocked.runware_status == "blocked" and fake_runware.tasks("modelUpload") == []
    hub.repos["alice/mira-lora"]["private"] = False  # the person flips it to public on the Hub's settings page
    _, version = publish_all(live, adapter, samples, **request)
    assert version.private is False and version.runware_status == "ready" and version.air == "mysource:mira@1"
    assert hub.commit_count("alice/mira-lora") == 2
