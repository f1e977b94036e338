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
    assert sorted(p.name for p in trashed.iterdir()) == ["img1.png", "img1.txt", "removed.json"]
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


def test_several_pictures_removed_at_once_and_restored_from_the_trash(workspace):
    dataset = datasets.create(workspace, "mira")
    other = datasets.create(workspace, "mira-v2")
    for i in range(4):
        photo_image((64, 64), seed=i).save(dataset.images_dir / f"img{i}.png")
        captions.save(dataset, f"img{i}", f"mira {i}")
    photo_image((64, 64), seed=9).save(other.images_dir / "img1.png")
    with pytest.raises(datasets.NotFound, match="no image named 'nope'"):
        datasets.remove_images(workspace, "mira", ["img1", "nope"])
    assert len(dataset.items()) == 4  # nothing moved when one name was wrong

    datasets.remove_images(workspace, "mira", ["img1", "img3"])
    datasets.remove_image(workspace, "mira-v2", "img1")
    assert [i.stem for i in dataset.items()] == ["img0", "img2"]
    removed = datasets.removed_images(workspace, "mira")
    assert sorted(r.stem for r in removed) == ["img1", "img3"]  # not mira-v2's img1
    assert [r.stem for r in datasets.removed_images(workspace, "mira-v2")] == ["img1"]

    photo_image((64, 64), seed=7).save(dataset.images_dir / "img3.png")  # a new picture took the name meanwhile
    by_stem = {r.stem: r for r in removed}
    assert datasets.restore_image(workspace, "mira", by_stem["img1"].id) == "img1"
    assert datasets.restore_image(workspace, "mira", by_stem["img3"].id) == "img3_2"
    assert [i.stem for i in dataset.items()] == ["img0", "img1", "img2", "img3", "img3_2"]
    assert captions.read(dataset, "img1") == "mira 1" and captions.read(dataset, "img3_2") == "mira 3"
    assert datasets.removed_images(workspace, "mira") == [] and not by_stem["img1"].folder.exists()
