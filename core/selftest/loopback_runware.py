"""A loopback Runware API that the unmodified runware-sdk (module `runware`) talks to over WebSocket.

It speaks the wire protocol of `wss://ws-api.runware.ai/v1` as runware-sdk 1.8.0 uses it: every
client frame is a JSON array of task objects, every server frame a JSON object with a `data` and/or
an `errors` array whose items carry the `taskUUID` they answer.

    with FakeRunware() as fake:              # its own thread and event loop; sync API for tests
        settings = replace(settings, runware_ws_url=fake.url, runware_api_key=fake.api_key)
        ...
        fake.max_concurrent                  # most imageInference tasks in flight at once

Tasks: authentication (good/bad key), ping, modelSearch (base models and uploaded LoRAs with their
`architecture`: the base models report `fake.architecture`, made up per server so that no hard-coded value
passes for it), modelUpload (a LoRA of an architecture in `fake.architectures`: downloads `downloadURL`,
checks its sha256 against `uniqueIdentifier`, streams validated/downloaded/optimized/stored/ready,
idempotent for the same file), imageInference (sync frames or async ACK + getResponse; URL served on loopback HTTP, base64Data or
dataURI; `includeCost`), getResponse.

Faults arise from the request itself where Runware would raise them (unknown model or LoRA AIR, a
LoRA still processing, a width or height that is not a multiple of 16 in 128..2048, an empty
balance) and can be forced: `fault` for every imageInference, `prompt_faults` for requests whose
prompt contains a marker, `upload_fault` for uploads. Fault names: no_credit, unknown_air,
not_ready, invalid_size, timeout (never answers), drop (closes the socket), drop_once, server_error.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from core.selftest.loopback_files import FileServer, check_download
from core.selftest.pictures import character_image

BASE_MODELS = {
    "runware:400@5": "FLUX.2 [klein] 4B Base",
    "runware:400@4": "FLUX.2 [klein] 4B",
}
UPLOAD_STAGES = (
    ("validated", "Model parameters and configuration validated."),
    ("downloaded", "Model downloaded from provider."),
    ("optimized", "Model optimized for deployment."),
    ("stored", "Model uploaded to secure storage."),
    ("ready", "Model successfully deployed and ready for use."),
)
FAULTS = ("no_credit", "unknown_air", "not_ready", "invalid_size", "timeout", "drop", "drop_once", "server_error")


@dataclass
class UploadedModel:
    air: str
    architecture: str
    sha256: str
    status: str
    task: dict[str, Any]


@dataclass
class FakeRunware:
    api_key: str = "test-runware-key"
    architecture: str = field(default_factory=lambda: f"flux2_klein_{uuid.uuid4().hex[:8]}")  # unique per server
    architectures: dict[str, str] | None = None  # base AIR -> what modelSearch reports; None: `architecture` for each
    image_delay: float = 0.0  # seconds before each image is answered
    stage_delay: float = 0.01  # seconds between upload stages
    cost: float | None = 0.0019  # per image, when includeCost; None: never reported
    balance: float | None = None  # None: unlimited credit
    fault: str | None = None  # forced on every imageInference
    prompt_faults: dict[str, str] = field(default_factory=dict)  # prompt marker -> fault
    upload_fault: str | None = None  # drop | silent (stops after validated) | failed | error
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if self.architectures is None:
            self.architectures = {air: self.architecture for air in BASE_MODELS}
        self.received: list[dict[str, Any]] = []  # every task, apiKey removed
        self.models: dict[str, UploadedModel] = {}
        self.in_flight = 0
        self.max_concurrent = 0
        self.connections = 0
        self._fired_once: set[str] = set()
        self._async_results: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ lifecycle (sync, for tests)

    def start(self) -> "FakeRunware":
        from websockets.asyncio.server import serve

        self._http = FileServer(self.host)  # image URLs and downloadURLs
        self.http_url, self.images, self.files = self._http.url, *self._http.folders.values()
        self.downloads = self._http.downloads  # paths fetched over HTTP
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="fake-runware-ws", daemon=True).start()

        async def open_server():
            return await serve(self._handler, self.host, 0, max_size=None, ping_interval=None)

        self._server = asyncio.run_coroutine_threadsafe(open_server(), self._loop).result(10)
        self.url = f"ws://{self.host}:{self._server.sockets[0].getsockname()[1]}"
        return self

    def stop(self) -> None:
        async def close_server():
            for task in list(self._tasks):  # requests still being answered (e.g. a "timeout" fault)
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._server.close()
            await self._server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close_server(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._http.close()

    def __enter__(self) -> "FakeRunware":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def host_file(self, name: str, data: bytes) -> str:
        """Serve `data` over loopback HTTP (e.g. as a LoRA's downloadURL); returns its URL."""
        return self._http.put("files", name, data)

    def tasks(self, task_type: str) -> list[dict[str, Any]]:
        return [task for task in self.received if task.get("taskType") == task_type]

    # ------------------------------------------------------------------ protocol

    async def _handler(self, ws) -> None:
        self.connections += 1
        authed = False
        try:
            async for raw in ws:
                try:
                    tasks = json.loads(raw)
                except ValueError:
                    continue
                for task in tasks if isinstance(tasks, list) else [tasks]:
                    if not isinstance(task, dict):
                        continue
                    kind = task.get("taskType")
                    if kind != "ping":
                        self.received.append({k: v for k, v in task.items() if k != "apiKey"})
                    if kind == "authentication":
                        authed = await self._authenticate(ws, task)
                    elif kind == "ping":
                        await _send(ws, {"data": [{"taskType": "ping", "pong": True}]})
                    elif not authed:
                        await _send(ws, _error(task, "missingApiKey", "Authenticate first.", "apiKey"))
                    elif kind == "modelSearch":
                        await self._model_search(ws, task)
                    elif kind == "modelUpload":
                        self._spawn(self._model_upload(ws, task))
                    elif kind == "imageInference":
                        self._spawn(self._image_inference(ws, task))
                    elif kind == "getResponse":
                        await self._get_response(ws, task)
                    else:
                        await _send(ws, _error(task, "unsupportedTaskType", f"Task type {kind} is not supported."))
        except Exception:  # a dropped client is normal here
            pass

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _authenticate(self, ws, task: dict[str, Any]) -> bool:
        if task.get("apiKey") != self.api_key:
            await _send(ws, {"errors": [{
                "code": "invalidApiKey", "message": "Invalid API key. Get one at https://my.runware.ai/signup",
                "parameter": "apiKey", "type": "string", "taskType": "authentication"}]})
            return False
        session = task.get("connectionSessionUUID") or str(uuid.uuid4())
        await _send(ws, {"data": [{"taskType": "authentication", "connectionSessionUUID": session}]})
        return True

    async def _model_search(self, ws, task: dict[str, Any]) -> None:
        term = str(task.get("search") or "").lower()
        found = [
            {"air": air, "name": name, "version": air.split("@")[-1], "category": "checkpoint", "type": "base",
             "architecture": self.architectures[air], "private": False, "tags": ["flux2", "klein"]}
            for air, name in BASE_MODELS.items() if air in self.architectures
        ]
        found += [
            {"air": m.air, "name": m.task.get("name"), "version": m.task.get("version"), "category": "lora",
             "architecture": m.architecture, "private": bool(m.task.get("private")), "status": m.status}
            for m in self.models.values()
        ]
        hits = [item for item in found if not term or term in item["air"].lower() or term in str(item["name"]).lower()]
        await _send(ws, {"data": [{"taskType": "modelSearch", "taskUUID": task.get("taskUUID"),
                                   "totalResults": len(hits), "results": hits}]})

    async def _model_upload(self, ws, task: dict[str, Any]) -> None:
        tu, air = task.get("taskUUID"), task.get("air")
        for key in ("category", "architecture", "format", "name", "version", "downloadURL", "air"):
            if not task.get(key):
                name = f"missing{key[0].upper()}{key[1:]}"
                return await _send(ws, _error(task, name, f"Missing required parameter: {key}.", key))
        if task["category"] != "lora":
            return await _send(ws, _error(task, "invalidCategory", "This endpoint expects a LoRA.", "category"))
        if task["format"] != "safetensors":
            return await _send(ws, _error(task, "invalidFormat", "Only safetensors is accepted.", "format"))
        if task["architecture"] not in set(self.architectures.values()):
            return await _send(ws, _error(task, "invalidArchitecture",
                                          f"Unknown architecture {task['architecture']}.", "architecture"))
        if self.upload_fault == "error":
            return await _send(ws, _error(task, "modelOwnershipValidationError",
                                          "The AIR source does not belong to this account.", "air"))
        existing = self.models.get(air)
        unique = str(task.get("uniqueIdentifier") or "")
        if existing is not None:
            if existing.sha256 != unique:
                return await _send(ws, _error(task, "modelAlreadyExists",
                                              f"{air} already exists with another file.", "air"))
            if existing.status == "ready":  # idempotent: the same upload of a deployed model answers ready
                return await self._stage(ws, tu, air, "ready", UPLOAD_STAGES[-1][1])
        model = UploadedModel(air, task["architecture"], unique, "validated", task)
        self.models[air] = model
        await self._stage(ws, tu, air, *UPLOAD_STAGES[0])
        if self.upload_fault == "drop":
            return await ws.close()
        if self.upload_fault == "silent":
            return
        problem = await asyncio.to_thread(check_download, task["downloadURL"], unique)
        if problem or self.upload_fault == "failed":
            model.status = "failed"
            return await self._stage(ws, tu, air, "failed", problem or "Model optimization failed.")
        for status, message in UPLOAD_STAGES[1:]:
            await asyncio.sleep(self.stage_delay)
            model.status = status
            await self._stage(ws, tu, air, status, message)

    async def _stage(self, ws, tu, air, status: str, message: str) -> None:
        await _send(ws, {"data": [{"taskType": "modelUpload", "taskUUID": tu, "status": status,
                                   "message": message, "air": air}]})

    async def _image_inference(self, ws, task: dict[str, Any]) -> None:
        asynchronous = task.get("deliveryMethod") == "async"
        tu = task.get("taskUUID")
        if asynchronous:
            await _send(ws, {"data": [{"taskType": "imageInference", "taskUUID": tu}]})
        with self._lock:
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
        try:
            answer = await self._infer(ws, task)
        finally:
            with self._lock:
                self.in_flight -= 1
        if answer is None:
            return
        if asynchronous:
            self._async_results[tu] = answer
            return
        if "errors" in answer:
            return await _send(ws, answer)
        for item in answer["data"]:
            await _send(ws, {"data": [item]})

    async def _infer(self, ws, task: dict[str, Any]) -> dict[str, Any] | None:
        """The frames answering one imageInference, or None when it is never answered."""
        fault = self._fault_for(task)
        if fault in ("drop", "drop_once"):
            await ws.close()
            return None
        if fault == "timeout":
            return None
        started = time.monotonic()
        problem = self._problem(task, fault)
        count, seed = int(task.get("numberResults") or 1), int(task.get("seed") or 1)
        items = [] if problem else await asyncio.to_thread(  # rendered while the answer is "being made"
            lambda: [self._image_item(task, seed + index) for index in range(count)])
        await asyncio.sleep(max(0.0, self.image_delay - (time.monotonic() - started)))
        if problem:
            return _error(task, *problem)
        if self.balance is not None and self.cost:
            self.balance -= self.cost * count
        return {"data": items}

    def _fault_for(self, task: dict[str, Any]) -> str | None:
        prompt = str(task.get("positivePrompt") or "")
        for marker, fault in self.prompt_faults.items():
            if marker in prompt:
                if fault == "drop_once":
                    if marker in self._fired_once:
                        continue
                    self._fired_once.add(marker)
                return fault
        return self.fault

    def _problem(self, task: dict[str, Any], fault: str | None) -> tuple[str, str, str] | None:
        model = task.get("model")
        if fault == "server_error":
            return ("internalServerError", "An internal error occurred.", "")
        if fault == "unknown_air" or model not in self.architectures:
            return ("invalidModel", f"Model {model} is not a valid AIR or does not exist.", "model")
        for lora in task.get("lora") or []:
            found = self.models.get(str(lora.get("model")))
            if found is None or found.status == "failed":
                return ("invalidLoraModel", f"LoRA model {lora.get('model')} not found or not compatible.", "lora")
            if fault == "not_ready" or found.status != "ready":
                return ("modelNotReady", f"LoRA {found.air} is still being processed ({found.status}).", "lora")
            if not -4 <= float(lora.get("weight", 1)) <= 4:
                return ("invalidLoraWeight", "LoRA weight must be between -4 and 4.", "lora")
        if fault == "not_ready":
            return ("modelNotReady", "The model is still being processed.", "model")
        for side in ("width", "height"):
            value = task.get(side)
            if fault == "invalid_size" or not isinstance(value, int) or value % 16 or not 128 <= value <= 2048:
                name = f"invalid{side.capitalize()}"
                return (name, f"Invalid {side} {value}: use a multiple of 16 between 128 and 2048.", side)
        count = int(task.get("numberResults") or 1)
        if fault == "no_credit" or (self.balance is not None and self.cost and self.balance < self.cost * count):
            return ("insufficientCredits", "Insufficient credits to run this task.", "")
        return None

    def _image_item(self, task: dict[str, Any], seed: int) -> dict[str, Any]:
        image_uuid = str(uuid.uuid4())
        hue = zlib.crc32(str(task.get("positivePrompt")).encode()) % 7
        image = character_image((int(task["width"]), int(task["height"])), hue=hue, seed=seed % 5)
        fmt = str(task.get("outputFormat") or "JPG").upper()
        buffer = io.BytesIO()
        image.save(buffer, format={"JPG": "JPEG"}.get(fmt, fmt))
        data = buffer.getvalue()
        item: dict[str, Any] = {"taskType": "imageInference", "taskUUID": task.get("taskUUID"),
                                "imageUUID": image_uuid, "seed": seed}
        kinds = task.get("outputType") or "URL"
        kinds = [kinds] if isinstance(kinds, str) else kinds
        mime = {"JPG": "jpeg"}.get(fmt, fmt.lower())
        if "URL" in kinds:
            name = f"{image_uuid}.{fmt.lower()}"
            self.images[name] = data
            item["imageURL"] = f"{self.http_url}/images/{name}"
        if "base64Data" in kinds:
            item["imageBase64Data"] = base64.b64encode(data).decode()
        if "dataURI" in kinds:
            item["imageDataURI"] = f"data:image/{mime};base64," + base64.b64encode(data).decode()
        if task.get("includeCost") and self.cost is not None:
            item["cost"] = self.cost
        return item

    async def _get_response(self, ws, task: dict[str, Any]) -> None:
        tu = task.get("taskUUID")
        answer = self._async_results.pop(tu, None)
        if answer is None:
            return await _send(ws, {"data": [{"taskType": "imageInference", "taskUUID": tu, "status": "processing"}]})
        if "errors" in answer:
            return await _send(ws, answer)
        await _send(ws, {"data": [{**item, "status": "success"} for item in answer["data"]]})


# ---------------------------------------------------------------------- helpers


async def _send(ws, frame: dict[str, Any]) -> None:
    try:
        await ws.send(json.dumps(frame))
    except Exception:  # the client went away
        pass


def _error(task: dict[str, Any], code: str, message: str, parameter: str = "") -> dict[str, Any]:
    error = {"code": code, "message": message, "taskType": task.get("taskType"), "taskUUID": task.get("taskUUID")}
    if parameter:
        error["parameter"] = parameter
    return {"errors": [error]}
