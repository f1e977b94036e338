"""Publish checks everything before its first write on the Hub: the AIR, the repo name, a self-test adapter; the
card's numbers are the run's and repeated samples are sent once (loopback Hub and Runware, real clients)."""

from __future__ import annotations

import shutil

import pytest

from core.errors import PublishError
from core.publishing import publish as publishing
from core.publishing.model_card import SELFTEST_BANNER
from core.runs.record import RunRecord
from core.selftest.loopback_hub import FakeHub
from tests.support.publishing import HF_TOKEN, hub_settings, make_run


@pytest.fixture()
def hub():
    server = FakeHub(tokens={HF_TOKEN: "alice"}).start()
    yield server
    server.stop()


def publish_with(settings, adapter, samples, **kw):
    kw.setdefault("repo_id", "mira-lora")
    events = list(publishing.publish(settings, publishing.PublishRequest("20261127-mira", adapter=adapter,
                                                                         samples=samples, **kw)))
    return events, events[-1].result


@pytest.mark.parametrize("air, expected", [
    (None, "Runware needs the AIR source and id for this LoRA"),
    ("   ", "Runware needs the AIR source and id for this LoRA"),
    ("mira lora", "'mira lora' is not a Runware AIR source and id"),
    ("Source:mira", "'Source:mira' is not a Runware AIR source and id"),
    ("mysource:mira@v2", "'mysource:mira@v2' is not a Runware AIR source and id"),
])
def test_a_missing_or_malformed_air_is_refused_before_any_repo_is_created(settings, workspace, hub, air, expected):
    live = hub_settings(settings, hub)
    paths, adapter, samples = make_run(workspace)
    with pytest.raises(PublishError) as failed:
        publish_with(live, adapter, samples, air=air)
    assert str(failed.value).startswith(expected)
    assert hub.repos == {}  # no empty public repository left behind
    assert not paths.publish_json.exists()
    assert not (workspace.outputs_dir / "runware.json").exists()  # no AIR remembered either


def test_an_empty_repo_name_is_refused_and_no_name_announces_the_default(settings, workspace, hub):
    live = hub_settings(settings, hub)
    _, adapter, samples = make_run(workspace)
    with pytest.raises(PublishError) as failed:
        publish_with(live, adapter, samples, repo_id="  ", runware=False)
    assert str(failed.value).startswith("The repo name is empty.")
    assert "mira-flux2-klein-lora" in failed.value.todo and hub.repos == {}
    with pytest.raises(PublishError, match="is not a valid Hub repo name"):
        publish_with(live, adapter, samples, repo_id="my lora", runware=False)
    assert hub.repos == {}
    events, version = publish_with(live, adapter, samples, repo_id=None, runware=False)
    assert version.repo_id == "alice/mira-flux2-klein-lora"
    assert "publishing to alice/mira-flux2-klein-lora (the default name for this run)" in events[1].message


def _selftest_run(workspace):
    paths, adapter, samples = make_run(workspace)
    record = paths.read_record()
    record.model = "selftest"
    paths.write_record(record)
    return paths, adapter, samples


def test_a_selftest_adapter_is_refused_before_the_hub_with_how_to_test_anyway(settings, workspace, hub):
    live = hub_settings(settings, hub)
    _, adapter, samples = _selftest_run(workspace)
    with pytest.raises(PublishError) as failed:
        publish_with(live, adapter, samples, air="story:mira")
    assert str(failed.value).startswith("Run 20261127-mira was trained on the self-test model (tiny and random)")
    assert "not a FLUX.2 klein 4B character LoRA" in str(failed.value) and "--selftest" in failed.value.todo
    assert hub.repos == {}


