"""Pre-flight check of a dataset before training: errors block training, warnings do not.

    result = check(workspace, "mira", trigger="mira", resolution=1024, epochs=10)
    result.ready, result.errors, result.warnings, result.rows, result.iterations, result.summary()

Checks: unreadable or truncated images, files mflux would skip, images smaller than the training
resolution, near-duplicates (difference hash plus mean colour, reported once per group of look-alikes), blurry images (variance of the Laplacian), extreme
aspect ratios, missing, empty or non-UTF-8 captions, captions without the trigger, caption length,
and the number of training iterations (`epochs x ceil(images / batch_size)`, as mflux counts).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.captions import store as caption_store
from core.dataset import datasets
from core.workspace import Workspace

BLUR_THRESHOLD = 30.0  # Laplacian variance on a 512-px grey copy; sharp photos are in the hundreds
DUPLICATE_DISTANCE = 3  # of 64 hash bits (a resized or re-saved copy is 0-2)
DUPLICATE_COLOUR = 24  # largest difference of a mean colour channel (0-255) between look-alikes; the dHash sees no colour
EXTREME_ASPECT = 2.5
MIN_IMAGES = 5
CAPTION_WORDS_MAX = 250
CAPTION_WORDS_MIN = 3


@dataclass
class Finding:
    level: str  # error | warning
    code: str
    message: str
    stem: str | None = None
    stems: list[str] = field(default_factory=list)  # every picture a finding is about (a group of look-alikes)


@dataclass
class Row:
    stem: str
    image: str
    width: int = 0
    height: int = 0
    words: int = 0
    caption: str = ""
    sharpness: float = 0.0
    problems: list[str] = field(default_factory=list)
    level: str = "ok"  # ok | warning | error


@dataclass
class Preflight:
    dataset: str
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    iterations: int | None = None
    image_count: int = 0

    @property
    def ready(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        head = "Ready to train" if self.ready else "Not ready to train"
        parts = [f"{head}: {self.image_count} image(s), {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        if self.iterations is not None:
            parts.append(f"{self.iterations} training iteration(s) with these settings")
        return "; ".join(parts) + "."

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "ready": self.ready, "summary": self.summary(), "iterations": self.iterations,
                "image_count": self.image_count, "errors": [asdict(f) for f in self.errors],
                "warnings": [asdict(f) for f in self.warnings], "rows": [asdict(r) for r in self.rows]}

    def add(self, level: str, code: str, message: str, stem: str | None = None, row: Row | None = None) -> None:
        finding = Finding(level, code, message, stem)
        (self.errors if level == "error" else self.warnings).append(finding)
        if row is not None:
            row.problems.append(message)
            if level == "error" or row.level == "ok":
                row.level = level


def difference_hash(grey) -> int:
    """64-bit dHash of a PIL 'L' image."""
    import numpy as np
    from PIL import Image

    small = np.asarray(grey.resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def mean_colour(image) -> tuple[float, float, float]:
    """The average colour (RGB, 0-255) of a picture: what tells a red flat picture from a blue one."""
    import numpy as np

    small = image.convert("RGB").copy()
    small.thumbnail((64, 64))
    return tuple(float(v) for v in np.asarray(small, dtype=np.float32).reshape(-1, 3).mean(axis=0))  # type: ignore[return-value]


@dataclass(frozen=True)
class Fingerprint:
    """What two pictures must share to look alike: the grey structure (dHash) and the average colour."""

    dhash: int
    colour: tuple[float, float, float]

    def distance(self, other: "Fingerprint") -> int | None:
        """Hash distance when the two look alike (same structure and colour), else None."""
        if max(abs(a - b) for a, b in zip(self.colour, other.colour)) > DUPLICATE_COLOUR:
            return None
        bits = bin(self.dhash ^ other.dhash).count("1")
        return bits if bits <= DUPLICATE_DISTANCE else None


def sharpness(grey) -> float:
    """Variance of the Laplacian of a grey copy at most 512 px on the long side (low = blurry)."""
    import numpy as np

    copy = grey.copy()
    copy.thumbnail((512, 512))
    a = np.asarray(copy, dtype=np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(lap.var())


def _inspect(path: Path):
    """(width, height, Fingerprint, sharpness) or raises the reason it cannot be read."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        grey = image.convert("L")
        return image.size[0], image.size[1], Fingerprint(difference_hash(grey), mean_colour(image)), sharpness(grey)


