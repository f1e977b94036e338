"""Writing files so that a crash never leaves a half-written one, and deleting only into a trash.

Every file the app writes goes through `write_bytes`/`write_text`/`write_json`: a temporary file in
the same folder, flushed and fsynced, then `os.replace`d over the target. A reader sees the old
content or the new content, never a cut one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from core.errors import DiskFull


def write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            raise DiskFull(path) from None
        raise
    return path


DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON in `path`, or `default` when the file is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def append_line(path: Path, line: str) -> None:
    """Append one line (an event log entry); a crash can lose the line, never earlier ones."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")
        handle.flush()


def move_to_trash(path: Path, trash_root: Path) -> Path:
    """Move a file or folder into `trash_root/<timestamp>/` and return where it went (recoverable)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target_dir = Path(trash_root) / stamp
    target = target_dir / path.name
    counter = 1
    while target.exists():
        target = target_dir / f"{path.stem}-{counter}{path.suffix}"
        counter += 1
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(target))
    return target


def free_bytes(path: Path) -> int:
    """Free space on the disk holding `path` (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free
