"""What the Playground spent on Runware, per day, kept in the workspace so a reload shows the same total.

    spend.add(workspace, 0.0019)           # one Runware request (its reported cost; None when not reported)
    spend.today(workspace)                 # Spend(day="2026-11-27", dollars=0.0019, requests=1, unpriced=0)

outputs/playground_spend.json holds one entry per local day (the last DAYS_KEPT days): every request the
Playground sends to Runware (Generate, and each prompt of a comparison or batch, from the UI or the CLI).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

from core import storage
from core.workspace import Workspace

FILE_NAME = "playground_spend.json"
DAYS_KEPT = 90
_lock = threading.Lock()  # requests finish on several threads at once; each adds to the same file


@dataclass
class Spend:
    day: str  # local date, YYYY-MM-DD
    dollars: float = 0.0  # the sum of the costs Runware reported
    requests: int = 0
    unpriced: int = 0  # requests Runware reported no cost for (not in `dollars`)

    def to_dict(self) -> dict:
        return asdict(self)


def _path(workspace: Workspace):
    return workspace.outputs_dir / FILE_NAME


def _day(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(now))


def _read(workspace: Workspace) -> dict:
    data = storage.read_json(_path(workspace), default={})
    days = data.get("days") if isinstance(data, dict) else None
    return days if isinstance(days, dict) else {}


def _entry(day: str, value) -> Spend:
    value = value if isinstance(value, dict) else {}

    def number(key, kind):
        raw = value.get(key, 0)
        return kind(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw >= 0 else kind(0)

    return Spend(day, round(number("dollars", float), 6), number("requests", int), number("unpriced", int))


def today(workspace: Workspace, now: float | None = None) -> Spend:
    """Today's spend in this workspace (nothing yet: zero)."""
    day = _day(now)
    return _entry(day, _read(workspace).get(day))


def add(workspace: Workspace, cost: float | None, requests: int = 1, now: float | None = None) -> Spend:
    """Count `requests` Runware requests that cost `cost` dollars in all (None: not reported); today's total."""
    if requests <= 0:
        return today(workspace, now)
    with _lock:
        days = _read(workspace)
        day = _day(now)
        spend = _entry(day, days.get(day))
        spend.requests += requests
        if cost is None:
            spend.unpriced += requests
        else:
            spend.dollars = round(spend.dollars + float(cost), 6)
        days[day] = {k: v for k, v in spend.to_dict().items() if k != "day"}
        kept = dict(sorted(days.items())[-DAYS_KEPT:])
        storage.write_json(_path(workspace), {"days": kept})
        return spend
