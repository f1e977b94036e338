"""Datasets: create, rename, duplicate, delete to the trash, remove one image without touching the others."""

import pytest

from core.captions import store as captions
from core.dataset import datasets
from core.dataset.images import Preprocess
from tests.support.images import photo_image


def test_life_of_a_dataset(workspace):
    dataset = datasets.create(workspace, "미라 v1", preprocess=Preprocess(resolution=768, crop="center", aspect="4:5"), trigger="mira")
    assert dataset.preprocess.resolution == 768 and dataset.preprocess.aspect == "4:5" and dataset.trigger == "mira"
    with pytest.raises(datasets.DatasetExists):
        datasets.create(workspace, "미라 v1")
    for i in range(3):
        photo_image((64, 64), seed=i).save(dataset.images_dir / f"img{i}.png")
        captions.save(dataset, f"img{i}", f"mira {i}")
    (dataset.images_dir / ".mflux_cache").mkdir()
    renamed = datasets.rename(workspace, "미라 v1", "mira")
    assert datasets.list_names(workspace) == ["mira"]
    copy = datasets.duplicate(workspace, "mira", "mira copy")
    assert [i.stem for i in copy.items()] == ["img0", "img1", "img2"] and not (copy.images_dir / ".mflux_cache").exists()
    captions.save(copy, "img0", "changed in the copy")
    assert captions.read(renamed, "img0") == "mira 0"

    trashed = datasets.remove_image(workspace, "mira", "img1")
    assert sorted(p.name for p in trashed.iterdir()) == ["img1.png", "img1.txt"]
    assert [i.stem for i in renamed.items()] == ["img0", "img2"]
    assert captions.read(renamed, "img0") == "mira 0" and captions.read(renamed, "img2") == "mira 2"

    where = datasets.delete(workspace, "mira copy")
    assert where.is_dir() and (where / "images" / "img0.txt").read_text() == "changed in the copy"
    assert datasets.list_names(workspace) == ["mira"]


def test_bad_settings_say_what_to_do():
    with pytest.raises(Exception, match="Pick 512, 768 or 1024"):
        Preprocess(resolution=10).validate()
    with pytest.raises(Exception, match="hex colour"):
        Preprocess(background="blue").validate()
