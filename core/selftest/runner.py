"""`python -m core selftest`: the whole pipeline, offline, on the self-test model, in a throwaway workspace.

Each stage is a function of the shared SelftestRun that returns one line saying what it checked, and raises
on failure. A stage whose prerequisite failed is not run (it is reported as skipped, with the reason), so one
broken stage gives one clear failure instead of a cascade. The stages live in core.selftest.stages, the types they share in core.selftest.stage.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Iterator

from core.progress import Cancellation, Cancelled, Progress
from core.selftest.stage import SelftestReport, SelftestRun, Stage, StageResult
from core.selftest.stages import STAGES
from core.settings import Settings, load_settings, redact
from core.errors import AppError


def selftest_settings(base: Settings, root: Path) -> Settings:
    """The person's settings pointed at a throwaway workspace, with their secrets left out entirely."""
    return load_settings(
        env_file=None,
        environ={"WORKSPACE_DIR": str(root / "workspace"), "APP_CACHE_DIR": str(base.cache_dir)},
    )


def run(
    base: Settings,
    *,
    stages: tuple[Stage, ...] | None = None,
    only: set[str] | None = None,
    keep: bool = False,
    cancel: Cancellation | None = None,
) -> Iterator[Progress[StageResult | SelftestReport]]:
    """Run the stages in order, yielding a Progress before and after each (payload "stage", "state"; the one
    after carries the StageResult); the last event's result is the SelftestReport (`drain(run(...))` gives it)."""
    if stages is None:
        stages = STAGES
    chosen = [stage for stage in stages if not only or stage.name in only]
    cancel = cancel or Cancellation()
    root = Path(tempfile.mkdtemp(prefix="selftest-", dir=_scratch_parent(base)))
    state = SelftestRun(selftest_settings(base, root), root, cancel)
    report = SelftestReport(workspace=str(root))
    started = time.perf_counter()
    failed: set[str] = set()
    try:
        with state.cleanup:
            for index, stage in enumerate(chosen):
                yield Progress(index, len(chosen), f"{stage.title}…", {"stage": stage.name, "state": "running"})
                result = _run_stage(stage, state, failed, cancel)
                report.stages.append(result)
                if not result.ok:
                    failed.add(stage.name)
                yield Progress(index + 1, len(chosen), f"{result.status.upper()} {stage.title}: {result.detail}",
                               {"stage": stage.name, "state": result.status}, result)
    finally:
        report.seconds = time.perf_counter() - started
        if not keep and report.ok:
            shutil.rmtree(root, ignore_errors=True)
    yield Progress(len(chosen), len(chosen), report.summary(), result=report)


def _run_stage(stage: Stage, state: SelftestRun, failed: set[str], cancel: Cancellation) -> StageResult:
    blocked = [need for need in stage.needs if need in failed]
    if blocked:
        return StageResult(stage.name, stage.title, "skipped", 0.0, f"not run: it needs '{blocked[0]}', which did not pass")
    if cancel.requested:
        failed.add(stage.name)
        return StageResult(stage.name, stage.title, "skipped", 0.0, "not run: the self-test was stopped")
    began = time.perf_counter()
    try:
        detail = stage.run(state) or "ok"
        status = "passed"
    except Cancelled:
        detail, status = "stopped", "skipped"
    except Exception as exc:  # a stage failure is a result to report, not a crash

        status = "failed"
        detail = redact(exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}")
        import logging

        logging.getLogger("core.selftest.runner").error("stage %s failed\n%s", stage.name, redact(traceback.format_exc()))
    return StageResult(stage.name, stage.title, status, time.perf_counter() - began, redact(detail))


def _scratch_parent(base: Settings) -> Path:
    parent = base.cache_dir / "selftest-runs"
    parent.mkdir(parents=True, exist_ok=True)
    return parent

