"""Importing a messy folder with real Pillow files: what is accepted, what is refused and why."""

import io
import zipfile

import pytest
from PIL import Image

from core.captions import store as captions
from core.dataset import datasets
from core.dataset.importer import run_import, safe_stem
from core.dataset.images import Preprocess, prepare, register_heif
from tests.support.images import photo_image


def _exif_rotated_jpeg(path, size=(400, 300), orientation=6, seed=3):
    image = photo_image(size, seed=seed)
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, "JPEG", exif=exif.tobytes(), quality=92)
    return path


def test_exif_rotation_alpha_flatten_crop_and_resize(tmp_path):
    source = _exif_rotated_jpeg(tmp_path / "phone.jpg", size=(2000, 1500))
    done = prepare(source, tmp_path / "out.png", Preprocess(resolution=512))
    with Image.open(tmp_path / "out.png") as out:
        assert out.format == "PNG" and out.mode == "RGB"
        assert out.size == (384, 512)  # turned upright by EXIF (portrait), long side 512
    assert done.original_size == (2000, 1500)

    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (100, 50, 200, 150))
    rgba.save(tmp_path / "alpha.png")
    prepare(tmp_path / "alpha.png", tmp_path / "flat.png", Preprocess(resolution=512, crop="center", aspect="1:1", background="#00ff00"))
    with Image.open(tmp_path / "flat.png") as flat:
        assert flat.size == (200, 200)
        assert flat.getpixel((0, 0)) == (0, 255, 0) and flat.getpixel((100, 100)) == (255, 0, 0)


def test_subject_crop_follows_the_character(tmp_path):
    image = Image.new("RGB", (900, 300), (250, 250, 250))
    image.paste((20, 20, 200), (700, 100, 800, 250))  # the subject, far right
    image.save(tmp_path / "wide.png")
    prepare(tmp_path / "wide.png", tmp_path / "sub.png", Preprocess(resolution=1024, crop="subject", aspect="1:1"))
    with Image.open(tmp_path / "sub.png") as out:
        assert out.size == (300, 300)
        assert out.getpixel((150, 170)) == (20, 20, 200)  # the subject is in the crop


