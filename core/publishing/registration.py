"""The Runware stage of publishing: register the committed adapter (pinned URL) and wait until it is ready.

`core.runware.registry.register_stages` (the runware room's client) does the talking; this module records the
version's AIR (given by core.publishing.publish), streams the stages as Progress events, writes the outcome into
the publish record (core.publishing.record) and makes a retry safe: the same adapter keeps its AIR version, and a
version already ready is not uploaded again.
"""

from __future__ import annotations

from typing import Iterator

from core.checkpoints.store import Chosen
from core.errors import AppError
from core.progress import Cancellation, Cancelled, Progress
from core.publishing.record import PublishedVersion, save_version
from core.runs.paths import RunPaths
from core.runware import registry as runware
from core.settings import Settings

SELFTEST_PREFIX = "SELF-TEST "  # the Runware name of a self-test adapter (tiny random model, not a character)
STAGE_STEP = 5
TOTAL = 7


def _stage_text(event) -> str:
    if isinstance(event, Progress):
        return event.message
    if isinstance(event, dict):
        return str(event.get("status") or event.get("message") or event)
    return str(event)


def register_version(settings: Settings, paths: RunPaths, entry: PublishedVersion, pick: Chosen, air: str,
                     cancel: Cancellation) -> Iterator[Progress]:
    """Register the committed version `entry` on Runware under `air`, saving each outcome into the publish record."""
    if entry.air != air:
        entry.update(air=air, runware_status="pending")
        save_version(paths, entry)
    if entry.runware_status == "ready":  # this very file (same sha256) is deployed under this AIR
        yield Progress(STAGE_STEP, TOTAL, f"Runware model {air} is already ready.", {"stage": "runware", "status": "ready"})
        return
    yield Progress(STAGE_STEP, TOTAL, f"Registering {air} on Runware…", {"stage": "runware", "status": "sending", "air": air})
    name = entry.repo_id.split("/")[-1]
    stages = runware.register_stages(
        settings, url=entry.url, sha256=entry.sha256, air=air, name=f"{SELFTEST_PREFIX}{name}" if entry.selftest else name,
        version=air.rsplit("@", 1)[-1], trigger_words=[pick.trigger] if pick.trigger else [],
        default_weight=pick.strength, cancel=cancel)
    try:
        while True:
            try:
                event = next(stages)
            except StopIteration as finished:
                registration = finished.value
                break
            text = _stage_text(event)
            entry.update(runware_stage=text)
            if event.payload.get("stage") == "architecture":
                entry.update(architecture=event.payload.get("value"), architecture_source=event.payload.get("source"))
            yield Progress(STAGE_STEP, TOTAL, text, {"stage": "runware", "status": event.payload.get("stage"), "air": air})
    except Cancelled:
        entry.update(runware_status="pending", runware_message="Stopped waiting; publish again to continue.")
        save_version(paths, entry)
        raise
    except AppError as error:
        entry.update(runware_status="failed", runware_message=str(error))
        save_version(paths, entry)
        raise
    status = str(getattr(registration, "status", "ready"))
    entry.update(runware_status=status, architecture=getattr(registration, "architecture", None),
                 air=getattr(registration, "air", air) or air, runware_url=entry.url, runware_message=None)
    save_version(paths, entry)
    yield Progress(STAGE_STEP + 1, TOTAL, f"Runware model {entry.air} is {status}.",
                   {"stage": "runware", "status": status, "air": entry.air, "architecture": entry.architecture})
