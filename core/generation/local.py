"""Local generation through the one warm engine: images saved with their full settings.

    outputs/generations/YYYYMMDD/HHMMSS-<seed>-<n>.png   (settings also in the PNG's text chunk "parameters")
    outputs/generations/YYYYMMDD/HHMMSS-<seed>-<n>.json  (the same settings, for the history and "reuse")

The engine gives its memory back when another heavy job (training, captioning) takes the slot.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from core import jobs, storage
from core.models import base as models
from core.generation.engine import Engine, RenderSpec
from core.errors import AppError
from core.progress import Cancellation, Cancelled, Progress, drain, relay
from core.workspace import Workspace
from core.settings import load_settings

MAX_SEED = 2**32 - 1
SIZE_PRESETS = {"square 1024": (1024, 1024), "portrait 9:16": (768, 1344), "landscape 16:9": (1344, 768),
                "portrait 3:4": (896, 1152), "square 512": (512, 512), "tiny 64 (self-test)": (64, 64)}

_engine = Engine()
_watchers: dict[str, threading.Thread] = {}


@dataclass
class GenerateRequest:
    prompt: str
    model: str = "flux2-klein-base-4b"
    seed: int | None = None  # None: a random seed, shown in the result
    width: int = 1024
    height: int = 1024
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    loras: list[tuple[str, float]] = field(default_factory=list)
    quantize: int | None = None
    count: int = 1

    def checked(self) -> "GenerateRequest":
        base = models.resolve(self.model)
        if not self.prompt or not self.prompt.strip():
            raise AppError("The prompt is empty.", "Type what the picture should show.")
        for value, name in ((self.width, "width"), (self.height, "height")):
            if int(value) < 16 or int(value) % 16:
                raise AppError(f"The {name} {value} is not a multiple of 16 (at least 16).", "Pick a size preset or round it to 16.")
        if self.quantize not in (None, 3, 4, 5, 6, 8):
            raise AppError(f"Quantize {self.quantize} is not supported.", "Use none, 4 or 8.")
        if not 1 <= int(self.count) <= 16:
            raise AppError(f"A batch of {self.count} images is not possible here.", "Ask for 1 to 16.")
        loras = [(str(Path(p)), float(s)) for p, s in self.loras]
        for path, strength in loras:
            if not Path(path).is_file():
                raise AppError(f"There is no LoRA file at {path}.", "Pick an exported adapter (Checkpoints tab).")
            if not -4 <= strength <= 4:
                raise AppError(f"A LoRA strength of {strength} is outside -4..4.", "Use something like 1.0 or 1.5.")
        return GenerateRequest(prompt=self.prompt.strip(), model=base.key, seed=self.seed, width=int(self.width),
                               height=int(self.height), steps=int(self.steps or base.default_steps),
                               guidance=float(base.default_guidance if self.guidance is None else self.guidance),
                               loras=loras, quantize=self.quantize, count=int(self.count))


@dataclass
class GeneratedImage:
    path: Path
    settings: dict

    def to_dict(self) -> dict:
        return {"path": str(self.path), "settings": self.settings}


def engine(settings=None) -> Engine:
    """The process's one engine, pointed at the settings' cache and VAE decode override."""
    if settings is not None:
        _engine.cache_dir = Path(settings.cache_dir)
        _engine.decode_override = settings.vae_decode_mode
    elif _engine.cache_dir is None:
        loaded = load_settings()
        _engine.cache_dir, _engine.decode_override = loaded.cache_dir, loaded.vae_decode_mode
    return _engine


def loaded_model() -> str | None:
    """The model the warm engine holds now (None: the next image loads one first)."""
    return _engine.loaded_model


def unload() -> bool:
    """Free the warm model now (e.g. before training). Returns whether one was loaded."""
    return _engine.unload()


def watch_heavy_slot(workspace: Workspace, poll: float = 1.0) -> None:
    """Unload the warm model whenever another kind of heavy job holds the slot (one watcher per workspace)."""
    key = str(workspace.root)
    if key in _watchers and _watchers[key].is_alive():
        return

    def loop() -> None:
        while True:
            time.sleep(poll)
            holder = jobs.holder(workspace)
            if holder and holder.get("kind") not in ("generate", "compare") and _engine.loaded_model is not None:
                _engine.unload()

    thread = threading.Thread(target=loop, name=f"engine-watch-{workspace.root.name}", daemon=True)
    _watchers[key] = thread
    thread.start()


def _settings_record(request: GenerateRequest, seed: int, index: int) -> dict:
    return {
        "prompt": request.prompt, "model": request.model, "seed": seed, "width": request.width, "height": request.height,
        "steps": request.steps, "guidance": request.guidance, "quantize": request.quantize,
        "loras": [{"path": p, "strength": s, "name": Path(p).name} for p, s in request.loras],
        "batch_index": index, "created_at": time.time(), "app": "story-shorts-character-lora",
    }


def save_image(image, folder: Path, record: dict, stem: str) -> Path:
    """PNG with the settings in its text chunk, and the same settings as JSON beside it (both atomic)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", json.dumps(record, ensure_ascii=False))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    base, counter = stem, 2
    while (folder / f"{stem}.png").exists() or (folder / f"{stem}.json").exists():  # never overwrite an earlier image
        stem, counter = f"{base}-{counter}", counter + 1
    path = storage.write_bytes(folder / f"{stem}.png", buffer.getvalue())
    storage.write_json(folder / f"{stem}.json", record)
    return path


