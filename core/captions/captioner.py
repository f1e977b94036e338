"""Auto-captions with Florence-2 through transformers' native classes (no remote code).

    for event in auto_caption(workspace, datasets.open_dataset(workspace, "mira"), CaptionOptions(trigger="mira")):
        ...  # Progress per image; the last event's result is a CaptionRun

The model is loaded on first use (downloaded with progress when it is not in the Hub cache), runs on
MPS, CUDA or the CPU, and is freed after the batch. It runs inside `jobs.heavy_slot`, so it never
competes with a training run for memory. One image that fails is reported; the batch goes on.
"""

from __future__ import annotations

import gc
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from core.captions import store as caption_store
from core import jobs
from core.errors import AppError, ModelError
from core.progress import Cancellation, Progress, drain, relay
from core.workspace import Workspace

DEFAULT_MODEL = "florence-community/Florence-2-large"
DEFAULT_ENDPOINT = "https://huggingface.co"  # where huggingface_hub downloads from when HF_ENDPOINT is not set
TASKS = ("<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>")
POLICIES = ("skip", "overwrite", "append")
_BOILERPLATE = re.compile(
    r"^\s*(?:(?:in|from)\s+(?:this|the)\s+(?:image|picture|photo|illustration)\s*,?\s*(?:we\s+(?:can\s+)?see\s+)?|"
    r"(?:the|this)\s+(?:image|picture|photo|illustration)\s+(?:shows|depicts|features|is\s+of|contains|is)\s+|"
    r"there\s+is\s+)",
    re.IGNORECASE,
)


@dataclass
class CaptionOptions:
    model: str = DEFAULT_MODEL  # a Hub id or a local folder
    task: str = "<DETAILED_CAPTION>"
    policy: str = "skip"  # skip | overwrite | append, for images that already have a caption
    trigger: str = ""
    device: str | None = None  # None: mps, then cuda, then cpu
    max_new_tokens: int = 128
    num_beams: int = 3
    endpoint: str | None = None  # HF_ENDPOINT (a mirror); None: huggingface.co

    def validate(self) -> None:
        if self.task not in TASKS:
            raise AppError(f"Unknown captioning task '{self.task}'.", f"Use one of: {', '.join(TASKS)}.")
        if self.policy not in POLICIES:
            raise AppError(f"Unknown policy '{self.policy}' for existing captions.", "Use skip, overwrite or append.")


@dataclass
class CaptionRun:
    captioned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # Florence-2 returned no text: nothing was written
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    device: str = ""

    def summary(self) -> str:
        text = f"Captioned {len(self.captioned)} image(s), skipped {len(self.skipped)} that already had one"
        if self.empty:
            shown = ", ".join(self.empty[:8]) + (f" and {len(self.empty) - 8} more" if len(self.empty) > 8 else "")
            text += (f", {len(self.empty)} came back empty ({shown}: each keeps the caption it had; "
                     "try another task or model, or write them by hand)")
        if self.failed:
            text += f", {len(self.failed)} failed ({self.failed[0][1]})"
        if self.cancelled:
            text += "; stopped, the captions written so far are kept"
        return text + "."


def clean(text: str) -> str:
    """Florence output without special tokens and boilerplate openings, as one tidy sentence."""
    text = re.sub(r"</?s>|<pad>|<unk>|<loc_\d+>", "", text).strip()
    previous = None
    while previous != text:
        previous, text = text, _BOILERPLATE.sub("", text, count=1).strip()
    text = re.sub(r"\s+", " ", text)
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text.strip()


def compose(existing: str, generated: str, options: CaptionOptions) -> str:
    body = clean(generated)
    if options.policy == "append" and existing.strip():
        body = f"{existing.strip().rstrip(',.')}, {body}" if body else existing.strip()
    return caption_store.with_trigger(body, options.trigger) if options.trigger.strip() else body


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested:
        return requested
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def _byte_progress_class(report: Callable[[int, int], None]):
    """A tqdm subclass for huggingface_hub's snapshot_download that reports (bytes written, total) to `report`."""
    import io

    from tqdm import tqdm

    class DownloadProgress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["file"] = io.StringIO()  # nothing on the terminal; the UI shows the events
            kwargs["disable"] = False
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            result = super().update(n)
            if self.unit == "B" and str(self.desc).startswith("Reconstruct"):
                report(int(self.n), int(self.total or 0))
            return result

    return DownloadProgress


