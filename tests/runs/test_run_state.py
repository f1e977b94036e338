"""Run status rules without mflux: a hung worker is ended after the Stop grace period, a dead one is
found interrupted, events fold into a timeline, and the CLI explains bad input in one sentence."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from core.runs import events as run_events
from core.runs import state as run_state
from core.training import runner as training
from core.runs.paths import run_paths
from core.runs.record import RunRecord
from tests.support.env import cli_env, run_cli
from tests.support.images import write_mflux_dataset

HUNG_WORKER = textwrap.dedent("""
    import fcntl, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a worker that does not answer
    handle = open(sys.argv[1], "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(120)
""")


def hung_run(workspace, run_id="20260101-000000-hung"):
    paths = run_paths(workspace, run_id)
    paths.root.mkdir(parents=True)
    process = subprocess.Popen([sys.executable, "-c", HUNG_WORKER, str(paths.worker_lock)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    paths.write_record(RunRecord(run_id=run_id, dataset="mira", model="selftest", status="running", pid=process.pid,
                                 worker_started=True, total_steps=12))
    run_events.emit(paths, "step", step=3, total=12, loss=1.25, seconds_per_step=0.5, eta_seconds=4.5)
    return paths, process


def test_a_worker_that_ignores_stop_is_ended_after_the_grace_period(workspace):
    paths, process = hung_run(workspace)
    try:
        assert training.stop(workspace, paths.run_id, grace=0.5).status == "stopping"
        assert paths.stop_request.exists()
        time.sleep(0.7)
        after = training.status(workspace, paths.run_id)
        assert after.status == "stopped" and "ended without a final save" in after.message
        assert process.wait(timeout=10) == -9  # SIGTERM was ignored, SIGKILL ended it
        assert not paths.stop_request.exists()
    finally:
        process.kill()


def test_second_stop_press_ends_the_worker_at_once(workspace):
    paths, process = hung_run(workspace)
    try:
        assert training.stop(workspace, paths.run_id).status == "stopping"
        assert training.stop(workspace, paths.run_id).status == "stopped"
        assert process.wait(timeout=10) == -9
    finally:
        process.kill()


def test_a_dead_worker_is_interrupted_on_the_next_look(workspace):
    paths, process = hung_run(workspace)
    process.kill()
    process.wait()
    assert run_state.reconcile_all(workspace) == [paths.run_id]
    status = training.status(workspace, paths.run_id)
    assert status.status == "interrupted" and "from the beginning (no checkpoint was saved)" in status.message
    assert not status.resumable  # no checkpoint to resume from: it says so instead of failing later


def test_timeline_drops_steps_redone_after_a_resume_and_skips_cut_lines(workspace):
    paths = run_paths(workspace, "20260101-000001-t")
    paths.root.mkdir(parents=True)
    for step in range(1, 6):
        run_events.emit(paths, "step", step=step, total=8, loss=float(step))
    run_events.emit(paths, "checkpoint", step=4, path="x")
    run_events.emit(paths, "status", status="running", message="Resuming", resumed_from=2)
    run_events.emit(paths, "step", step=3, total=8, loss=30.0)
    with open(paths.events, "a") as handle:
        handle.write('{"type": "step", "step": 4, "lo')  # a line cut by a crash
    line = run_events.timeline(run_events.read_all(paths))
    assert line.steps == [1, 2, 3] and line.losses == [1.0, 2.0, 30.0] and line.checkpoints == []
    assert line.smoothed(2) == [1.0, 1.5, 16.0]


def test_cli_check_explains_problems_and_fails(workspace_dir, cache_dir, workspace):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=2)
    (workspace.dataset_images_dir("mira") / "img_01.txt").unlink()
    code, data, _ = run_cli(["train", "check", "mira", "--model", "selftest", "--trigger", "mira"], cli_env(workspace_dir, cache_dir))
    assert code == 1 and data["ok"] is False
    assert any("img_01.png has no caption (img_01.txt)" in e for e in data["errors"])
    code, data, _ = run_cli(["train", "status", "nope"], cli_env(workspace_dir, cache_dir))
    assert code == 1 and data["error"].startswith("There is no run named 'nope'.")
    code, data, _ = run_cli(["train", "start", "ghost", "--model", "selftest"], cli_env(workspace_dir, cache_dir))
    assert code == 1 and "no dataset named 'ghost'" in data["error"] and "nothing was started" in data["error"]


def test_the_log_tail_reads_as_a_terminal_shows_it(workspace):
    """tqdm redraws its bar with carriage returns, draws a preview's bar under the training's with cursor moves
    (as mflux's worker log has it) and colours text with escape codes: the tail keeps each bar's last state on its
    own line, without the codes, newest last."""
    paths = run_paths(workspace, "20260101-000002-log")
    paths.root.mkdir(parents=True)
    outer = "".join(f"\r{p:3d}%|{'#' * (p // 10):<10}| {p * 16 // 100}/16" for p in (0, 6))
    nested = "".join(f"\n\r{p:3d}%|{'#' * (p // 10):<10}| {p * 4 // 100}/4\x1b[A" for p in (0, 50, 100))
    paths.worker_log.write_bytes(
        ("Loading the model\n\x1b[32mINFO\x1b[0m training starts\r\n" + outer + nested + "\r 12%|#         | 2/16"
         + "\n\n\x1b]0;mflux\x07Saved checkpoint 0000010\n\n").encode()
    )
    tail = run_events.log_tail(paths)
    assert tail.splitlines() == ["Loading the model", "INFO training starts", " 12%|#         | 2/16",
                                 "100%|##########| 4/4", "Saved checkpoint 0000010"]
    assert "\r" not in tail and "\x1b" not in tail
    assert run_events.log_tail(paths, lines=2).splitlines() == ["100%|##########| 4/4", "Saved checkpoint 0000010"]
