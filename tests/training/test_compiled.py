"""The compiled training set (without training): repeats, several resolutions, trigger-only copies, the manifest,
hard links, the person's dataset untouched, the levers' one-sentence refusals, the Check's sample count, `runs diff`."""

from __future__ import annotations

import hashlib
import os

import pytest
from PIL import Image

from core import storage
from core.dataset import datasets
from core.errors import ConfigError
from core.runs.diff import diff_runs
from core.runs.paths import run_paths
from core.runs.record import RunRecord
from core.training import checks as train_checks, compiled, config as train_config
from tests.support.env import cli_env, run_cli
from tests.support.images import write_mflux_dataset


def tree_digest(root) -> dict[str, str]:
    """Every file under `root` (hidden ones too) with the sha256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def mira(workspace):
    folder = write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    Image.new("RGB", (96, 64), (200, 40, 40)).save(folder / "img_01.png")  # a wide picture: its aspect ratio is kept
    (folder / "preview_01.txt").write_text("mira, portrait", encoding="utf-8")
    return folder


def plan_for(**changes) -> train_config.TrainPlan:
    values = dict(dataset="mira", trigger="mira", model="selftest", max_resolution=64, epochs=2, seed=42)
    values.update(changes)
    return train_config.TrainPlan(**values, raw=train_config.default_config())


def test_compiled_set_has_repeats_resolutions_and_trigger_copies_and_leaves_the_dataset_alone(workspace, mira, tmp_path):
    datasets.set_repeat(workspace, "mira", ["img_00"], 3)
    before = tree_digest(workspace.dataset_dir("mira"))
    plan = plan_for(resolutions=[64, 32], trigger_only=0.25)
    manifest = compiled.compile_set(workspace, plan, tmp_path / "data", tmp_path / "compiled.json")

    # (3 + 1 + 1 + 1) pictures x 2 resolutions = 12, + round(12 x 0.25) = 3 trigger-only copies
    assert manifest.epoch.to_dict() == {"pictures": 4, "repeated": 6, "resolutions": [32, 64], "trigger_copies": 3, "samples": 15}
    assert len(manifest.samples) == 15 and manifest.repeats == {"img_00": 3}
    assert manifest.fingerprint["count"] == 4 and manifest.fingerprint["repeats"] == {"img_00": 3}
    assert storage.read_json(tmp_path / "compiled.json") == manifest.to_dict()
    sources = [(s.source, s.resolution) for s in manifest.samples if not s.trigger_only]
    assert sources.count(("img_00.png", 32)) == 3 and sources.count(("img_00.png", 64)) == 3
    assert sources.count(("img_01.png", 32)) == 1 and sources.count(("img_03.png", 64)) == 1
    sizes = {(s.source, s.resolution): (s.width, s.height) for s in manifest.samples}
    assert sizes[("img_00.png", 64)] == (64, 64) and sizes[("img_00.png", 32)] == (32, 32)
    assert sizes[("img_01.png", 64)] == (64, 48) and sizes[("img_01.png", 32)] == (32, 16)  # mflux's area rule, floored to 16
    copies = [s for s in manifest.samples if s.trigger_only]
    assert len(copies) == 3 and {s.caption for s in copies} == {"mira"}
    data = tmp_path / "data"
    images = sorted(p for p in data.iterdir() if p.suffix == ".png" and not p.name.startswith("preview"))
    assert [p.name for p in images] == sorted(s.file for s in manifest.samples)  # mflux reads exactly these
    for sample in manifest.samples:
        path = data / sample.file
        assert path.with_suffix(".txt").read_text(encoding="utf-8") == sample.caption
        with Image.open(path) as image:
            shown = image.size
        if sample.resolution == 64:  # the largest: the picture itself, linked; mflux downscales it to the manifest's size
            assert os.path.samefile(path, mira / sample.source)
            assert compiled.fit(*shown, 64) == (sample.width, sample.height)
        else:  # resized ahead to exactly the manifest's size, which mflux leaves as it is
            assert shown == (sample.width, sample.height) and not os.path.samefile(path, mira / sample.source)
        if not sample.trigger_only:
            assert sample.caption == (mira / sample.source).with_suffix(".txt").read_text(encoding="utf-8").strip()
    assert (data / "preview_01.txt").read_text(encoding="utf-8") == "mira, portrait"
    assert manifest.files["resized"] == 4  # one resized copy per picture at 32 px; repeats and copies link to it
    assert tree_digest(workspace.dataset_dir("mira")) == before  # byte for byte

    again = compiled.compile_set(workspace, plan, tmp_path / "again", tmp_path / "again.json")
    assert [(s.source, s.resolution, s.caption) for s in again.samples] == [(s.source, s.resolution, s.caption) for s in manifest.samples]
    other = compiled.compile_set(workspace, plan_for(resolutions=[32, 64], trigger_only=0.25, seed=7), tmp_path / "o", tmp_path / "o.json")
    assert [s.file for s in other.samples if s.trigger_only] != [s.file for s in copies]  # picked by the seed


def test_defaults_compile_exactly_todays_set(workspace, mira, tmp_path):
    plan = plan_for()
    assert plan.resolutions == [] and plan.trigger_only == 0.0 and plan.config()["max_resolution"] == 64
    manifest = compiled.compile_set(workspace, plan, tmp_path / "data", tmp_path / "compiled.json")
    assert [(s.source, s.resolution, s.trigger_only) for s in manifest.samples] == [(f"img_{i:02d}.png", 64, False) for i in range(4)]
    assert manifest.files == {"linked": 4, "copied": 0, "resized": 0}  # the 4 pictures themselves, nothing resized
    assert manifest.epoch.summary(2) == "4 picture(s) at 64 px = 4 sample(s) an epoch; 8 steps at 2 epoch(s)"


def test_levers_are_refused_in_one_sentence(workspace, mira):
    for count in (0, 51, "x", 2.5):
        with pytest.raises(ConfigError, match="repeat count must be"):
            datasets.set_repeat(workspace, "mira", ["img_00"], count)
    assert datasets.open_dataset(workspace, "mira").repeats == {}
    assert compiled.check_levers(plan_for(resolutions=[40])) == ["Resolution 40 is not a multiple of 16 px; use 512, 768 or 1024."]
    assert "above what the self-test model (tiny) trains at (512 px)" in compiled.check_levers(plan_for(resolutions=[1024]))[0]
    assert "from 0 to 50 %" in compiled.check_levers(plan_for(trigger_only=0.6))[0]
    assert compiled.check_levers(plan_for(trigger_only=0.1, trigger="")) == [
        "A trigger-only share needs a trigger word: type one in 'Trigger word' or set the share to 0."]
    validation = train_checks.validate(plan_for(resolutions=[40]), workspace, backend="cpu", use_mflux=False)
    assert "Resolution 40 is not a multiple of 16 px; use 512, 768 or 1024." in validation.errors


def test_check_counts_samples_and_warns_when_one_picture_dominates(workspace, mira):
    datasets.set_repeat(workspace, "mira", ["img_00"], 4)
    validation = train_checks.validate(plan_for(resolutions=[32, 64], trigger_only=0.1), workspace, backend="cpu", use_mflux=False)
    assert validation.ok, validation.errors
    # (4 + 3) x 2 = 14 + 1 trigger-only copy = 15 samples, 2 epochs
    assert validation.epoch["samples"] == 15 and validation.estimate.iterations == 30
    assert validation.epoch_line == ("4 picture(s) x repeats (7) x 2 resolutions (32, 64 px) + 1 trigger-only copy "
                                     "= 15 sample(s) an epoch; 30 steps at 2 epoch(s)")
    assert validation.epoch_line[1:] in validation.summary()
    assert any(w.startswith("img_00 makes up 57% of each epoch") for w in validation.warnings)
    datasets.set_repeat(workspace, "mira", ["img_00"], 1)
    assert not any("makes up" in w for w in train_checks.validate(plan_for(), workspace, backend="cpu", use_mflux=False).warnings)


def test_cli_repeat_and_train_check_with_resolutions_and_trigger_only(workspace, settings, mira, cache_dir, selftest_model_dir):
    env = cli_env(settings.workspace, cache_dir)
    code, data, stderr = run_cli(["dataset", "repeat", "mira", "img_00", "img_02", "3"], env)
    assert code == 0 and data["repeats"] == {"img_00": 3, "img_02": 3}, stderr
    code, data, stderr = run_cli(["dataset", "repeat", "mira", "img_00", "0"], env)
    assert code != 0 and "repeat count must be from 1 to 50, not 0" in str(data) + stderr
    code, data, stderr = run_cli(["train", "check", "mira", "--model", "selftest", "--trigger", "mira", "--epochs", "1",
                                  "--resolutions", "32,64", "--trigger-only", "0.1"], env)
    assert code == 0, (data, stderr[-2000:])
    assert data["epoch"] == {"pictures": 4, "repeated": 8, "resolutions": [32, 64], "trigger_copies": 2, "samples": 18}
    assert data["estimate"]["iterations"] == 18 and data["config"]["max_resolution"] == 64
    assert data["form"]["resolutions"] == [32, 64] and data["form"]["trigger_only"] == 0.1
    code, data, stderr = run_cli(["train", "check", "mira", "--model", "selftest", "--resolutions", "30", "--trigger-only", "0.1"], env)
    assert code != 0 and "Resolution 30 is not a multiple of 16 px" in " ".join(data["errors"])
    assert "A trigger-only share needs a trigger word" in " ".join(data["errors"])


def test_runs_diff_shows_different_training_sets(workspace, mira):
    runs = []
    for run_id, share in (("20260101-000000-mira", 0.0), ("20260101-000100-mira", 0.25)):
        paths = run_paths(workspace, run_id)
        paths.root.mkdir(parents=True)
        plan = plan_for(trigger_only=share)
        manifest = compiled.compile_set(workspace, plan, paths.compiled_dir, paths.manifest_json)
        storage.write_json(paths.train_json, {**plan.config(), "data": str(paths.compiled_dir)})
        paths.write_record(RunRecord(run_id=run_id, dataset="mira", model="selftest", trigger="mira",
                                     dataset_fingerprint=manifest.fingerprint))
        runs.append(run_id)
    rows = {r.key: r for r in diff_runs(workspace, *runs)}
    assert "data" not in rows  # each run's own compiled folder is not a difference
    assert (rows["(set) trigger-only share"].a, rows["(set) trigger-only share"].b) == (0.0, 0.25)
    assert (rows["(set) samples"].a, rows["(set) samples"].b) == (4, 5)
    assert rows["(set) samples only in one run"].a == "(none)" and "(trigger only): \"mira\"" in rows["(set) samples only in one run"].b
    assert "(set) dataset fingerprint" not in rows  # the same dataset
    (mira / "img_02.txt").write_text("mira, a changed caption", encoding="utf-8")
    paths = run_paths(workspace, runs[1])
    compiled.compile_set(workspace, plan_for(trigger_only=0.25), paths.compiled_dir, paths.manifest_json)
    rows = {r.key: r for r in diff_runs(workspace, *runs)}
    assert "(set) dataset fingerprint" in rows and "a changed caption" in rows["(set) samples only in one run"].b
