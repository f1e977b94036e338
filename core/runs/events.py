"""A run's structured progress events: one JSON object per line in RunPaths.events.

Types: `step` (step, total, loss, seconds_per_step, eta_seconds), `checkpoint` (step, path),
`preview` (step, path, name, seconds: the time one preview image took), `error` (message, todo), `status` (status, message, plus step or
resumed_from). The training worker writes them; the UI and the CLI read them. Nothing parses text.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from core import storage
from core.runs.paths import RunPaths
from core.settings import redact

TYPES = ("step", "checkpoint", "preview", "error", "status")


def emit(paths: RunPaths, kind: str, **data) -> dict:
    if kind not in TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    event = {"type": kind, "time": round(time.time(), 3), **data}
    storage.append_line(paths.events, json.dumps(event, ensure_ascii=False, default=str))
    return event


def read(paths: RunPaths, offset: int = 0) -> tuple[list[dict], int]:
    """Events from byte `offset` on, and the offset after the last complete line."""
    try:
        with open(paths.events, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return [], offset
    events = []
    end = chunk.rfind(b"\n") + 1  # a line being written right now is read next time
    for line in chunk[:end].splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a hand-edited or cut line is skipped, never fatal
        if isinstance(event, dict) and event.get("type") in TYPES:
            events.append(event)
    return events, offset + end


def read_all(paths: RunPaths) -> list[dict]:
    return read(paths)[0]


@dataclass
class Timeline:
    """What the events say, folded: the loss curve, progress, checkpoints, previews, errors."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    step: int = 0
    total: int = 0
    seconds_per_step: float | None = None
    eta_seconds: float | None = None
    checkpoints: list[int] = field(default_factory=list)
    previews: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    last_status: str | None = None
    last_message: str = ""

    def smoothed(self, window: int = 10) -> list[float]:
        out, acc = [], []
        for loss in self.losses:
            acc.append(loss)
            if len(acc) > window:
                acc.pop(0)
            out.append(sum(acc) / len(acc))
        return out

    def to_dict(self) -> dict:
        return {
            "step": self.step, "total": self.total, "seconds_per_step": self.seconds_per_step,
            "eta_seconds": self.eta_seconds, "final_loss": self.losses[-1] if self.losses else None,
            "checkpoints": self.checkpoints, "previews": self.previews, "errors": self.errors,
            "loss": [{"step": s, "loss": l} for s, l in zip(self.steps, self.losses)],
        }


def timeline(events: list[dict]) -> Timeline:
    """Fold events; a resume from an earlier checkpoint drops the points after it (they were redone)."""
    points: dict[int, float] = {}
    line = Timeline()
    checkpoints: set[int] = set()
    previews: dict[str, dict] = {}
    for event in events:
        kind = event.get("type")
        if kind == "step" and isinstance(event.get("step"), int):
            if isinstance(event.get("loss"), (int, float)):
                points[event["step"]] = float(event["loss"])
            line.step = event["step"]
            line.total = int(event.get("total") or line.total)
            line.seconds_per_step = event.get("seconds_per_step")
            line.eta_seconds = event.get("eta_seconds")
        elif kind == "checkpoint" and isinstance(event.get("step"), int):
            checkpoints.add(event["step"])
        elif kind == "preview" and event.get("path"):
            previews[str(event["path"])] = {"step": event.get("step"), "path": event["path"], "name": event.get("name", "")}
        elif kind == "error":
            line.errors.append({"message": event.get("message", ""), "todo": event.get("todo", "")})
        elif kind == "status":
            line.last_status = event.get("status")
            line.last_message = event.get("message", "")
            resumed = event.get("resumed_from")
            if isinstance(resumed, int):
                points = {s: l for s, l in points.items() if s <= resumed}
                checkpoints = {s for s in checkpoints if s <= resumed}
                previews = {k: v for k, v in previews.items() if (v.get("step") or 0) <= resumed}
                line.step = resumed
    line.steps = sorted(points)
    line.losses = [points[s] for s in line.steps]
    line.checkpoints = sorted(checkpoints)
    line.previews = sorted(previews.values(), key=lambda p: (p.get("step") or 0, p.get("name") or ""))
    return line


# What a terminal does with a worker's output that matters for reading it back: line feeds, carriage returns
# (tqdm redraws its bar in place), cursor up/down (tqdm's nested bars: a preview's bar under the training's),
# line clears; every other escape (colours, titles) is dropped.
_TOKENS = re.compile(r"(\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\^_]|\r\n|\r|\n)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_log(text: str) -> list[str]:
    """A worker's output as its terminal would show it: a progress bar redrawn in place keeps only its latest state
    (nested bars each keep their own line), colours and other codes removed, blank lines dropped."""
    rows = [""]
    row, at_start = 0, True
    for token in _TOKENS.split(text):
        if not token:
            continue
        if token in ("\n", "\r\n"):
            row += 1
            if row == len(rows):
                rows.append("")
            at_start = True
        elif token == "\r":
            at_start = True
        elif token.startswith("\x1b["):
            count = int(token[2:-1]) if token[2:-1].isdigit() else 1
            if token[-1] == "A":
                row = max(0, row - count)
            elif token[-1] == "B":
                row = min(len(rows) - 1, row + count)
            elif token[-1] == "K":
                rows[row] = ""
        elif token.startswith("\x1b"):
            continue
        else:
            token = _CONTROL.sub("", token)
            # After a carriage return the new state replaces the old one (tqdm pads each redraw to the bar's width).
            rows[row] = token if at_start else rows[row] + token
            at_start = False
    return [line.rstrip() for line in rows if line.strip()]


def log_tail(paths: RunPaths, lines: int = 40) -> str:
    """The last lines of the worker's log (mflux's messages) as they would read in a terminal: a progress bar's
    redraws collapsed into its latest state, terminal codes removed, the newest line last."""
    path = Path(paths.worker_log)
    if not path.is_file():
        return ""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(0, size - 64_000))
        text = handle.read().decode("utf-8", errors="replace")
    if size > 64_000:
        text = text.split("\n", 1)[-1]  # the first line was cut by the seek
    return redact("\n".join(clean_log(text)[-lines:]))
