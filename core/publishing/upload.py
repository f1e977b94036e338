"""What leaves the machine when a LoRA version is published: an allowlist, not a blocklist.

A Publication is the exact set of files of one Hub commit, built in memory:

    pytorch_lora_weights.safetensors   the exported adapter (diffusers/PEFT naming)
    README.md                          the model card
    samples/NN.png                     sample images, re-encoded: pixels only, no metadata
    training_config.json               the training settings with local paths and secrets removed

`check()` refuses any other path and any byte that holds a secret, so nothing else can be uploaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import PublicationError
from core.settings import _registered_secrets, redact

ADAPTER_NAME = "pytorch_lora_weights.safetensors"
CARD_NAME = "README.md"
CONFIG_NAME = "training_config.json"
MAX_SAMPLES = 12
ALLOWLIST = (
    re.compile(re.escape(ADAPTER_NAME)),
    re.compile(re.escape(CARD_NAME)),
    re.compile(re.escape(CONFIG_NAME)),
    re.compile(r"samples/\d{2}\.png"),
)
# Keys of a training config that name places or credentials on this machine; dropped whatever their value.
_PRIVATE_KEY = re.compile(r"(path|dir|folder|file|root|cache|token|secret|password|api_?key|env)", re.I)
_LOCAL_PATH = re.compile(r"^(~|/|[A-Za-z]:\\|\.{1,2}/)|/Users/|/home/|\\Users\\")
REMOVED = object()  # marks a value naming a place on this machine: dropped with its key


@dataclass(frozen=True)
class PublicationFile:
    path: str  # path inside the repo
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Publication:
    files: list[PublicationFile]

    def paths(self) -> list[str]:
        return [f.path for f in self.files]

    def get(self, path: str) -> PublicationFile | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def adapter(self) -> PublicationFile:
        found = self.get(ADAPTER_NAME)
        if found is None:
            raise PublicationError("The publication has no adapter file.", "Choose a checkpoint first.")
        return found

    def check(self) -> "Publication":
        """Refuse paths outside the allowlist and any secret in any file; returns self."""
        seen = set()
        for item in self.files:
            if not is_allowed(item.path):
                raise PublicationError(f"'{item.path}' is not a file that publishing may upload.",
                                       "Only the adapter, the model card, samples/NN.png and training_config.json are sent.")
            if item.path in seen:
                raise PublicationError(f"'{item.path}' appears twice in the publication.", "Publish again.")
            seen.add(item.path)
            leaked = secret_in(item.data)
            if leaked:
                raise PublicationError(f"{item.path} contains your {leaked}; it was not uploaded.",
                                       "Remove it from the model card or config and publish again.")
        adapter_metadata(self.adapter.data)
        return self

    def summary(self) -> list[dict]:
        return [{"path": f.path, "bytes": f.size, "sha256": f.sha256} for f in self.files]


def adapter_metadata(data: bytes) -> dict:
    """The adapter's safetensors metadata; refuses a file that is not safetensors or whose metadata names a local place."""
    import struct

    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + length]) if 0 < length <= len(data) - 8 else None
    except (struct.error, ValueError):
        header = None
    if not isinstance(header, dict):
        raise PublicationError("The adapter file is not a safetensors file.",
                               "Export the chosen checkpoint again in the Checkpoints tab.")
    metadata = header.get("__metadata__") or {}
    for key, value in metadata.items():
        if _LOCAL_PATH.search(str(value)):
            raise PublicationError(f"The adapter's metadata '{key}' names a folder on this computer; it was not uploaded.",
                                   "Export the checkpoint again with the Checkpoints tab, which writes clean metadata.")
    return metadata


def is_allowed(path: str) -> bool:
    return any(pattern.fullmatch(path) for pattern in ALLOWLIST)


def secret_in(data: bytes) -> str | None:
    """The name of a known secret (HF_TOKEN, RUNWARE_API_KEY, ...) found in `data`, or None."""
    for value, name in _registered_secrets.items():
        if value.encode() in data:
            return name
    if data[:4] != b"\x89PNG":
        text = data.decode("utf-8", "ignore")
        if redact(text) != text:
            return "token-shaped secret"
    return None


def sample_png(path: Path) -> bytes:
    """A sample image as a fresh PNG: pixels only, no text chunks, EXIF or generation settings."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            pixels = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
    except (OSError, ValueError) as error:
        raise PublicationError(f"The sample {Path(path).name} cannot be read as an image ({error}).",
                               "Pick another sample or regenerate it.") from None
    clean = Image.new(pixels.mode, pixels.size)
    clean.putdata(list(pixels.getdata()))
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()


def public_config(config: dict) -> dict:
    """The training settings safe to publish: keys naming local places or credentials dropped, paths removed."""

    def clean(value):
        if isinstance(value, dict):
            kept = {k: clean(v) for k, v in value.items() if not _PRIVATE_KEY.search(str(k))}
            return {k: v for k, v in kept.items() if v is not REMOVED}
        if isinstance(value, list):
            return [v for v in (clean(v) for v in value) if v is not REMOVED]
        if isinstance(value, str):
            return REMOVED if _LOCAL_PATH.search(value) else redact(value)
        return value

    cleaned = clean(config)
    return cleaned if isinstance(cleaned, dict) else {}


def unique_samples(sample_paths: list[Path]) -> list[Path]:
    """The samples without repeats, in order: two files showing the same pixels are one sample (the first kept).
    A file that cannot be read is kept, so build() refuses it with its own sentence."""
    from PIL import Image

    seen, kept = set(), []
    for sample in sample_paths:
        try:
            with Image.open(sample) as image:
                pixels = image.convert("RGBA")
            key = hashlib.sha256(repr(pixels.size).encode() + pixels.tobytes()).hexdigest()
        except (OSError, ValueError):
            key = f"unreadable:{sample}"
        if key not in seen:
            seen.add(key)
            kept.append(Path(sample))
    return kept


def unique_files(paths: list[Path], limit: int | None = None) -> list[Path]:
    """`paths` without files of the same bytes as an earlier one (the first kept), at most `limit`."""
    seen, kept = set(), []
    for path in paths:
        try:
            key = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            continue
        if key not in seen:
            seen.add(key)
            kept.append(Path(path))
            if limit is not None and len(kept) >= limit:
                break
    return kept


def build(adapter_path: Path, card_text: str, sample_paths: list[Path] = (), training_config: dict | None = None,
          ) -> Publication:
    """The files of one version, in memory, checked against the allowlist and for secrets."""
    adapter_path = Path(adapter_path)
    try:
        adapter = adapter_path.read_bytes()
    except OSError as error:
        raise PublicationError(f"The adapter {adapter_path.name} cannot be read ({error.strerror}).",
                               "Export the chosen checkpoint again in the Checkpoints tab.") from None
    files = [PublicationFile(ADAPTER_NAME, adapter), PublicationFile(CARD_NAME, card_text.encode("utf-8"))]
    for index, sample in enumerate(list(sample_paths)[:MAX_SAMPLES], start=1):
        files.append(PublicationFile(sample_name(index), sample_png(Path(sample))))
    if training_config:
        text = json.dumps(public_config(training_config), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        files.append(PublicationFile(CONFIG_NAME, text.encode("utf-8")))
    return Publication(files).check()


def sample_name(index: int) -> str:
    return f"samples/{index:02d}.png"
