"""Auto-captions through the real transformers Florence-2 path, on a tiny random model built offline."""

import pytest

from core import jobs
from core.captions import captioner
from core.captions import store as captions
from core.dataset import datasets
from core.captions.captioner import CaptionOptions
from core.progress import Cancellation
from core.selftest.tiny_florence import build_tiny_florence
from tests.support.images import photo_image


@pytest.fixture(scope="session")
def tiny_florence(tmp_path_factory):
    return build_tiny_florence(tmp_path_factory.mktemp("florence"))


@pytest.fixture()
def dataset(workspace):
    dataset = datasets.create(workspace, "mira")
    for i in range(4):
        photo_image((96, 64), seed=i).save(dataset.images_dir / f"img{i}.png")
    captions.save(dataset, "img1", "hand written, keep me")
    (dataset.images_dir / "img3.png").write_bytes(b"not a png at all")  # one bad image
    return dataset


def test_batch_puts_the_trigger_first_skips_existing_and_survives_a_bad_image(workspace, dataset, tiny_florence):
    events = list(captioner.auto_caption(workspace, datasets.open_dataset(workspace, "mira"), CaptionOptions(model=str(tiny_florence), trigger="mira", max_new_tokens=8, num_beams=1)))
    result = events[-1].result
    assert result.captioned == ["img0", "img2"] and result.skipped == ["img1"]
    assert [stem for stem, _ in result.failed] == ["img3"] and "img3.png could not be captioned" in result.failed[0][1]
    assert result.device == "cpu"
    steps = [(e.step, e.total, e.payload.get("stem")) for e in events if e.payload.get("phase") == "caption"]
    assert steps == [(1, 3, "img0"), (2, 3, "img2"), (3, 3, "img3")]
    for stem in ("img0", "img2"):
        text = captions.read(dataset, stem)
        assert text.startswith("mira") and [v.source for v in captions.history(dataset, stem)] == ["auto"]
    assert captions.read(dataset, "img1") == "hand written, keep me"
    assert jobs.holder(workspace) is None  # the heavy slot is free again


def test_append_and_overwrite_policies(workspace, dataset, tiny_florence):
    options = CaptionOptions(model=str(tiny_florence), trigger="mira", policy="append", task="<CAPTION>", max_new_tokens=6, num_beams=1)
    captioner.run_all(workspace, datasets.open_dataset(workspace, "mira"), options, stems=["img1"])
    assert captions.read(dataset, "img1").startswith("mira, hand written, keep me")
    options.policy = "overwrite"
    captioner.run_all(workspace, datasets.open_dataset(workspace, "mira"), options, stems=["img1"])
    assert "hand written" not in captions.read(dataset, "img1")
    captions.undo(dataset)
    assert captions.read(dataset, "img1").startswith("mira, hand written, keep me")


def test_stop_keeps_what_was_captioned(workspace, dataset, tiny_florence):
    cancel = Cancellation()
    done = []
    for event in captioner.auto_caption(workspace, datasets.open_dataset(workspace, "mira"), CaptionOptions(model=str(tiny_florence), trigger="mira", max_new_tokens=4, num_beams=1), cancel=cancel):
        if event.payload.get("phase") == "caption":
            done.append(event.payload["stem"])
            cancel.request()
    result = event.result
    assert result.cancelled and result.captioned == ["img0"] and done == ["img0"]
    assert captions.read(dataset, "img0") != "" and captions.read(dataset, "img2") == ""


@pytest.mark.parametrize("raw, clean", [
    ("</s><s>The image shows a girl with red hair standing in a park.</s>", "a girl with red hair standing in a park."),
    ("In this image, we can see a cat on a sofa.", "a cat on a sofa."),
    ("This picture depicts A woman.", "a woman."),
])
def test_boilerplate_is_removed(raw, clean):
    assert captioner.clean(raw) == clean


def test_unknown_task_says_what_to_use(workspace, dataset):
    with pytest.raises(Exception, match="Use one of: <CAPTION>"):
        list(captioner.auto_caption(workspace, datasets.open_dataset(workspace, "mira"), CaptionOptions(task="<OD>")))


def test_first_use_downloads_the_model_with_progress(workspace, dataset, tiny_florence, tmp_path, monkeypatch):
    """The real huggingface_hub client downloads from a loopback Hub (only the network edge is fake)."""
    from huggingface_hub import HfApi

    from core.selftest.loopback_hub import FakeHub

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    hub = FakeHub(tokens={"hf_writer": "alice"}).start()
    try:
        api = HfApi(endpoint=hub.url, token="hf_writer")
        api.create_repo("alice/florence-tiny")
        api.upload_folder(repo_id="alice/florence-tiny", folder_path=str(tiny_florence))
        options = CaptionOptions(model="alice/florence-tiny", endpoint=hub.url, trigger="mira", max_new_tokens=4, num_beams=1)
        events = list(captioner.auto_caption(workspace, datasets.open_dataset(workspace, "mira"), options, stems=["img0"]))
    finally:
        hub.stop()
    downloads = [e for e in events if e.payload.get("phase") == "download"]
    assert downloads and downloads[-1].payload["bytes"] == downloads[-1].payload["total"] > 100_000
    assert "MB (first use only)" in downloads[-1].message
    assert events[-1].result.captioned == ["img0"]


def test_empty_auto_captions_are_counted_apart_and_write_nothing(workspace, dataset, tiny_florence):
    """With one new token the tiny model says only <s>: an empty caption, which must never replace a caption."""
    options = CaptionOptions(model=str(tiny_florence), trigger="mira", policy="overwrite", max_new_tokens=1, num_beams=1)
    result = captioner.run_all(workspace, datasets.open_dataset(workspace, "mira"), options, stems=["img0", "img1", "img2"])
    assert result.captioned == [] and result.empty == ["img0", "img1", "img2"]
    assert captions.read(dataset, "img1") == "hand written, keep me"  # kept, not overwritten by the bare trigger
    assert captions.read(dataset, "img0") == "" and not (dataset.images_dir / "img0.txt").exists()
    assert "Captioned 0 image(s)" in result.summary() and "3 came back empty (img0, img1, img2" in result.summary()


def test_a_failed_download_names_the_host_actually_used(workspace, dataset, tmp_path, monkeypatch):
    from core.errors import ModelError
    from tests.support.env import free_port

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    mirror = f"http://127.0.0.1:{free_port()}"  # HF_ENDPOINT pointing at a mirror nobody answers
    options = CaptionOptions(model="alice/florence-missing", endpoint=mirror, max_new_tokens=4, num_beams=1)
    with pytest.raises(ModelError) as caught:
        list(captioner.auto_caption(workspace, datasets.open_dataset(workspace, "mira"), options, stems=["img0"]))
    sentence = str(caught.value)
    assert f"could not be downloaded from {mirror} (" in sentence and "huggingface.co" not in sentence
    assert "HF_ENDPOINT" in sentence and "\n" not in sentence
    assert jobs.holder(workspace) is None
