"""Real training workers (mflux on the self-test model): events, Stop that saves, resume that continues the
step count with the same losses as an uninterrupted run, SIGKILL -> interrupted -> resumed, queue order."""

from __future__ import annotations

import json
import os
import signal
import zipfile

import pytest

from core.runs import events as run_events
from core.runs import state as run_state
from core.training import config as train_config
from core.training import runner as training
from core.runs.paths import run_paths
from core.settings import load_settings
from core.workspace import Workspace
from tests.support.env import cli_env, run_cli
from tests.support.images import write_mflux_dataset
from tests.support.runs import losses, wait_for, assert_resume_continues, checkpoint_files

pytestmark = pytest.mark.slow  # real mflux training workers

EPOCHS = 3  # 4 images -> 12 steps
STEPS = 12
SAVE_EVERY = 2  # the self-test preset's checkpoint frequency


@pytest.fixture(scope="module")
def train_env(tmp_path_factory, cache_dir, selftest_model_dir):
    root = tmp_path_factory.mktemp("train-ws")
    settings = load_settings(env_file=None, environ={"WORKSPACE_DIR": str(root), "APP_CACHE_DIR": str(cache_dir)})
    workspace = Workspace(settings.workspace).ensure()
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=4, trigger="mira")
    return settings, workspace


@pytest.fixture(scope="module")
def completed_run(train_env, cache_dir):
    """One uninterrupted run, started through the CLI with --wait: the reference for every loss comparison."""
    settings, workspace = train_env
    env = cli_env(settings.workspace, cache_dir)
    code, data, stderr = run_cli(["train", "start", "mira", "--model", "selftest", "--trigger", "mira", "--epochs", str(EPOCHS), "--wait"], env)
    assert code == 0, (data, stderr[-2000:])
    return data["run"]


def form_for(workspace):
    plan = train_config.compose(workspace, "mira", "mira", ["selftest"])
    plan.epochs = EPOCHS
    return plan


def test_cli_run_trains_to_completion_with_events_and_checkpoints(train_env, completed_run, cache_dir):
    settings, workspace = train_env
    assert completed_run["status"] == "completed" and completed_run["step"] == STEPS and completed_run["total"] == STEPS
    paths = run_paths(workspace, completed_run["run_id"])
    assert [s for s, _ in paths.checkpoint_zips()] == list(range(SAVE_EVERY, STEPS + 1, SAVE_EVERY))
    steps = losses(workspace, completed_run["run_id"])
    assert sorted(steps) == list(range(1, STEPS + 1)) and all(0 < v < 10 for v in steps.values())
    events = run_events.read_all(paths)
    kinds = [e["type"] for e in events]
    assert kinds.count("checkpoint") == 6 and kinds[-1] == "status" and events[-1]["status"] == "completed"
    # Each checkpoint zip is written once (the last one was written again by mflux's final save) and stored,
    # not deflated: no zip changed after its checkpoint event was written.
    written = {e["step"]: e["time"] for e in events if e["type"] == "checkpoint"}
    for step, zip_path in paths.checkpoint_zips():
        assert zip_path.stat().st_mtime <= written[step], f"checkpoint {step} was written again after its event"
        with zipfile.ZipFile(zip_path) as archive:
            assert {member.compress_type for member in archive.infolist()} == {zipfile.ZIP_STORED}
    step_event = next(e for e in events if e["type"] == "step")
    assert {"step", "total", "loss", "seconds_per_step", "eta_seconds"} <= set(step_event)
    saved = json.loads(paths.train_json.read_text())
    assert saved["data"] == str(paths.compiled_dir.resolve())  # the compiled set, never the dataset folder
    manifest = json.loads(paths.manifest_json.read_text())
    assert [s["source"] for s in manifest["samples"]] == [f"img_{i:02d}.png" for i in range(4)]  # defaults: as before
    assert {(s["resolution"], s["width"], s["height"], s["trigger_only"]) for s in manifest["samples"]} == {(64, 64, 64, False)}
    assert saved["checkpoint"]["output_path"] == str(paths.mflux_dir.resolve())
    assert sorted(p.name for p in paths.captions_dir.iterdir()) == [f"img_{i:02d}.txt" for i in range(4)]
    record = paths.read_record()
    assert record.dataset_fingerprint["count"] == 4 and record.mflux_version == "0.24.0"
    code, data, _ = run_cli(["train", "status", completed_run["run_id"]], cli_env(settings.workspace, cache_dir))
    assert code == 0 and data["run"]["checkpoints"] == [2, 4, 6, 8, 10, 12] and data["run"]["final_loss"] == steps[STEPS]
    code, data, _ = run_cli(["runs", "list"], cli_env(settings.workspace, cache_dir))
    assert code == 0 and completed_run["run_id"] in [r["run_id"] for r in data["runs"]]


