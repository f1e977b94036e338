"""The Runware stage of publishing: register the committed adapter (pinned URL) and wait until it is ready.

`core.runware.register` (the runware room's client) does the talking; this module gives the version its AIR,
streams the stages as Progress events, writes the outcome into the publish record and makes a retry safe: the
same adapter keeps its AIR version, and a version already ready is not uploaded again.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

from core.errors import AppError
from core.progress import Cancellation, Cancelled, Progress

STAGE_STEP = 5
TOTAL = 7


def _stage_text(event) -> str:
    if isinstance(event, Progress):
        return event.message
    if isinstance(event, dict):
        return str(event.get("status") or event.get("message") or event)
    return str(event)


def register_version(settings, workspace, paths, request, entry, pick, cancel: Cancellation) -> Iterator[Progress]:
    from core import publish as publishing

    air = publishing.assign_air(workspace, entry["repo_id"], request.air, entry)
    if entry.get("air") != air:
        entry.update(air=air, runware_status="pending")
        publishing._save_version(paths, entry)
    if entry.get("runware_status") == "ready" and entry.get("runware_url") == entry.get("url"):
        yield Progress(STAGE_STEP, TOTAL, f"Runware model {air} is already ready.", {"stage": "runware", "status": "ready"})
        return
    try:
        from core import runware
    except ImportError:
        runware = None
    if runware is None or not hasattr(runware, "register"):
        entry.update(runware_status="unavailable", runware_message="This build has no Runware client yet.")
        publishing._save_version(paths, entry)
        yield Progress(STAGE_STEP, TOTAL, entry["runware_message"], {"stage": "runware", "status": "unavailable"})
        return

    yield Progress(STAGE_STEP, TOTAL, f"Registering {air} on Runware…", {"stage": "runware", "status": "sending", "air": air})
    events: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["registration"] = runware.register(
                settings, url=entry["url"], sha256=entry["sha256"], air=air, name=entry["repo_id"].split("/")[-1],
                version=air.rsplit("@", 1)[-1], trigger_words=[pick.trigger] if pick.trigger else [],
                default_weight=pick.strength, progress=events.put)
        except BaseException as error:  # handed to the generator below
            outcome["error"] = error
        finally:
            events.put(StopIteration)

    threading.Thread(target=work, name="runware-register", daemon=True).start()
    while True:
        try:
            event = events.get(timeout=0.5)
        except queue.Empty:
            if cancel.requested:
                entry.update(runware_status="pending", runware_message="Stopped waiting; publish again to continue.")
                publishing._save_version(paths, entry)
                raise Cancelled()
            continue
        if event is StopIteration:
            break
        text = _stage_text(event)
        entry.update(runware_stage=text)
        yield Progress(STAGE_STEP, TOTAL, f"Runware: {text}", {"stage": "runware", "status": text, "air": air})

    error = outcome.get("error")
    if error is not None:
        message = str(error) if isinstance(error, AppError) else f"Runware registration failed: {error}"
        entry.update(runware_status="failed", runware_message=message)
        publishing._save_version(paths, entry)
        if isinstance(error, AppError):
            raise error
        raise AppError(message, "Publish again; the Hub part is already done and will not be repeated.") from error
    registration = outcome["registration"]
    status = str(getattr(registration, "status", "ready"))
    entry.update(runware_status=status, architecture=getattr(registration, "architecture", None),
                 air=getattr(registration, "air", air) or air, runware_url=entry["url"], runware_message=None)
    publishing._save_version(paths, entry)
    yield Progress(STAGE_STEP + 1, TOTAL, f"Runware model {entry['air']} is {status}.",
                   {"stage": "runware", "status": status, "air": entry["air"], "architecture": entry.get("architecture")})
