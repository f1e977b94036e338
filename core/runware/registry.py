"""Runware: the architecture of FLUX.2 klein as Runware names it, and registering a LoRA until it is ready.

    arch = resolve_architecture(settings)            # modelSearch of runware:400@5, or RUNWARE_ARCHITECTURE
    reg = register(settings, url=..., sha256=..., air="me:mira@1", name="Mira", version="1",
                   trigger_words="mira", default_weight=1.0, progress=print)   # waits for `ready`, bounded

FLUX.2 klein has no architecture value of its own that we could hard-code: `flux1d` is FLUX.1 [dev], a
different network, and a klein LoRA registered as flux1d does not work. So the value is read from
Runware (what it reports for the base model), may be overridden in settings, and is never guessed.

runware-sdk's `model_upload()` returns after the first stage frame (`validated`), so registration
listens to every frame of its task on the SDK's WebSocket transport and waits for `ready` itself.
Cloud image generation lives in core.runware.cloud.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Generator

from core.errors import (RunwareArchitectureError, RunwareAuthError, RunwareError, RunwareInvalidRequest,
                         RunwareTimeout, RunwareUploadFailed)
from core.progress import Cancellation, Progress, drain
from core.runware.air import BASE_AIR, check_air
from core.runware.session import call, stream
from core.settings import Settings

WRONG_ARCHITECTURES = {"flux1d": "FLUX.1 [dev]", "flux1s": "FLUX.1 [schnell]"}
STAGES = ("validated", "downloaded", "optimized", "stored", "ready")
SEARCH_SECONDS = 30.0
REGISTER_SECONDS = 900.0  # a LoRA takes about 2 minutes on Runware
STALL_SECONDS = 300.0  # no stage for this long: give up (re-sending later is safe)


@dataclass(frozen=True)
class Architecture:
    value: str
    source: str  # "runware": reported by modelSearch for base_air; "override": RUNWARE_ARCHITECTURE
    base_air: str = BASE_AIR

    def describe(self) -> str:
        if self.source == "override":
            return f"{self.value} (set by you in RUNWARE_ARCHITECTURE)"
        return f"{self.value} (reported by Runware for {self.base_air})"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Registration:
    air: str
    architecture: str
    status: str  # ready (the only status register() returns; failures raise RunwareError)
    stages: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    architecture_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _refuse_wrong(value: str, source: str) -> None:
    family = WRONG_ARCHITECTURES.get(value.strip().lower())
    if family:
        raise RunwareArchitectureError(
            f"Architecture {value} ({source}) is {family}, a different network: a FLUX.2 klein LoRA registered "
            "that way would not work.",
            f"Remove it from RUNWARE_ARCHITECTURE (or set the value Runware reports for {BASE_AIR}).", value=value)


def resolve_architecture(settings: Settings, *, base_air: str = BASE_AIR, timeout: float = SEARCH_SECONDS,
                         cancel: Cancellation | None = None) -> Architecture:
    """The `architecture` to register klein LoRAs with: RUNWARE_ARCHITECTURE when set, otherwise what
    Runware's modelSearch reports for `base_air`. Refuses when neither gives a value, and never flux1d."""
    override = (settings.runware_architecture or "").strip()
    if override:
        _refuse_wrong(override, "from RUNWARE_ARCHITECTURE")
        return Architecture(override, "override", base_air)

    async def search(client):
        from runware import RunOptions

        return await client.model_search({"search": base_air, "limit": 20},
                                          RunOptions(timeout=int(timeout * 1000)))

    try:
        answers = call(settings, search, timeout=timeout, cancel=cancel,
                       translate_with={"air": base_air, "doing": f"the model search for {base_air}"})
    except RunwareAuthError:
        raise
    except RunwareError as error:
        raise RunwareArchitectureError(
            f"Could not read the architecture of {base_air} from Runware: {error.message}",
            "Try again, or set RUNWARE_ARCHITECTURE in .env to the value Runware documents for FLUX.2 klein 4B.",
            code=error.code) from error
    for answer in answers or []:
        for result in answer.get("results") or []:
            if str(result.get("air", "")).lower() == base_air.lower() and result.get("architecture"):
                value = str(result["architecture"])
                _refuse_wrong(value, f"reported by Runware for {base_air}")
                return Architecture(value, "runware", base_air)
    raise RunwareArchitectureError(
        f"Runware's model search did not report an architecture for {base_air}, so the LoRA cannot be "
        "registered safely.",
        "Set RUNWARE_ARCHITECTURE in .env to the value Runware documents for FLUX.2 klein 4B, then try again.")