def check(workspace: Workspace, name: str, *, trigger: str | None = None, resolution: int | None = None,
          epochs: int | None = None, batch_size: int = 1) -> Preflight:
    dataset = datasets.open_dataset(workspace, name)
    trigger = (trigger if trigger is not None else dataset.trigger).strip()
    resolution = resolution or dataset.preprocess.resolution
    result = Preflight(dataset.name)
    items = dataset.items()
    result.image_count = len(items)
    hashes: list[tuple[str, Fingerprint]] = []
    for item in items:
        row = Row(item.stem, str(item.image))
        result.rows.append(row)
        try:
            row.width, row.height, fingerprint, row.sharpness = _inspect(item.image)
        except Exception as error:
            result.add("error", "unreadable", f"{item.image.name} cannot be read ({error}); remove it or import it again.", item.stem, row)
        else:
            hashes.append((item.stem, fingerprint))
            if max(row.width, row.height) < resolution:
                result.add("warning", "small", f"{item.image.name} is {row.width}x{row.height}, smaller than the training resolution {resolution}; it will be trained small.", item.stem, row)
            if row.sharpness < BLUR_THRESHOLD:
                result.add("warning", "blurry", f"{item.image.name} looks blurry (sharpness {row.sharpness:.0f}, below {BLUR_THRESHOLD:.0f}); consider removing it.", item.stem, row)
            ratio = max(row.width, row.height) / max(1, min(row.width, row.height))
            if ratio > EXTREME_ASPECT:
                result.add("warning", "aspect", f"{item.image.name} has an extreme aspect ratio ({ratio:.1f}:1); crop it closer to the character.", item.stem, row)
        _check_caption(dataset, item, trigger, result, row)
    _check_duplicates(hashes, result)
    for path in dataset.other_files():
        if path.suffix.lower() == ".txt":
            result.add("warning", "orphan_caption", f"{path.name} has no image with the same name; mflux ignores it.")
        else:
            result.add("warning", "skipped_format", f"{path.name} is in a format mflux skips ({path.suffix or 'no extension'}); it will not be trained on. Import it here to convert it.")
    if not items:
        result.add("error", "empty", "The dataset has no images; import some first.")
    elif len(items) < MIN_IMAGES:
        result.add("warning", "few", f"Only {len(items)} image(s); a character LoRA usually needs 10-30.")
    if epochs:
        result.iterations = int(epochs) * math.ceil(len(items) / max(1, int(batch_size))) if items else 0
    return result


def _check_caption(dataset, item, trigger: str, result: Preflight, row: Row) -> None:
    if not item.caption.exists():
        result.add("error", "no_caption", f"{item.image.name} has no caption ({item.stem}.txt); write one or auto-caption.", item.stem, row)
        return
    try:
        text = caption_store.read(dataset, item.stem)
    except caption_store.CaptionEncodingError as error:
        result.add("error", "caption_encoding", str(error), item.stem, row)
        return
    row.caption = text
    row.words = len(text.split())
    if not text.strip():
        result.add("error", "empty_caption", f"The caption of {item.image.name} is empty; write one or auto-caption.", item.stem, row)
        return
    if trigger and not caption_store.has_trigger(text, trigger):
        result.add("warning", "no_trigger", f"The caption of {item.image.name} does not contain the trigger '{trigger}'; add it in the Caption Editor.", item.stem, row)
    if row.words > CAPTION_WORDS_MAX:
        result.add("warning", "long_caption", f"The caption of {item.image.name} has {row.words} words; above {CAPTION_WORDS_MAX} the text encoder cuts it.", item.stem, row)
    elif row.words < CAPTION_WORDS_MIN and not (trigger and text.strip() == trigger):
        result.add("warning", "short_caption", f"The caption of {item.image.name} has only {row.words} word(s); describe pose, clothes and setting.", item.stem, row)


def duplicate_groups(hashes: list[tuple[str, Fingerprint]]) -> list[list[str]]:
    """Groups (2 or more, in name order) of pictures that look alike, each picture in at most one group:
    a look-alike of a look-alike joins the same group."""
    parent = {stem: stem for stem, _ in hashes}

    def root(stem: str) -> str:
        while parent[stem] != stem:
            parent[stem] = parent[parent[stem]]
            stem = parent[stem]
        return stem

    for i, (stem_a, print_a) in enumerate(hashes):
        for stem_b, print_b in hashes[i + 1 :]:
            if print_a.distance(print_b) is not None:
                parent[root(stem_b)] = root(stem_a)
    groups: dict[str, list[str]] = {}
    for stem, _ in hashes:
        groups.setdefault(root(stem), []).append(stem)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def _names(stems: list[str], shown: int = 6) -> str:
    head = stems[:shown]
    text = ", ".join(head[:-1]) + f" and {head[-1]}" if len(head) > 1 else head[0]
    return text if len(stems) <= shown else f"{', '.join(head)} and {len(stems) - shown} more"


def _check_duplicates(hashes: list[tuple[str, Fingerprint]], result: Preflight) -> None:
    """One warning per group of look-alikes (not one per pair); each picture of a group says which group."""
    rows = {row.stem: row for row in result.rows}
    for group in duplicate_groups(hashes):
        result.warnings.append(Finding("warning", "duplicate", f"{len(group)} pictures look alike ({_names(group)}); "
                                       "keep only one (select the others in Images and remove them).", None, group))
        for stem in group:
            row = rows[stem]
            mates = [s for s in group if s != stem]
            row.problems.append(f"looks like {_names(mates, 3)} ({len(group)} look-alikes)")
            if row.level == "ok":
                row.level = "warning"