def test_an_adapter_exported_from_a_selftest_run_is_refused_on_any_run(settings, workspace, hub, tmp_path):
    from safetensors.numpy import load_file, save_file

    live = hub_settings(settings, hub)
    _, adapter, samples = make_run(workspace)  # a run of the real model
    exported = tmp_path / "selftest-step0000004.safetensors"
    save_file(load_file(str(adapter)), str(exported), metadata={"format": "pt", "base_model": "selftest",
                                                                "base_model_key": "selftest"})
    with pytest.raises(PublishError, match="^The adapter selftest-step0000004.safetensors was exported from a self-test"):
        publish_with(live, exported, samples, runware=False)
    assert hub.repos == {}


def test_an_allowed_selftest_adapter_is_labelled_on_the_card_the_record_and_runware(runware_settings, fake_runware,
                                                                                   workspace, hub):
    live = hub_settings(runware_settings, hub, runware_key=fake_runware.api_key)
    paths, adapter, samples = _selftest_run(workspace)
    events, version = publish_with(live, adapter, samples, air="story:mira", allow_selftest=True)
    readme = hub.files("alice/mira-lora")["README.md"].decode()
    assert SELFTEST_BANNER in readme and "# mira-lora (SELF-TEST)" in readme and "- selftest" in readme
    assert version.selftest is True and publishing.read_record(paths).versions[0].selftest is True
    assert fake_runware.tasks("modelUpload")[-1]["name"] == "SELF-TEST mira-lora"
    assert "Self-test adapter" in events[2].message
    # A draft the person wrote gets the banner too: a self-test is never published unlabelled.
    publishing.model_card.save_draft(paths, "---\nbase_model: black-forest-labs/FLUX.2-klein-base-4B\n---\n\n# Mine\n\nHi\n")
    publish_with(live, adapter, samples[:1], air="story:mira", allow_selftest=True, runware=False)
    readme = hub.files("alice/mira-lora")["README.md"].decode()
    assert readme.index("# Mine") < readme.index(SELFTEST_BANNER) < readme.index("Hi")


def test_the_card_shows_the_runs_training_numbers_and_labels_the_preview_sampling(settings, workspace, hub):
    live = hub_settings(settings, hub)
    paths, adapter, samples = make_run(workspace)
    paths.write_record(RunRecord(dataset="mira", trigger="mira", status="completed", total_steps=480, step=480,
                                 max_resolution=512))
    _, version = publish_with(live, adapter, samples, runware=False)
    readme = hub.files(version.repo_id)["README.md"].decode()
    training = readme[readme.index("## Training settings"):readme.index("## Sampling settings of the training previews")]
    for row in ("| training steps | 480 |", "| epochs | 2 |", "| batch size | 1 |", "| LoRA rank | 4 |", "| seed | 42 |"):
        assert row in training
    assert "| steps |" not in readme  # train.json's steps: 4 is how previews were sampled
    sampling = readme[readme.index("## Sampling settings of the training previews"):]
    assert "| preview sampling steps | 4 |" in sampling and "not the training length" in sampling


def test_byte_identical_samples_are_sent_once_and_the_candidates_list_them_once(settings, workspace, hub):
    from PIL import Image

    live = hub_settings(settings, hub)
    paths, adapter, samples = make_run(workspace, samples=2)
    copy = samples[0].with_name("sample_0_copy.png")
    shutil.copyfile(samples[0], copy)
    resaved = samples[0].with_name("sample_0_resaved.png")  # the same pixels, other metadata
    Image.open(samples[0]).save(resaved)
    events, version = publish_with(live, adapter, [samples[0], copy, samples[1], resaved], runware=False)
    files = hub.files(version.repo_id)
    assert sorted(p for p in files if p.startswith("samples/")) == ["samples/01.png", "samples/02.png"]
    assert files["samples/01.png"] != files["samples/02.png"]
    readme = files["README.md"].decode()
    assert "url: samples/02.png" in readme and "samples/03.png" not in readme
    assert "(2 duplicate samples left out)" in events[2].message
    candidates = publishing.sample_candidates(workspace, paths)
    assert copy not in candidates or samples[0] not in candidates
    assert len(candidates) == 3  # sample_0 and its byte-copy are one candidate; the re-saved file has other bytes