def run(workspace: Workspace, request: GenerateRequest, cancel: Cancellation | None = None,
        settings=None) -> Iterator[Progress[GeneratedImage]]:
    """Generate `request.count` images, yielding per-step progress; each finished image is a Progress whose
    result is the GeneratedImage. Stops between steps when `cancel` is requested."""
    request = request.checked()
    eng = engine(settings)
    watch_heavy_slot(workspace)
    total = request.steps * request.count
    with jobs.heavy_slot(workspace, "generate", "Local Generate", wait=0):
        for index in range(request.count):
            seed = request.seed + index if request.seed is not None else random.randint(0, MAX_SEED)
            spec = RenderSpec(model_key=request.model, prompt=request.prompt, seed=seed, width=request.width, height=request.height,
                              steps=request.steps, guidance=request.guidance, loras=tuple(request.loras), quantize=request.quantize)
            done_before = index * request.steps
            label = f"Image {index + 1}/{request.count}"
            yield Progress(done_before, total, f"{label}: loading the model and LoRA if needed (seed {seed})")
            image = yield from render_with_progress(
                eng, spec, cancel, lambda step, steps, _l=label, _s=seed, _d=done_before: Progress(_d + step, total, f"{_l}, step {step}/{steps} (seed {_s})"))
            record = {**_settings_record(request, seed, index), "render_seconds": eng.stats.last_image_seconds}
            stamp = time.strftime("%H%M%S")
            path = save_image(image, workspace.generations_dir / time.strftime("%Y%m%d"), record, f"{stamp}-{seed}-{index}")
            yield Progress(done_before + request.steps, total, f"Saved {path.name}", result=GeneratedImage(path, record))


def render_with_progress(eng: Engine, spec: RenderSpec, cancel: Cancellation | None,
                         make_event: Callable[[int, int], Progress]) -> Iterator[Progress]:
    """Render on the engine thread while yielding its step events here; returns the image (yield from)."""

    def render(emit: Callable[[Progress], None]):
        return eng.submit(spec, on_step=lambda step, steps: emit(make_event(step, steps)), cancel=cancel).result()

    return (yield from relay(render, name="engine-steps"))


def generate(workspace: Workspace, request: GenerateRequest, cancel: Cancellation | None = None, settings=None) -> GeneratedImage:
    """One image (the first of the request's batch); see run() for progress."""
    result = drain(run(workspace, GenerateRequest(**{**asdict(request), "count": 1}), cancel, settings))
    if result is None:
        raise Cancelled()
    return result


def read_settings(path: Path) -> dict | None:
    """The settings of a generated image: from the JSON beside it, else from the PNG's text chunk."""
    path = Path(path)
    data = storage.read_json(path.with_suffix(".json"), default=None)
    if isinstance(data, dict):
        return data
    try:
        from PIL import Image

        with Image.open(path) as image:
            return json.loads(image.text.get("parameters", "null"))
    except (OSError, ValueError, AttributeError):
        return None


def history(workspace: Workspace, limit: int = 60) -> list[GeneratedImage]:
    """The newest generated images with their settings."""
    folder = workspace.generations_dir
    if not folder.is_dir():
        return []
    found = sorted(folder.glob("*/*.png"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    return [GeneratedImage(p, read_settings(p) or {}) for p in found]


def request_from_settings(settings: dict) -> GenerateRequest:
    """'Reuse these settings': the request that made an image."""
    return GenerateRequest(
        prompt=settings.get("prompt", ""), model=settings.get("model", "flux2-klein-base-4b"), seed=settings.get("seed"),
        width=settings.get("width", 1024), height=settings.get("height", 1024), steps=settings.get("steps"),
        guidance=settings.get("guidance"), quantize=settings.get("quantize"),
        loras=[(l["path"], l["strength"]) for l in settings.get("loras", [])],
    )