def _resolve_model(model: str, endpoint: str | None = None) -> Iterator[Progress | str]:
    """Yield download progress, then the local folder of `model` (last item, a str)."""
    if Path(model).expanduser().is_dir():
        yield str(Path(model).expanduser())
        return
    from huggingface_hub import snapshot_download

    try:
        yield snapshot_download(model, local_files_only=True, endpoint=endpoint)
        return
    except Exception:
        pass

    def fetch(emit: Callable[[Progress], None]) -> str:
        shown = [0.0]

        def report(done: int, total: int) -> None:  # at most two a second, and always the last
            if total and (done >= total or time.monotonic() - shown[0] >= 0.5):
                shown[0] = time.monotonic()
                emit(Progress(done, total, f"Downloading {model}: {done / 1e6:.1f} of {total / 1e6:.1f} MB (first use only)…",
                              {"phase": "download", "bytes": done, "total": total}))

        return snapshot_download(model, endpoint=endpoint, tqdm_class=_byte_progress_class(report))

    host = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
    yield Progress(0, 0, f"Downloading {model} from {host} (first use only)…", {"phase": "download", "bytes": 0, "total": 0})
    try:
        folder = yield from relay(fetch, name="caption-download")
    except Exception as error:  # one sentence for the person
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
        where = "HF_ENDPOINT in .env" if endpoint else "HF_ENDPOINT in .env (to use a mirror)"
        raise ModelError(f"Florence-2 ({model}) could not be downloaded from {host} ({reason}).",
                         f"Check the internet connection and {where}, or type the path of a local Florence-2 folder "
                         "under Model, then press Caption again.") from None
    yield folder


class _Florence:
    def __init__(self, folder: str, device: str) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = device
        self.dtype = torch.float16 if device == "cuda" else torch.float32
        try:
            self.processor = AutoProcessor.from_pretrained(folder)
            self.model = AutoModelForImageTextToText.from_pretrained(folder, dtype=self.dtype).to(device).eval()
        except Exception as error:
            raise ModelError(f"Florence-2 could not be loaded from {folder} ({error}).",
                             "Use a native Florence-2 checkpoint such as florence-community/Florence-2-large.") from None

    def caption(self, image_path: Path, options: CaptionOptions) -> str:
        import torch
        from PIL import Image

        with Image.open(image_path) as opened:
            image = opened.convert("RGB")
        inputs = self.processor(text=options.task, images=image, return_tensors="pt").to(self.device, self.dtype)
        with torch.inference_mode():
            ids = self.model.generate(**inputs, max_new_tokens=options.max_new_tokens, num_beams=options.num_beams, do_sample=False)
        text = self.processor.batch_decode(ids, skip_special_tokens=False)[0]
        parsed = self.processor.post_process_generation(text, task=options.task, image_size=image.size)
        return str(parsed.get(options.task, "")) if isinstance(parsed, dict) else str(parsed)

    def free(self) -> None:
        import torch

        del self.model
        gc.collect()
        if self.device == "cuda":
            torch.cuda.empty_cache()
        elif self.device == "mps":
            torch.mps.empty_cache()


def auto_caption(workspace: Workspace, dataset, options: CaptionOptions, *, stems: list[str] | None = None,
                 cancel: Cancellation | None = None, wait: float | None = None) -> Iterator[Progress[CaptionRun]]:
    """Caption `dataset` (a core.dataset Dataset: its name and items()) with Florence-2, holding the heavy slot."""
    options.validate()
    items = [i for i in dataset.items() if stems is None or i.stem in stems]
    run = CaptionRun()
    todo = []
    for item in items:
        try:
            existing = caption_store.read(dataset, item.stem)
        except caption_store.CaptionEncodingError as error:
            run.failed.append((item.stem, str(error)))
            continue
        if existing.strip() and options.policy == "skip":
            run.skipped.append(item.stem)
        else:
            todo.append(item)
    total = len(todo)
    if not todo:
        yield Progress(0, 0, run.summary(), result=run)
        return
    yield Progress(0, total, "Waiting for the machine (another heavy job is running)…" if jobs.holder(workspace) else "Starting…")
    with jobs.heavy_slot(workspace, "caption", f"Auto-caption of '{dataset.name}'", wait=wait):
        folder = None
        for step in _resolve_model(options.model, options.endpoint):
            if isinstance(step, Progress):
                yield step
            else:
                folder = step
        run.device = pick_device(options.device)
        yield Progress(0, total, f"Loading Florence-2 on {run.device}…", {"phase": "load"})
        model = _Florence(folder, run.device)
        try:
            for index, item in enumerate(todo, start=1):
                if cancel is not None and cancel.requested:
                    run.cancelled = True
                    break
                try:
                    generated = model.caption(item.image, options)
                    if not clean(generated):  # nothing to write: the caption it had (if any) stays
                        run.empty.append(item.stem)
                        yield Progress(index, total, f"{item.stem}: Florence-2 returned no text; its caption was left as it was",
                                       {"phase": "caption", "stem": item.stem})
                        continue
                    text = compose(caption_store.read(dataset, item.stem), generated, options)
                    caption_store.save(dataset, item.stem, text, source="auto")
                    run.captioned.append(item.stem)
                    message = f"{item.stem}: {text[:80]}"
                except Exception as error:  # one bad image never stops the batch
                    run.failed.append((item.stem, f"{item.image.name} could not be captioned ({error})"))
                    message = f"{item.stem}: failed ({error})"
                yield Progress(index, total, message, {"phase": "caption", "stem": item.stem})
        finally:
            model.free()
            del model
            gc.collect()
    yield Progress(total, total, run.summary(), result=run)


def run_all(workspace: Workspace, dataset, options: CaptionOptions, **kwargs) -> CaptionRun:
    return drain(auto_caption(workspace, dataset, options, **kwargs))
