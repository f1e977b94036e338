"""Pre-flight check on real images: errors block training, warnings do not."""

from PIL import ImageFilter

from core.captions import store as captions
from core.dataset import datasets
from core.dataset import preflight
from tests.support.images import photo_image


def _dataset(workspace, count=6, size=(1024, 768)):
    dataset = datasets.create(workspace, "mira", trigger="mira")
    for i in range(count):
        photo_image(size, seed=20 + i).save(dataset.images_dir / f"img{i}.png")
        captions.save(dataset, f"img{i}", f"mira, a character standing in a park, pose {i}")
    return dataset


def test_a_clean_dataset_is_ready_and_counts_iterations(workspace):
    _dataset(workspace, count=7)
    result = preflight.check(workspace, "mira", resolution=1024, epochs=10, batch_size=2)
    assert result.ready and not result.errors and not result.warnings, result.to_dict()
    assert result.iterations == 10 * 4
    assert "Ready to train: 7 image(s)" in result.summary()
    assert result.to_dict()["rows"][0]["width"] == 1024


def test_every_problem_is_found_and_only_errors_block(workspace):
    dataset = _dataset(workspace)
    photo_image((1024, 768), seed=20).resize((900, 675)).save(dataset.images_dir / "dup.png")  # near-duplicate of img0
    captions.save(dataset, "dup", "mira, a character standing in a park again")
    photo_image((1024, 768), seed=40).filter(ImageFilter.GaussianBlur(8)).save(dataset.images_dir / "soft.png")
    captions.save(dataset, "soft", "a character without the trigger word here")
    photo_image((2000, 400), seed=41).save(dataset.images_dir / "strip.png")
    captions.save(dataset, "strip", "mira, " + "word " * 300)
    photo_image((300, 300), seed=42).save(dataset.images_dir / "tiny.png")
    captions.save(dataset, "tiny", "mira")
    photo_image((500, 500), seed=43).save(dataset.images_dir / "nocap.png")
    (dataset.images_dir / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 50)
    captions.save(dataset, "cut", "mira, cut file")
    (dataset.images_dir / "empty.png").write_bytes((dataset.images_dir / "img1.png").read_bytes())
    (dataset.images_dir / "empty.txt").write_text("  ")
    (dataset.images_dir / "phone.heic").write_bytes(b"x")
    (dataset.images_dir / "img5.txt").write_bytes("미라".encode("cp949"))
    (dataset.images_dir / ".mflux_cache").mkdir()
    (dataset.images_dir / ".mflux_cache" / "junk.gif").write_bytes(b"x")

    result = preflight.check(workspace, "mira", resolution=1024, epochs=2)
    codes = {(f.code, f.stem) for f in result.errors}
    assert codes == {("unreadable", "cut"), ("no_caption", "nocap"), ("empty_caption", "empty"), ("caption_encoding", "img5")}
    warnings = {(f.code, f.stem) for f in result.warnings}
    pairs = [f.message for f in result.warnings if f.code == "duplicate"]
    assert any("dup" in m and "img0" in m for m in pairs)
    assert any("empty" in m and "img1" in m for m in pairs)  # a byte copy
    assert len(pairs) == 2
    assert ("blurry", "soft") in warnings and ("blurry", "img0") not in warnings
    assert ("no_trigger", "soft") in warnings
    assert ("aspect", "strip") in warnings and ("long_caption", "strip") in warnings
    assert ("small", "tiny") in warnings and ("short_caption", "tiny") not in warnings
    assert any(f.code == "skipped_format" and "phone.heic" in f.message for f in result.warnings)
    assert not any("mflux_cache" in f.message or "junk" in f.message for f in result.warnings + result.errors)
    assert not result.ready and result.summary().startswith("Not ready to train")
    assert result.iterations == 2 * 13
    rows = {row.stem: row for row in result.rows}
    assert rows["cut"].level == "error" and rows["soft"].level == "warning" and rows["img2"].level == "ok"


def test_look_alikes_are_one_finding_per_group_not_one_per_pair(workspace):
    dataset = _dataset(workspace, count=6)
    for i in range(5):  # five copies of img0: ten pairs, one group
        photo_image((1024, 768), seed=20).resize((1000 - 20 * i, 750 - 15 * i)).save(dataset.images_dir / f"copy{i}.png")
    for i in range(2):  # two copies of img1: a second group
        photo_image((1024, 768), seed=21).save(dataset.images_dir / f"again{i}.png")
    result = preflight.check(workspace, "mira", resolution=1024)
    groups = [f for f in result.warnings if f.code == "duplicate"]
    assert len(groups) == 2, [f.message for f in groups]
    assert sorted(map(tuple, (g.stems for g in groups))) == [("again0", "again1", "img1"),
                                                              ("copy0", "copy1", "copy2", "copy3", "copy4", "img0")]
    assert "6 pictures look alike" in " ".join(g.message for g in groups)
    rows = {r.stem: r for r in result.rows}
    assert len([p for p in rows["copy3"].problems if "look" in p]) == 1  # one line per picture, not one per pair
    assert rows["img2"].level == "ok"


def test_flat_pictures_of_different_colours_are_not_duplicates(workspace):
    from PIL import Image

    dataset = _dataset(workspace, count=6)
    for name, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220)), ("green", (20, 200, 20)), ("red2", (222, 22, 20))):
        Image.new("RGB", (1024, 1024), colour).save(dataset.images_dir / f"{name}.png")
    result = preflight.check(workspace, "mira", resolution=1024)
    groups = [f.stems for f in result.warnings if f.code == "duplicate"]
    assert groups == [["red", "red2"]]  # the same colour still is a duplicate
