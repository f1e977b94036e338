"""Generating on Runware (imageInference) with the base model and a registered LoRA, with cost.

    images = generate(settings, CloudRequest("mira, a portrait", loras=(LoraRef("me:mira@1", 0.9),), seed=7))
    images[0].path, images[0].cost

`generate_many` sends several requests over one connection with bounded concurrency and yields each
outcome (images, or a RunwareError for that item alone) as it completes. Images are saved under the
workspace with a JSON of their settings beside them; secrets never are.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from core import storage
from core.errors import RunwareConnectionError, RunwareDropped, RunwareError, RunwareInvalidRequest
from core.progress import Cancellation
from core.runware.air import BASE_AIR, LoraRef, check_air
from core.runware.session import stream, translate
from core.settings import Settings
from core.workspace import Workspace

OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
DEFAULT_CONCURRENCY = 8
_SUFFIX = {"PNG": ".png", "JPG": ".jpg", "WEBP": ".webp"}


@dataclass
class CloudRequest:
    prompt: str
    model: str = BASE_AIR
    loras: tuple[LoraRef, ...] = ()
    seed: int | None = None  # None: a random seed is picked here, so it is recorded
    width: int = 1024
    height: int = 1024
    steps: int | None = None  # None: Runware's default for the model
    cfg: float | None = None
    number_results: int = 1
    negative_prompt: str = ""
    output_type: str = "URL"
    output_format: str = "PNG"
    timeout: float = 180.0

    def __post_init__(self) -> None:
        self.loras = tuple(LoraRef.parse(x) if isinstance(x, str) else x for x in self.loras)
        if self.seed is None:
            self.seed = random.randint(1, 2**31 - 1)

    def check(self) -> None:
        if not self.prompt.strip():
            raise RunwareInvalidRequest("The prompt is empty.", "Type what the image should show.")
        check_air(self.model, "The base model AIR")
        for lora in self.loras:
            check_air(lora.air, "The LoRA AIR")
            if not -4 <= lora.weight <= 4:
                raise RunwareInvalidRequest(f"LoRA weight {lora.weight} is outside Runware's range -4..4.",
                                            "Use a weight between -4 and 4 (usually 0.6-1.2).")
        if self.output_type not in OUTPUT_TYPES:
            raise RunwareInvalidRequest(f"Unknown output type {self.output_type}.",
                                        f"Use one of {', '.join(OUTPUT_TYPES)}.")
        if not 1 <= int(self.number_results) <= 20:
            raise RunwareInvalidRequest("Number of results must be between 1 and 20.", "")

    def to_task(self) -> dict[str, Any]:
        task: dict[str, Any] = {
            "taskType": "imageInference", "taskUUID": str(uuid.uuid4()), "deliveryMethod": "sync",
            "model": self.model, "positivePrompt": self.prompt, "width": int(self.width), "height": int(self.height),
            "seed": int(self.seed or 0), "numberResults": int(self.number_results), "includeCost": True,
            "outputType": self.output_type, "outputFormat": self.output_format,
        }
        if self.steps:
            task["steps"] = int(self.steps)
        if self.cfg is not None:
            task["CFGScale"] = float(self.cfg)
        if self.negative_prompt.strip():
            task["negativePrompt"] = self.negative_prompt.strip()
        if self.loras:
            task["lora"] = [{"model": lora.air, "weight": float(lora.weight)} for lora in self.loras]
        return task

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["loras"] = [asdict(lora) for lora in self.loras]
        return data


@dataclass
class CloudImage:
    path: Path
    uuid: str
    seed: int | None
    cost: float | None  # USD, when Runware reported it
    url: str | None  # Runware's URL when delivered as URL
    delivery: str  # URL | base64Data | dataURI
    seconds: float  # wall time of the request
    request: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def total_cost(images: list[CloudImage]) -> float | None:
    """The summed cost of images, or None when Runware reported none."""
    costs = [image.cost for image in images if image.cost is not None]
    return round(sum(costs), 6) if costs else None


def default_out_dir(settings: Settings) -> Path:
    return Workspace(settings.workspace).generations_dir / "runware" / time.strftime("%Y%m%d")


def generate(settings: Settings, request: CloudRequest, *, out_dir: Path | None = None,
             cancel: Cancellation | None = None) -> list[CloudImage]:
    """Run one imageInference; raises RunwareError with one sentence when it fails."""
    outcomes = [outcome for _index, outcome in
                generate_many(settings, [request], out_dir=out_dir, cancel=cancel, concurrency=1)]
    if not outcomes:  # pragma: no cover - one request always gives one outcome
        raise RunwareError("Runware returned no image.", "Try again.")
    if isinstance(outcomes[0], RunwareError):
        raise outcomes[0]
    return outcomes[0]


def generate_many(settings: Settings, requests: list[CloudRequest], *, out_dir: Path | None = None,
                  concurrency: int = DEFAULT_CONCURRENCY, cancel: Cancellation | None = None,
                  names: list[str] | None = None) -> Iterator[tuple[int, list[CloudImage] | RunwareError]]:
    """Send every request over one connection, at most `concurrency` at a time; yield (index, images or
    the item's RunwareError) as each completes. A failed item never stops the others; a connection that
    drops mid-request is retried once. Login failures (no key, bad key, unreachable) raise at once."""
    for request in requests:
        request.check()
    target = Path(out_dir) if out_dir else default_out_dir(settings)
    budget = max(request.timeout for request in requests) * (len(requests) / max(1, concurrency) + 1) + 30

    async def work(client, emit):
        gate = asyncio.Semaphore(max(1, int(concurrency)))  # made on the SDK's loop thread

        async def one(index: int, request: CloudRequest) -> None:
            async with gate:
                for attempt in (1, 2):
                    started = time.monotonic()
                    try:
                        items = await asyncio.wait_for(_infer(client, request), request.timeout)
                        name = names[index] if names else f"{time.strftime('%H%M%S')}-{index:02d}"
                        images = await asyncio.to_thread(_save, items, request, target, name,
                                                         time.monotonic() - started)
                        emit((index, images))
                        return
                    except asyncio.CancelledError:
                        raise
                    except BaseException as exc:  # noqa: BLE001 - every failure becomes the item's sentence
                        error = translate(exc, air=request.model,
                                          lora=request.loras[0].air if request.loras else None,
                                          size=(request.width, request.height), seconds=request.timeout,
                                          doing="the image request")
                        if isinstance(error, RunwareDropped) and attempt == 1:
                            continue
                        emit((index, error))
                        return

        await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))

    yield from stream(settings, work, timeout=budget, cancel=cancel,
                      translate_with={"doing": "the image requests"})


async def _infer(client, request: CloudRequest) -> list[dict[str, Any]]:
    from runware import RunOptions

    return await client.run(request.to_task(), RunOptions(timeout=int(request.timeout * 1000)))


def _save(items: list[dict[str, Any]], request: CloudRequest, folder: Path, name: str,
          seconds: float) -> list[CloudImage]:
    """Write each result's image (downloaded or decoded) and its settings; returns the CloudImages."""
    if not items:
        raise RunwareError("Runware answered without an image.", "Try again.")
    images = []
    suffix = _SUFFIX.get(request.output_format.upper(), ".png")
    for number, item in enumerate(items):
        data, delivery = _image_bytes(item)
        stem = name if len(items) == 1 else f"{name}-{number + 1}"
        path = storage.write_bytes(folder / f"{stem}{suffix}", data)
        cost = item.get("cost")
        image = CloudImage(path=path, uuid=str(item.get("imageUUID") or ""), seed=item.get("seed", request.seed),
                           cost=float(cost) if isinstance(cost, (int, float)) else None,
                           url=item.get("imageURL"), delivery=delivery, seconds=round(seconds, 3),
                           request=request.to_dict())
        storage.write_json(path.with_suffix(".json"), {**image.to_dict(), "source": "runware"})
        images.append(image)
    return images


def _image_bytes(item: dict[str, Any]) -> tuple[bytes, str]:
    if item.get("imageBase64Data"):
        return base64.b64decode(item["imageBase64Data"]), "base64Data"
    if item.get("imageDataURI"):
        return base64.b64decode(str(item["imageDataURI"]).split(",", 1)[-1]), "dataURI"
    url = item.get("imageURL")
    if not url:
        raise RunwareError("Runware answered without an image.", "Try again.")
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read(), "URL"
    except OSError as exc:
        raise RunwareConnectionError(f"Could not download the image Runware made ({exc}).",
                                     "Check your connection and generate again.", detail=str(exc)) from exc
