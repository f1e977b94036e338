"""Real mflux (the self-test model) trains on a compiled set with repeats, two resolutions and trigger-only copies:
what mflux encoded is what the manifest lists, a stopped run resumes on the same compiled set with the losses of an
uninterrupted one (even after the dataset changed), and training leaves the person's dataset byte for byte as it was."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.support.runs import losses, wait_for

from core.dataset import datasets
from core.runs import events as run_events
from core.runs.paths import run_paths
from core.settings import load_settings
from core.training import config as train_config, runner as training
from core.workspace import Workspace
from tests.support.env import cli_env, run_cli
from tests.support.images import write_mflux_dataset

pytestmark = pytest.mark.slow  # real mflux training workers

# 3 pictures, img_00 repeated twice: 4 x 2 resolutions = 8 samples, + 2 trigger-only copies (25 %) = 10 steps an epoch
SAMPLES = 10


def tree_digest(root, skip: str = "\0") -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and skip not in p.parts}


@pytest.fixture(scope="module")
def levers_env(tmp_path_factory, cache_dir, selftest_model_dir):
    root = tmp_path_factory.mktemp("compiled-ws")
    settings = load_settings(env_file=None, environ={"WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir)})
    workspace = Workspace(settings.workspace).ensure()
    write_mflux_dataset(workspace.dataset_images_dir("levers"), count=3, size=(80, 64), trigger="mira")
    datasets.set_repeat(workspace, "levers", ["img_00"], 2)
    return settings, workspace


@pytest.fixture(scope="module")
def reference_run(levers_env, cache_dir):
    settings, workspace = levers_env
    before = tree_digest(workspace.dataset_dir("levers"))
    code, data, stderr = run_cli(["train", "start", "levers", "--model", "selftest", "--trigger", "mira", "--epochs", "1",
                                  "--resolutions", "32,64", "--trigger-only", "0.25", "--wait"],
                                 cli_env(settings.workspace, cache_dir))
    assert code == 0, (data, stderr[-2000:])
    assert tree_digest(workspace.dataset_dir("levers")) == before  # training changed nothing of the dataset
    return data["run"]


def test_mflux_encodes_exactly_the_manifest_samples(levers_env, reference_run):
    settings, workspace = levers_env
    assert reference_run["status"] == "completed" and reference_run["total"] == SAMPLES and reference_run["step"] == SAMPLES
    paths = run_paths(workspace, reference_run["run_id"])
    manifest = json.loads(paths.manifest_json.read_text())
    assert json.loads(paths.train_json.read_text())["data"] == str(paths.compiled_dir.resolve())
    assert manifest["epoch"] == {"pictures": 3, "repeated": 4, "resolutions": [32, 64], "trigger_copies": 2, "samples": SAMPLES}
    encoded = json.loads(paths.encoded_json.read_text())["samples"]
    assert len(encoded) == SAMPLES
    assert sorted((e["file"], e["caption"], e["width"], e["height"]) for e in encoded) == sorted(
        (s["file"], s["caption"], s["width"], s["height"]) for s in manifest["samples"])
    sizes = {(s["width"], s["height"]) for s in manifest["samples"]}
    assert sizes == {(32, 16), (64, 48)}  # 80x64 pictures at 32 and 64 px (mflux's area rule, sides floored to 16)
    shapes = {(e["width"], e["height"]): tuple(e["latent_shape"]) for e in encoded}
    assert len(set(shapes.values())) == 2  # two sizes really encoded, not one picture size twice
    assert sum(e["caption"] == "mira" for e in encoded) == 2
    assert sorted(e["file"] for e in encoded if e["file"].startswith("000")) == sorted(s["file"] for s in manifest["samples"])


def test_resume_trains_on_the_same_compiled_set_with_the_same_losses(levers_env, reference_run):
    settings, workspace = levers_env
    plan = train_config.compose(workspace, "levers", "mira", ["selftest"])
    plan.epochs, plan.resolutions, plan.trigger_only = 1, [32, 64], 0.25
    before = tree_digest(workspace.dataset_dir("levers"))
    run = training.start(workspace, settings, plan)
    paths = run_paths(workspace, run.run_id)
    wait_for(lambda: any(e["type"] == "step" for e in run_events.read_all(paths)))
    training.stop(workspace, run.run_id)
    stopped = training.wait(workspace, run.run_id, timeout=120)
    assert stopped.status == "stopped" and 1 <= stopped.step < SAMPLES, stopped
    assert tree_digest(workspace.dataset_dir("levers")) == before
    compiled_before = tree_digest(paths.compiled_dir, skip=".mflux_cache")
    manifest_before = paths.manifest_json.read_bytes()

    # The dataset changes while the run waits: the resume still trains on what the run was compiled from.
    (workspace.dataset_images_dir("levers") / "img_01.txt").write_text("mira, something else entirely", encoding="utf-8")
    assert training.resume(workspace, run.run_id).status == "queued"
    done = training.wait(workspace, run.run_id, timeout=180)
    assert done.status == "completed" and done.step == SAMPLES, done
    assert losses(workspace, run.run_id) == losses(workspace, reference_run["run_id"])  # bit-exact continuation
    assert tree_digest(paths.compiled_dir, skip=".mflux_cache") == compiled_before  # never recompiled
    assert paths.manifest_json.read_bytes() == manifest_before
    encoded = json.loads(paths.encoded_json.read_text())["samples"]  # what the resumed worker encoded
    assert "mira, something else entirely" not in {e["caption"] for e in encoded} and len(encoded) == SAMPLES
