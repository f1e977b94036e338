"""The caption store: atomic saves with history, undo of bulk edits, unicode, non-UTF-8 files left alone."""

import os
import signal
import subprocess
import sys
import time

import pytest

from core.captions import store as captions
from core.dataset import datasets
from core.errors import NotFound
from tests.support.env import PROJECT_ROOT
from tests.support.images import photo_image


@pytest.fixture()
def dataset(workspace):
    dataset = datasets.create(workspace, "mira")
    for i in range(4):
        photo_image((64, 64), seed=i).save(dataset.images_dir / f"img{i}.png")
    return dataset


def test_korean_round_trips_and_every_version_is_kept(dataset):
    text = "mira, 미라가 웃는다 ✨ — café"
    assert captions.save(dataset, "img0", "first")
    assert captions.save(dataset, "img0", text)
    assert not captions.save(dataset, "img0", text)  # unchanged: no new version
    assert (dataset.images_dir / "img0.txt").read_bytes() == text.encode("utf-8")
    assert [v.text for v in captions.history(dataset, "img0")] == ["first", text]
    assert captions.restore(dataset, "img0", 0) == "first"
    assert captions.read(dataset, "img0") == "first"
    assert [v.source for v in captions.history(dataset, "img0")] == ["edit", "edit", "restore"]


def test_a_hand_written_file_becomes_the_first_version(dataset):
    (dataset.images_dir / "img1.txt").write_text("typed outside the app", encoding="utf-8")
    captions.save(dataset, "img1", "typed in the app")
    assert [v.source for v in captions.history(dataset, "img1")] == ["original", "edit"]
    captions.undo(dataset)
    assert captions.read(dataset, "img1") == "typed outside the app"


def test_bulk_replace_previews_then_applies_as_one_undoable_change(dataset):
    for i in range(4):
        captions.save(dataset, f"img{i}", f"a girl, red dress, pose {i}")
    captions.save(dataset, "img3", "a boy, blue shirt")
    changes = captions.preview_replace(dataset, "red dress", "green coat")
    assert [c.stem for c in changes] == ["img0", "img1", "img2"]
    assert changes[0].before == "a girl, red dress, pose 0" and changes[0].after == "a girl, green coat, pose 0"
    assert captions.read(dataset, "img0") == "a girl, red dress, pose 0"  # preview wrote nothing
    captions.save(dataset, "img2", "edited after the preview")
    applied = captions.apply(dataset, changes)
    assert [c.stem for c in applied] == ["img0", "img1"]  # img2 changed since: left alone
    regex = captions.preview_replace(dataset, r"pose (\d)", r"stance \1", regex=True)
    captions.apply(dataset, regex)
    assert captions.read(dataset, "img0") == "a girl, green coat, stance 0"
    captions.undo(dataset)
    assert captions.read(dataset, "img0") == "a girl, green coat, pose 0"
    captions.undo(dataset)
    assert captions.read(dataset, "img0") == "a girl, red dress, pose 0"
    assert captions.read(dataset, "img2") == "edited after the preview"
    assert captions.read(dataset, "img3") == "a boy, blue shirt"


def test_trigger_prefix_suffix_and_counts(dataset):
    captions.save_many(dataset, {"img0": "a girl smiling", "img1": "standing, mira, park", "img2": "", "img3": "mira, sitting"})
    captions.apply(dataset, captions.preview_trigger(dataset, "mira"), source="trigger")
    assert captions.read(dataset, "img0") == "mira, a girl smiling"
    assert captions.read(dataset, "img1") == "mira, standing, park"
    assert captions.read(dataset, "img2") == "mira"
    assert captions.read(dataset, "img3") == "mira, sitting"
    captions.apply(dataset, captions.preview_affix(dataset, suffix=", best quality"), source="prefix")
    assert captions.read(dataset, "img3") == "mira, sitting, best quality"
    counts = dict(captions.word_counts(dataset, tags=True))
    assert counts["mira"] == 4 and counts["best quality"] == 4
    assert captions.stems_with(dataset, "park") == ["img1"]
    removed = captions.preview_trigger(dataset, "mira", remove=True)
    assert {c.stem: c.after for c in removed}["img0"] == "a girl smiling, best quality"


def test_next_image_and_next_needing_attention(dataset):
    captions.save_many(dataset, {"img0": "mira, ok", "img1": "no trigger here", "img2": "mira, ok too"})
    assert captions.next_stem(dataset, "img0") == "img1"
    assert captions.next_stem(dataset, "img0", -1) == "img3"
    assert captions.next_stem(dataset, "img1", attention=True, trigger="mira") == "img3"  # img3 has none
    assert captions.next_stem(dataset, "img3", attention=True, trigger="mira") == "img1"


def test_non_utf8_caption_is_reported_not_rewritten(dataset):
    raw = "미라".encode("cp949")
    (dataset.images_dir / "img0.txt").write_bytes(raw)
    with pytest.raises(captions.CaptionEncodingError, match="not UTF-8"):
        captions.read(dataset, "img0")
    with pytest.raises(captions.CaptionEncodingError):
        captions.save(dataset, "img0", "new")
    captions.save(dataset, "img1", "mira")
    captions.apply(dataset, captions.preview_affix(dataset, prefix="x "))
    assert (dataset.images_dir / "img0.txt").read_bytes() == raw


def test_nothing_to_undo_says_so(dataset):
    with pytest.raises(NotFound, match="nothing to undo"):
        captions.undo(dataset)


def test_a_caption_too_long_is_refused(dataset):
    with pytest.raises(Exception, match="limit is 20,000"):
        captions.save(dataset, "img0", "word " * 10_000)
    assert captions.read(dataset, "img0") == ""


SAVER = """
import sys
from core.captions import store as captions
from core.dataset import datasets
from core.workspace import Workspace
dataset = datasets.open_dataset(Workspace(__import__('pathlib').Path(sys.argv[1])), "mira")
print("ready", flush=True)
n = 0
while True:
    n += 1
    for i in range(4):
        captions.save(dataset, f"img{i}", f"version {n} of img{i}: " + "long caption text " * 200)
"""


def test_sigkill_in_the_middle_of_saves_leaves_every_caption_old_or_new(dataset, workspace):
    for i in range(4):
        captions.save(dataset, f"img{i}", f"version 0 of img{i}: " + "long caption text " * 200)
    process = subprocess.Popen([sys.executable, "-c", SAVER, str(workspace.root)], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert process.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 30
    while len(captions.history(dataset, "img3")) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for i in range(4):
        text = captions.read(dataset, f"img{i}")
        head, _, body = text.partition(": ")
        assert head.startswith("version ") and head.endswith(f"of img{i}")
        assert body == "long caption text " * 200
        assert text in [v.text for v in captions.history(dataset, f"img{i}")]  # history is written before the caption
    assert len(captions.history(dataset, "img0")) >= 2
    captions.undo(dataset)  # the journal stays readable after a kill
