"""The types the self-test's stages share: the run they work in, a stage, and the report of each."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.progress import Cancellation
from core.settings import Settings
from core.workspace import Workspace


@dataclass
class StageResult:
    name: str
    title: str
    status: str  # "passed" | "failed" | "skipped"
    seconds: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "passed"


@dataclass
class SelftestReport:
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0
    workspace: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.stages) and all(stage.ok for stage in self.stages)

    def summary(self) -> str:
        passed = sum(stage.ok for stage in self.stages)
        verdict = "all stages passed" if self.ok else f"{passed} of {len(self.stages)} stages passed"
        return f"Self-test: {verdict} in {self.seconds:.0f} s."

    def lines(self) -> list[str]:
        marks = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}
        return [f"{marks[s.status]}  {s.title:<34} {s.seconds:6.1f} s  {s.detail}" for s in self.stages]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "seconds": round(self.seconds, 2), "workspace": self.workspace,
                "stages": [{**asdict(s), "seconds": round(s.seconds, 2)} for s in self.stages]}


@dataclass
class SelftestRun:
    """What the stages share: a throwaway workspace and cache, and whatever earlier stages produced."""

    settings: Settings
    root: Path
    cancel: Cancellation
    data: dict[str, Any] = field(default_factory=dict)
    cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def workspace(self):
        return Workspace(self.settings.workspace).ensure()


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    run: Callable[[SelftestRun], str]
    needs: tuple[str, ...] = ()
