"""A run's status, and the rules that keep it true when its worker is gone.

    queued -> running -> completed | stopped | failed
    queued | running | stopping --(worker died: sleep, crash, kill)--> interrupted
    stopping --(worker saved and exited, or the grace period ran out and it was killed)--> stopped

A worker holds an flock on RunPaths.worker_lock while it lives, so "is it alive" never depends on a
pid that could be reused. `reconcile` is called on every status read and when the app or the CLI
starts: a run can never stay "running" or "stopping" once its worker is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time

from core.runs import events as run_events
from core.runs.paths import RunPaths
from core.runs.record import RunRecord
from core.workspace import Workspace

ACTIVE = ("queued", "running", "stopping")
STARTUP_SECONDS = 60.0  # a worker process that has not taken its lock yet is still starting
STOP_GRACE_SECONDS = 120.0  # after a Stop, how long a worker may take to reach a step boundary


def worker_alive(paths: RunPaths) -> bool:
    """True while a worker process holds the run's lock."""
    if not paths.worker_lock.exists():
        return False
    with open(paths.worker_lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def pid_alive(pid: int | None) -> bool:
    """Whether a process exists and is not a zombie (a dead child not yet reaped)."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{int(pid)}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_live(paths: RunPaths, record: RunRecord | None = None) -> bool:
    record = record if record is not None else paths.read_record()
    if worker_alive(paths):
        return True
    spawned = record.spawned_at or 0
    return pid_alive(record.pid) and time.time() - spawned < STARTUP_SECONDS and not record.worker_started


def set_status(paths: RunPaths, status: str, message: str = "", **extra) -> RunRecord:
    record = paths.update_record(status=status, status_message=message, updated_at=time.time(), **extra)
    run_events.emit(paths, "status", status=status, message=message, **{k: v for k, v in extra.items() if k in ("step", "resumed_from")})
    return record


def kill_worker(paths: RunPaths, record: RunRecord, wait: float = 5.0) -> None:
    """End the worker: SIGTERM, then SIGKILL if it has not gone within `wait` seconds."""
    pid = record.pid
    if not pid:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(pid), sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not worker_alive(paths) and not pid_alive(pid):
                return
            time.sleep(0.1)


def reconcile(paths: RunPaths) -> RunRecord:
    """The run's record, corrected when its worker is gone or a Stop has outlived its grace period."""
    record = paths.read_record()
    status = record.status
    if status not in ACTIVE:
        return record
    if is_live(paths, record):
        requested = record.stop_requested_at
        grace = record.stop_grace if record.stop_grace is not None else STOP_GRACE_SECONDS
        if status == "stopping" and requested and time.time() - requested > grace:
            kill_worker(paths, record)
            return mark_stopped(paths, forced=True)
        return record
    if status == "stopping":
        return mark_stopped(paths, forced=True)
    last = last_checkpoint(paths)
    paths.stop_request.unlink(missing_ok=True)
    if status == "queued" and not record.worker_started:
        return set_status(paths, "interrupted", "The run never started (the app or machine stopped first). Resume or start it again.")
    where = f"the checkpoint at step {last}" if last is not None else "the beginning (no checkpoint was saved)"
    return set_status(paths, "interrupted", f"The training process ended without finishing (sleep, crash or kill). Resume from {where}.", step=last)


def valid_checkpoints(paths: RunPaths) -> list[tuple[int, object]]:
    """(step, zip) of the checkpoints that are complete zips (a kill during a save can leave a cut one)."""
    import zipfile

    return [(step, path) for step, path in paths.checkpoint_zips() if zipfile.is_zipfile(path)]


def last_checkpoint(paths: RunPaths) -> int | None:
    """The step of the run's newest complete checkpoint, or None."""
    zips = valid_checkpoints(paths)
    return zips[-1][0] if zips else None


def mark_stopped(paths: RunPaths, *, forced: bool = False, **extra) -> RunRecord:
    """Record the run as stopped at its last complete checkpoint (the Stop request is done with); `forced` when
    the worker was ended without its final save. Returns the record."""
    paths.stop_request.unlink(missing_ok=True)
    last = last_checkpoint(paths)
    if forced:
        extra["forced"] = True
    return set_status(paths, "stopped", _stopped_message(last, forced=forced), step=last, **extra)


def _stopped_message(step: int | None, forced: bool = False) -> str:
    how = "Stopped (the worker was ended without a final save)" if forced else "Stopped"
    if step is None:
        return how + " before any checkpoint was saved."
    return how + f"; the last checkpoint is at step {step}. Resume continues from there."


def reconcile_all(workspace: Workspace) -> list[str]:
    """Reconcile every active run (on app and CLI start); the ids of runs found interrupted or stopped."""
    changed = []
    if not workspace.runs_dir.is_dir():
        return changed
    for run_id in workspace.list_runs():
        paths = RunPaths(workspace.runs_dir / run_id)
        before = paths.read_record().status
        if before in ACTIVE:
            after = reconcile(paths).status
            if after != before:
                changed.append(run_id)
    return changed