def test_messy_folder_imports_what_it_can_and_says_why_not(workspace, tmp_path):
    folder = tmp_path / "messy"
    folder.mkdir()
    photo_image((640, 480), seed=1).save(folder / "good one.jpg")
    photo_image((500, 500), seed=2).convert("CMYK").save(folder / "cmyk.jpg")
    (folder / "mira 미라.png").write_bytes(b"")  # zero bytes
    (folder / "notes.png").write_text("this is not an image")
    full = io.BytesIO()
    photo_image((800, 600), seed=4).save(full, "JPEG")
    (folder / "cut.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    sixteen = Image.fromarray(__import__("numpy").full((64, 64), 40000, dtype="uint16"))
    sixteen.save(folder / "deep.png")
    frames = [photo_image((64, 64), seed=s) for s in (5, 6)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    pal = Image.new("P", (64, 64), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (16, 16, 48, 48))
    pal.save(folder / "palette.png", transparency=0)
    register_heif()
    photo_image((320, 240), seed=7).save(folder / "photo.heic")
    (folder / "good one.txt").write_text("mira, 미라 웃는 얼굴", encoding="utf-8")
    (folder / "cmyk.txt").write_bytes("미라".encode("cp949"))
    (folder / "orphan.txt").write_text("no image", encoding="utf-8")
    (folder / "readme.md").write_text("x")
    (folder / ".mflux_cache").mkdir()
    (folder / ".mflux_cache" / "x.png").write_bytes(b"junk")

    report = run_import(workspace, "mira", [folder])
    by_name = {f.source.rsplit("/", 1)[-1]: f for f in report.files}
    for accepted in ("good one.jpg", "cmyk.jpg", "deep.png", "anim.gif", "palette.png", "photo.heic"):
        assert by_name[accepted].accepted, by_name[accepted]
    assert "empty (0 bytes)" in by_name["mira 미라.png"].reason
    assert "not an image" in by_name["notes.png"].reason
    assert "truncated or damaged" in by_name["cut.jpg"].reason
    assert "not an image format" in by_name["readme.md"].reason
    assert "not UTF-8" in by_name["cmyk.txt"].reason and not by_name["cmyk.txt"].accepted
    assert "only its first frame" in by_name["anim.gif"].warnings[0]
    assert "no image named 'orphan'" in by_name["orphan.txt"].reason
    assert not any(".mflux_cache" in f.source for f in report.files)
    dataset = datasets.open_dataset(workspace, "mira")
    stems = [item.stem for item in dataset.items()]
    assert sorted(stems) == sorted(["good_one", "cmyk", "deep", "anim", "palette", "photo"])
    assert captions.read(dataset, "good_one") == "mira, 미라 웃는 얼굴"
    assert "cmyk" in report.images_without_captions
    with Image.open(dataset.images_dir / "deep.png") as deep:
        assert deep.mode == "RGB" and 150 <= deep.getpixel((0, 0))[0] <= 160  # 40000/65535*255
    with Image.open(dataset.images_dir / "palette.png") as flat:
        assert flat.getpixel((0, 0)) == (255, 255, 255) and flat.getpixel((30, 30)) == (0, 0, 255)
    assert (dataset.raw_dir).is_dir() and any(p.name == "good one.jpg" for p in dataset.raw_dir.rglob("*"))


def test_zip_with_paths_outside_its_root_is_refused_member_by_member(workspace, tmp_path):
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as z:
        buffer = io.BytesIO()
        photo_image((300, 200), seed=8).save(buffer, "PNG")
        z.writestr("set/a.png", buffer.getvalue())
        z.writestr("set/a.txt", "mira standing")
        z.writestr("../evil.png", buffer.getvalue())
        z.writestr("/abs.png", buffer.getvalue())
    report = run_import(workspace, "zipped", [archive])
    refused = [f for f in report.files if "outside the zip" in f.reason]
    assert len(refused) == 2
    assert not (tmp_path / "evil.png").exists() and not (workspace.datasets_dir / "evil.png").exists()
    dataset = datasets.open_dataset(workspace, "zipped")
    assert [i.stem for i in dataset.items()] == ["a"] and captions.read(dataset, "a") == "mira standing"


def test_separate_captions_folder_pairs_by_stem_and_nothing_existing_is_lost(workspace, tmp_path):
    processed, caps = tmp_path / "processed", tmp_path / "captions"
    processed.mkdir(), caps.mkdir()
    for i in range(5):
        photo_image((300, 300), seed=10 + i).save(processed / f"img{i}.png")
    for i in (0, 1, 2, 9):
        (caps / f"img{i}.txt").write_text(f"mira pose {i}", encoding="utf-8")
    report = run_import(workspace, "layout", [processed], captions_dir=caps)
    assert len(report.accepted) == 5
    assert sorted(report.images_without_captions) == ["img3", "img4"]
    assert [c.rsplit("/", 1)[-1] for c in report.captions_without_images] == ["img9.txt"]
    dataset = datasets.open_dataset(workspace, "layout")
    captions.save(dataset, "img0", "hand written, keep me")
    photo_image((300, 300), seed=99).save(processed / "img0.png")  # a new picture under a name already taken
    again = run_import(workspace, "layout", [processed], captions_dir=caps)
    assert [f.stem for f in again.accepted] == ["img0_2"]
    assert captions.read(dataset, "img0") == "hand written, keep me"
    assert len(dataset.items()) == 6


def test_decompression_bomb_is_refused_with_the_limit(tmp_path, monkeypatch):
    from core.dataset import images

    Image.new("RGB", (2000, 2000)).save(tmp_path / "big.png")
    with pytest.raises(images.ImageRejected, match="above the limit of 1,000,000 pixels"):
        images.open_image(tmp_path / "big.png", max_pixels=1_000_000)


@pytest.mark.parametrize("name, stem", [("a b.png", "a_b"), ("../../x.png", "x"), ("미라 1.jpg", "미라_1"), (".hidden.png", "hidden")])
def test_safe_stems(name, stem):
    assert safe_stem(name) == stem


def test_many_files_go_through_the_process_pool(workspace, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(6):
        _exif_rotated_jpeg(folder / f"p{i}.jpg", size=(1200, 900), seed=3 + i)  # six different pictures
    report = run_import(workspace, "pool", [folder])
    assert len(report.accepted) == 6 and not report.rejected
    dataset = datasets.open_dataset(workspace, "pool")
    dataset.save_settings(preprocess=Preprocess(resolution=512))
    for item in dataset.items():
        with Image.open(item.image) as image:
            assert image.size == (768, 1024)


def test_pictures_already_in_the_dataset_are_skipped_and_said_so(workspace, tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(3):
        photo_image((300, 200), seed=30 + i).save(folder / f"alpha{i}.png")
    (folder / "alpha0.txt").write_text("mira, first caption", encoding="utf-8")
    first = run_import(workspace, "mira", [folder])
    assert len(first.accepted) == 3
    dataset = datasets.open_dataset(workspace, "mira")
    captions.save(dataset, "alpha0", "hand written, keep me")

    (folder / "alpha0.txt").write_text("mira, a caption that must not replace the hand-written one", encoding="utf-8")
    (folder / "alpha1.txt").write_text("mira, alpha1 had no caption", encoding="utf-8")
    (folder / "copy of alpha2.png").write_bytes((folder / "alpha2.png").read_bytes())  # same bytes, another name
    photo_image((300, 200), seed=40).save(folder / "new.png")
    again = run_import(workspace, "mira", [folder])
    assert [f.stem for f in again.accepted] == ["new"]
    assert sorted(f.duplicate_of for f in again.already) == ["alpha0", "alpha1", "alpha2", "alpha2"]
    assert not again.rejected
    assert "1 image(s) imported into 'mira', 4 already in the dataset, skipped, 0 file(s) rejected." in again.summary()
    assert sorted(i.stem for i in dataset.items()) == ["alpha0", "alpha1", "alpha2", "new"]  # no alpha0_2
    assert captions.read(dataset, "alpha0") == "hand written, keep me"
    assert captions.read(dataset, "alpha1") == "mira, alpha1 had no caption"  # it had none: the imported one is used
    assert not again.captions_without_images

    # A dataset imported before sources.json was kept: the same training image is recognised all the same.
    (dataset.root / "sources.json").unlink()
    legacy = run_import(workspace, "mira", [folder / "alpha1.png"])
    assert not legacy.accepted and [f.duplicate_of for f in legacy.already] == ["alpha1"]
    assert sorted(i.stem for i in dataset.items()) == ["alpha0", "alpha1", "alpha2", "new"]

    # One picture twice in one import: the second is skipped. A picture removed to the trash comes back.
    datasets.remove_image(workspace, "mira", "new")
    twice = run_import(workspace, "mira", [folder / "new.png", folder / "new.png"])
    assert [f.stem for f in twice.accepted] == ["new"] and len(twice.already) == 1
    assert "earlier in this import" in twice.already[0].reason


def test_a_folder_that_does_not_exist_is_said_so_and_unsupported_files_name_every_format(workspace, tmp_path):
    from core.dataset.images import IMPORTABLE, importable_formats

    report = run_import(workspace, "mira", [tmp_path / "no such folder"])
    assert report.missing == [str(tmp_path / "no such folder")] and not report.accepted
    assert report.summary().startswith("Nothing was imported:") and "does not exist" in report.summary()

    (tmp_path / "notes.docx").write_text("x")
    message = run_import(workspace, "mira", [tmp_path / "notes.docx"]).files[0].reason
    for name in ("JPEG", "PNG", "WebP", "HEIC", "AVIF", "GIF", "BMP", "TIFF"):
        assert name in message, message
    assert len(IMPORTABLE) == 11 and importable_formats().endswith(" or TIFF")
