"""The Caption Editor's autosave rule (core.captions.autosave): what leaving an image writes, and what it must not."""

import pytest

from core.captions import store as captions
from core.captions.autosave import Autosave, autosave
from core.dataset import datasets
from tests.support.images import photo_image


@pytest.fixture()
def dataset(workspace):
    dataset = datasets.create(workspace, "mira")
    for i in range(2):
        photo_image((64, 64), seed=i).save(dataset.images_dir / f"img{i}.png")
    return dataset


def test_typed_text_is_saved_and_an_untouched_box_writes_nothing(dataset):
    captions.save(dataset, "img0", "mira, a portrait")
    assert autosave(dataset, "img0", "mira, a portrait", "mira, a portrait") is Autosave.UNCHANGED
    assert len(captions.history(dataset, "img0")) == 1
    assert autosave(dataset, "img0", "mira, smiling", "mira, a portrait") is Autosave.SAVED
    assert captions.read(dataset, "img0") == "mira, smiling"
    assert [v.text for v in captions.history(dataset, "img0")] == ["mira, a portrait", "mira, smiling"]


def test_an_emptied_box_never_wipes_a_caption_but_fills_an_empty_one(dataset):
    captions.save(dataset, "img0", "mira, a portrait")
    assert autosave(dataset, "img0", "", "mira, a portrait") is Autosave.KEPT
    assert autosave(dataset, "img0", "   ", "mira, a portrait") is Autosave.KEPT
    assert captions.read(dataset, "img0") == "mira, a portrait"
    assert autosave(dataset, "img1", "mira, standing", "") is Autosave.SAVED  # img1 had no caption
    assert captions.read(dataset, "img1") == "mira, standing"


def test_text_already_on_disk_no_image_and_unreadable_files_write_nothing(dataset):
    captions.save(dataset, "img0", "written meanwhile")  # e.g. by a bulk edit since the editor loaded
    assert autosave(dataset, "img0", "written meanwhile", "older") is Autosave.UNCHANGED
    assert len(captions.history(dataset, "img0")) == 1
    assert autosave(dataset, None, "text", "") is Autosave.UNCHANGED
    assert autosave(dataset, "img0", None, "older") is Autosave.UNCHANGED
    latin1 = "café".encode("latin-1")
    (dataset.images_dir / "img1.txt").write_bytes(latin1)
    assert autosave(dataset, "img1", "mira", None) is Autosave.UNCHANGED  # the editor could not read it
    assert autosave(dataset, "img1", "mira", "café") is Autosave.UNCHANGED  # not UTF-8 on disk: left alone
    assert (dataset.images_dir / "img1.txt").read_bytes() == latin1
