"""A likeness number beside the eyes: how close a generated image is to the dataset's pictures.

Image embeddings from a small vision model (DINOv2-small by default; `LIKENESS_MODEL` in .env or the
environment names another Hub id or a local folder: callers pass Settings.likeness_model as `model`) loaded
lazily through transformers, downloaded from the Hub the settings name (HF_ENDPOINT, else huggingface.co: a failed
download names that host, `fetch_model`); the score of an image is its mean cosine similarity to the dataset images
(1.0 = identical look, ~0 = unrelated). Embeddings are kept for the most recently scored images only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from core import storage
from core.dataset.images import list_images
from core.errors import ModelDownloadFailed, ModelError

DEFAULT_MODEL = "facebook/dinov2-small"
CACHE_LIMIT = 2048  # embeddings kept (a few KB each): a big dataset plus a big grid, scored again without work
_lock = threading.Lock()
_loaded: dict = {}
_cache_lock = threading.Lock()
_embedding_cache: OrderedDict[tuple[str, float, str], object] = OrderedDict()  # least recently used first


def model_name(name: str | None = None) -> str:
    """The model to embed with: `name` (Settings.likeness_model), else DINOv2-small."""
    return name or DEFAULT_MODEL


def _device() -> str:
    import torch

    if torch.backends.mps.is_available():
        return "mps"
    return "cuda" if torch.cuda.is_available() else "cpu"


def hub_host(endpoint: str | None = None) -> str:
    """The Hub models are downloaded from: `endpoint` (Settings.hf_endpoint), else huggingface_hub's own
    (the HF_ENDPOINT it was started with, else https://huggingface.co)."""
    if endpoint:
        return endpoint.rstrip("/")
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def _reason(error: BaseException) -> str:
    """The root cause of a failed download, short (a refused connection, a 404 ...)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    seen = error
    while True:
        if isinstance(seen, RepositoryNotFoundError):
            return "no such model there"
        following = seen.__cause__ or seen.__context__
        if following is None or following is seen:
            break
        seen = following
    text = str(seen).strip().splitlines()[0] if str(seen).strip() else type(seen).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def fetch_model(name: str, endpoint: str | None = None) -> str:
    """The local folder of the likeness model `name`: a folder as given, else the Hub snapshot (from the cache,
    or downloaded from `hub_host(endpoint)`). Raises ModelDownloadFailed naming that host."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder)
    if name.startswith(("/", ".", "~")) or name.count("/") != 1:
        raise ModelError(f"The likeness model '{name}' is neither a folder nor a Hub model id.",
                         f"Set LIKENESS_MODEL to a folder that holds the model, or remove it to use {DEFAULT_MODEL}.")
    from huggingface_hub import snapshot_download

    host = hub_host(endpoint)
    patterns = ["*.json", "*.safetensors", "*.txt"]
    try:
        return snapshot_download(name, endpoint=host, allow_patterns=patterns, local_files_only=True)
    except Exception:  # noqa: BLE001 - not in the cache yet: download it
        pass
    try:
        return snapshot_download(name, endpoint=host, allow_patterns=patterns)
    except Exception as error:  # noqa: BLE001 - any failure becomes the one sentence, naming the host asked
        raise ModelDownloadFailed(what="The likeness model", repo=name, host=host, detail=_reason(error),
                                  setting="LIKENESS_MODEL") from None


def _model(name: str, endpoint: str | None = None):
    with _lock:
        if _loaded.get("name") != name:
            folder = fetch_model(name, endpoint)
            try:
                from transformers import AutoImageProcessor, AutoModel

                processor = AutoImageProcessor.from_pretrained(folder)
                model = AutoModel.from_pretrained(folder).eval().to(_device())
            except (OSError, ValueError) as error:
                raise ModelError(f"The likeness model '{name}' could not be loaded from {folder} ({error}).",
                                 f"Set LIKENESS_MODEL to a vision model such as {DEFAULT_MODEL}, or remove it.") from None
            _loaded.clear()
            _loaded.update(name=name, processor=processor, model=model)
        return _loaded["processor"], _loaded["model"]


def unload() -> None:
    with _lock:
        _loaded.clear()
    with _cache_lock:
        _embedding_cache.clear()


def embed(paths: list[Path], name: str | None = None, endpoint: str | None = None):
    """L2-normalised embeddings (torch tensor [n, d]) of the images, cached by path and modification time
    (the CACHE_LIMIT most recently used)."""
    import torch
    from PIL import Image

    name = model_name(name)
    processor, model = _model(name, endpoint)
    out = []
    for path in paths:
        path = Path(path)
        key = (str(path.resolve()), path.stat().st_mtime, name)
        with _cache_lock:
            vector = _embedding_cache.get(key)
            if vector is not None:
                _embedding_cache.move_to_end(key)
        if vector is None:
            with Image.open(path) as image:
                inputs = processor(images=image.convert("RGB"), return_tensors="pt").to(model.device)
            with torch.no_grad():
                output = model(**inputs)
            pooled = output.pooler_output if getattr(output, "pooler_output", None) is not None else output.last_hidden_state[:, 0]
            vector = torch.nn.functional.normalize(pooled[0].float().cpu(), dim=0)
            with _cache_lock:
                _embedding_cache[key] = vector
                while len(_embedding_cache) > CACHE_LIMIT:
                    _embedding_cache.popitem(last=False)
        out.append(vector)
    return torch.stack(out) if out else torch.zeros(0)


def score(image_paths: list[Path], dataset_images: list[Path], *, model: str | None = None,
          endpoint: str | None = None) -> list[float]:
    """For each image, its mean cosine similarity to the dataset images (`endpoint`: Settings.hf_endpoint)."""
    if not dataset_images:
        raise ModelError("The dataset has no images to compare with.", "Pick the run's dataset, or add images to it.")
    if not image_paths:
        return []
    generated = embed(list(image_paths), model, endpoint)
    reference = embed(list(dataset_images), model, endpoint)
    return [round(float(v), 4) for v in (generated @ reference.T).mean(dim=1)]


@dataclass
class RowScore:
    row: str
    score: float
    cells: int


def rank(grid, dataset_images: list[Path], *, model: str | None = None,
         endpoint: str | None = None) -> tuple[dict[str, float], list[RowScore]]:
    """Scores per cell (by cell key) and rows (checkpoints, the base) ranked best first by mean score."""
    cells = list(grid.cells)
    scores = score([Path(c.path) for c in cells], dataset_images, model=model, endpoint=endpoint)
    per_cell = {c.key: s for c, s in zip(cells, scores)}
    rows: dict[str, list[float]] = {}
    for cell, value in zip(cells, scores):
        rows.setdefault(cell.row, []).append(value)
    ranking = [RowScore(row, round(sum(v) / len(v), 4), len(v)) for row, v in rows.items()]
    return per_cell, sorted(ranking, key=lambda r: -r.score)


def dataset_images_of_run(workspace, run_paths) -> list[Path]:
    """The training images of a run: its dataset's images folder (from the run record or train.json)."""
    record = run_paths.read_record()
    folder = None
    if record.dataset:
        folder = workspace.dataset_images_dir(record.dataset)
    if folder is None or not folder.is_dir():
        data = (storage.read_json(run_paths.train_json, default={}) or {}).get("data")
        folder = Path(data) if data else None
    return list_images(folder) if folder is not None else []