def test_stop_saves_at_that_step_kill_is_interrupted_and_both_resume_in_queue_order(train_env, completed_run):
    settings, workspace = train_env
    plan = form_for(workspace)
    first = training.start(workspace, settings, plan)
    with pytest.raises(training.TrainingError, match="already running"):
        training.start(workspace, settings, plan)  # a second Start click
    second = training.start(workspace, settings, plan, queue=True)
    first_paths, second_paths = run_paths(workspace, first.run_id), run_paths(workspace, second.run_id)
    reference = losses(workspace, completed_run["run_id"])

    # Stop: the worker saves a checkpoint for the step it stops at.
    wait_for(lambda: any(e["type"] == "step" for e in run_events.read_all(first_paths)))
    assert training.status(workspace, second.run_id).status == "queued"
    assert training.stop(workspace, first.run_id).status in ("stopping", "stopped")
    stopped = training.wait(workspace, first.run_id, timeout=120)
    assert stopped.status == "stopped", stopped
    stop_step = stopped.step
    assert 1 <= stop_step < STEPS and stopped.checkpoints[-1] == stop_step and stopped.resumable
    assert not first_paths.stop_request.exists()
    assert losses(workspace, first.run_id) == {s: reference[s] for s in range(1, stop_step + 1)}

    # The queued run starts by itself; SIGKILL its worker: it is found interrupted, never stuck "running".
    wait_for(lambda: second_paths.checkpoint_zips())
    os.kill(second_paths.read_record().pid, signal.SIGKILL)
    interrupted = wait_for(lambda: (s := training.status(workspace, second.run_id)).status == "interrupted" and s)
    assert interrupted.resumable and "Resume from the checkpoint at step" in interrupted.message
    assert run_state.reconcile_all(workspace) == []  # already recorded

    # Resume both: the first now, the second queued behind it; each continues its step count.
    killed_step = interrupted.checkpoints[-1]
    first_files, second_files = checkpoint_files(first_paths), checkpoint_files(second_paths)
    assert sorted(first_files) == stopped.checkpoints and sorted(second_files) == interrupted.checkpoints
    assert training.resume(workspace, first.run_id).status == "queued"
    wait_for(lambda: training.status(workspace, first.run_id).status == "running")
    assert training.resume(workspace, second.run_id, queue=True).status == "queued"
    first_done = training.wait(workspace, first.run_id, timeout=180)
    second_done = training.wait(workspace, second.run_id, timeout=180)
    assert first_done.status == "completed" and first_done.step == STEPS, first_done
    assert second_done.status == "completed" and second_done.step == STEPS, second_done
    assert second_paths.read_record().started_at >= first_paths.read_record().finished_at  # queue order
    assert losses(workspace, first.run_id) == reference  # bit-exact continuation, nothing restarted at 0
    assert losses(workspace, second.run_id) == reference
    assert run_events.timeline(run_events.read_all(first_paths)).steps == list(range(1, STEPS + 1))
    # Each resumed worker started at the step after its checkpoint, and the checkpoint list goes on from there.
    assert_resume_continues(first_paths, stop_step, STEPS, SAVE_EVERY, first_files, first_done.checkpoints)
    assert_resume_continues(second_paths, killed_step, STEPS, SAVE_EVERY, second_files, second_done.checkpoints)


def test_stop_of_a_finished_run_and_resume_of_a_completed_run_say_why(train_env, completed_run):
    settings, workspace = train_env
    with pytest.raises(training.TrainingError, match="is not running"):
        training.stop(workspace, completed_run["run_id"])
    with pytest.raises(training.TrainingError, match="already finished all 12 steps"):
        training.resume(workspace, completed_run["run_id"])


def test_a_worker_that_fails_says_why_and_keeps_earlier_runs(train_env, completed_run):
    settings, workspace = train_env
    write_mflux_dataset(workspace.dataset_images_dir("broken"), count=2, trigger="mira")
    run = training.start(workspace, settings, train_config.compose(workspace, "broken", "mira", ["selftest"]))
    (workspace.dataset_images_dir("broken") / "img_01.png").write_bytes(b"not a png any more")  # before the worker reads it
    failed = training.wait(workspace, run.run_id, timeout=180)
    assert failed.status == "failed", failed
    assert failed.message.startswith("Training failed:") and "Traceback" not in failed.message
    assert failed.errors and failed.errors[0]["todo"]
    assert "Traceback" in run_paths(workspace, run.run_id).worker_log.read_text()  # the details stay in the log
    assert training.status(workspace, completed_run["run_id"]).status == "completed"