def upload_task(*, url: str, sha256: str, air: str, name: str, version: str, trigger_words: str | list[str],
                default_weight: float, architecture: str, private: bool = False) -> dict[str, Any]:
    """The modelUpload task for a LoRA, checked before anything is sent."""
    check_air(air, "The model AIR")
    if not re.match(r"^https?://", url or ""):
        raise RunwareInvalidRequest(f"The download URL {url or '(empty)'} is not an http(s) address Runware can fetch.",
                                    "Publish the adapter to a public Hugging Face repo first.")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256 or ""):
        raise RunwareInvalidRequest("The adapter's sha256 is missing or malformed.", "Export the adapter again.")
    if not -4.0 <= float(default_weight) <= 4.0:
        raise RunwareInvalidRequest(f"Default weight {default_weight} is outside Runware's range -4..4.",
                                    "Pick a strength between -4 and 4 (usually 0.6-1.2).")
    _refuse_wrong(architecture, "given for registration")
    words = trigger_words if isinstance(trigger_words, str) else ", ".join(w for w in trigger_words if w)
    task = {
        "taskType": "modelUpload", "taskUUID": str(uuid.uuid4()), "category": "lora", "format": "safetensors",
        "architecture": architecture, "air": air, "uniqueIdentifier": sha256.lower(), "name": name,
        "version": str(version), "downloadURL": url, "defaultWeight": round(float(default_weight), 3),
        "private": bool(private),
    }
    if words.strip():
        task["positiveTriggerWords"] = words.strip()
    return task


def register_stages(settings: Settings, *, url: str, sha256: str, air: str, name: str, version: str,
                    trigger_words: str | list[str], default_weight: float, architecture: str | None = None,
                    private: bool = False, timeout: float = REGISTER_SECONDS, stall_timeout: float = STALL_SECONDS,
                    cancel: Cancellation | None = None) -> Generator[Progress, None, Registration]:
    """Register a LoRA on Runware, yielding one Progress per stage as Runware streams it; returns the
    Registration once `ready`. Re-sending the same upload of a deployed model is harmless (answers ready)."""
    started = time.monotonic()
    total = len(STAGES) + 1
    if architecture:
        _refuse_wrong(architecture, "given for registration")
        arch = Architecture(architecture, "given")
    else:
        arch = resolve_architecture(settings, cancel=cancel)
    yield Progress(1, total, f"Architecture {arch.describe()}.", {"stage": "architecture", **arch.to_dict()})
    task = upload_task(url=url, sha256=sha256, air=air, name=name, version=version, trigger_words=trigger_words,
                       default_weight=default_weight, architecture=arch.value, private=private)

    async def work(client, emit):
        return await _upload(client, task, emit, stall_timeout)

    seen: list[str] = []
    result: dict[str, Any] = {}
    for item in stream(settings, work, timeout=timeout, cancel=cancel,
                       translate_with={"air": air, "lora": air, "doing": f"the registration of {air}"}):
        status = str(item.get("status") or "")
        seen.append(status)
        step = STAGES.index(status) + 2 if status in STAGES else 1
        yield Progress(step, total, f"Runware: {status}. {item.get('message') or ''}".strip(),
                       {"stage": status, "air": item.get("air") or air})
        result = item  # _upload emits the `ready` item last, then returns it
    return Registration(air=str(result.get("air") or air), architecture=arch.value, status="ready", stages=seen,
                        message=str(result.get("message") or ""), seconds=round(time.monotonic() - started, 2),
                        architecture_source=arch.source)


def register(settings: Settings, *, url: str, sha256: str, air: str, name: str, version: str,
             trigger_words: str | list[str], default_weight: float,
             progress: Callable[[Progress], None] | None = None, **options: Any) -> Registration:
    """register_stages() driven to the end, handing each Progress to `progress` (in this thread)."""
    return drain(register_stages(settings, url=url, sha256=sha256, air=air, name=name, version=version,
                                 trigger_words=trigger_words, default_weight=default_weight, **options), progress)


async def _upload(client, task: dict[str, Any], emit: Callable[[dict], None], stall_timeout: float) -> dict:
    """Send one modelUpload and follow its stage frames to `ready` (runs on the SDK's loop)."""
    from runware import create_runware_error, parse_api_error

    transport = client._ws_transport  # noqa: SLF001 - the SDK's model_upload() stops at the first frame
    frames: asyncio.Queue = asyncio.Queue()
    task_uuid = task["taskUUID"]
    transport.subscribe_to_task(task_uuid, frames.put_nowait)
    connected_at = transport.connected_at
    last_frame = time.monotonic()
    try:
        await transport.send_request(task)
        while True:
            try:
                frame = await asyncio.wait_for(frames.get(), 0.5)
            except asyncio.TimeoutError:
                if not transport.is_connected or transport.connected_at != connected_at:
                    raise create_runware_error("connectionLost", "The connection dropped during the upload.") from None
                if time.monotonic() - last_frame > stall_timeout:
                    raise RunwareTimeout(
                        f"Runware sent no news about {task['air']} for {stall_timeout:.0f} s.",
                        "Run the registration again later: re-sending the same upload is safe.",
                        seconds=stall_timeout, doing=f"the registration of {task['air']}")
                continue
            last_frame = time.monotonic()
            errors = frame.get("errors") or frame.get("error")
            if errors:
                raise parse_api_error({"errors": errors if isinstance(errors, list) else [errors]},
                                      task_type="modelUpload")
            for item in frame.get("data") or []:
                emit(item)
                status = item.get("status")
                if status == "ready":
                    return item
                if status == "failed":
                    raise RunwareUploadFailed(air=task["air"], reason=str(item.get("message") or ""))
    finally:
        transport.unsubscribe_from_task(task_uuid)


__all__ = ["Architecture", "Registration", "resolve_architecture", "register", "register_stages", "upload_task",
           "STAGES", "WRONG_ARCHITECTURES"]
