"""One heavy job at a time, across processes: training workers, captioning and generation share
the machine's memory, so they take turns through one lock file in the workspace.

    with jobs.heavy_slot(workspace, "generate", "Local Generate"):
        ...

A holder that dies releases the slot at once (the OS drops its flock); `holder()` says who has it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Callable, Iterator

from core.errors import Busy
from core.workspace import Workspace


def _lock_path(workspace: Workspace) -> Path:
    return workspace.outputs_dir / "heavy-job.lock"


def holder(workspace: Workspace) -> dict | None:
    """Who holds the heavy slot ({kind, label, pid, since}), or None when it is free."""
    path = _lock_path(workspace)
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                return json.loads(handle.read() or "{}") or {"kind": "unknown"}
            except ValueError:
                return {"kind": "unknown"}
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


@contextlib.contextmanager
def heavy_slot(
    workspace: Workspace,
    kind: str,
    label: str,
    wait: float | None = None,
    on_wait: Callable[[dict | None], None] | None = None,
    poll: float = 0.5,
) -> Iterator[None]:
    """Hold the heavy slot for the block. `wait`: seconds to wait (None = forever, 0 = not at all);
    `on_wait(holder)` is called while waiting, so a UI can say what it is waiting for."""
    path = _lock_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    deadline = None if wait is None else time.monotonic() + wait
    acquired = False
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                current = _read_holder(path)
                if deadline is not None and time.monotonic() >= deadline:
                    what = f"{current.get('label') or current.get('kind')}" if current else "another job"
                    raise Busy(f"{label} has to wait: {what} is using the machine.", "Try again when it has finished, or stop it.") from None
                if on_wait is not None:
                    on_wait(current)
                time.sleep(poll)
        acquired = True
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"kind": kind, "label": label, "pid": os.getpid(), "since": time.time()}))
        handle.flush()
        yield
    finally:
        if acquired:  # a waiter that gave up must not erase the holder's record
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _read_holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text() or "{}") or None
    except (OSError, ValueError):
        return None
