"""The compiled training set: what a run learns from, built in the run folder when the run starts.

mflux trains on one folder of pictures with same-stem captions and encodes each file once, downscaled to
`max_resolution` (the area of a square of that side; each side then floored to a multiple of 16; never
upscaled). It has no repeats, no several resolutions and no caption dropout. So a run compiles the dataset:

- a picture with repeat count N (kept in dataset.json, default 1) becomes N samples;
- each resolution is one more sample of every picture: the largest resolution is `max_resolution` and links the
  picture itself (mflux downscales it), a smaller one is a copy of the picture resized ahead, by the same rule
  mflux uses, to that resolution's size, so mflux leaves it as it is (its area is already below the maximum);
- the trigger-only share adds copies of samples (picked by the run's seed) whose caption is the trigger word alone.

Files are hard links of the person's pictures where the file system allows (copies otherwise) and each caption
is written fresh, so training never changes the person's dataset and an edited dataset never changes a compiled
set. `compiled.json` in the run folder lists every sample (its file, source picture, resolution, size and the
caption it is trained with) and the dataset's fingerprint. Resume trains on the same folder: it is never rebuilt.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import storage
from core.constants import IMAGE_SUFFIXES
from core.dataset import datasets
from core.errors import ConfigError
from core.training import config as train_config
from core.workspace import Workspace

MANIFEST_VERSION = 1
MAX_TRIGGER_ONLY = 0.5
# The largest training resolution per model (a side, px): FLUX.2 klein trains up to 2048 px; the tiny self-test model
# is kept small so it stays a check of seconds.
MAX_RESOLUTION = {"flux2-klein-base-4b": 2048, "selftest": 512}
RESOLUTION_CHOICES = (512, 768, 1024)


@dataclass
class Sample:
    file: str  # the file name in the compiled folder
    source: str  # the picture's file name in the dataset
    resolution: int
    width: int  # the size mflux encodes it at
    height: int
    caption: str  # the caption it is trained with (as mflux reads it: stripped)
    trigger_only: bool = False


@dataclass
class Epoch:
    """What one epoch holds: pictures x repeats x resolutions + trigger-only copies = samples."""

    pictures: int
    repeated: int  # pictures counted with their repeats
    resolutions: list[int]
    trigger_copies: int
    samples: int

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, epochs: int | None = None, batch_size: int = 1) -> str:
        repeats = f" x repeats ({self.repeated})" if self.repeated != self.pictures else ""
        sizes = len(self.resolutions)
        text = f"{self.pictures} picture(s){repeats}"
        if sizes > 1:
            text += f" x {sizes} resolutions ({', '.join(map(str, self.resolutions))} px)"
        else:
            text += f" at {self.resolutions[0]} px" if self.resolutions else ""
        if self.trigger_copies:
            text += f" + {self.trigger_copies} trigger-only cop{'y' if self.trigger_copies == 1 else 'ies'}"
        text += f" = {self.samples} sample(s) an epoch"
        if epochs:
            steps = epochs * math.ceil(self.samples / max(1, batch_size))
            text += f"; {steps:,} steps at {epochs} epoch(s)"
        return text


@dataclass
class Manifest:
    dataset: str
    trigger: str
    seed: int
    resolutions: list[int]
    trigger_only: float
    repeats: dict[str, int]
    fingerprint: dict
    epoch: Epoch
    samples: list[Sample] = field(default_factory=list)
    files: dict = field(default_factory=dict)  # linked / copied / resized counts
    version: int = MANIFEST_VERSION

    def to_dict(self) -> dict:
        return asdict(self)


# ---- the levers -----------------------------------------------------------------------------------------

def resolutions_of(plan: train_config.TrainPlan) -> list[int]:
    """The plan's training resolutions, smallest first: its `resolutions`, or just its `max_resolution`."""
    chosen = plan.resolutions or [plan.max_resolution]
    return sorted({int(r) for r in chosen})


def check_levers(plan: train_config.TrainPlan) -> list[str]:
    """One sentence per bad lever: a resolution that is not a whole multiple of 16 or above the model's limit, a
    trigger-only share outside 0-50 % or without a trigger word."""
    errors = []
    limit = MAX_RESOLUTION.get(plan.model, max(MAX_RESOLUTION.values()))
    for value in plan.resolutions or []:
        if not isinstance(value, int) or isinstance(value, bool) or value < 16 or value % 16:
            errors.append(f"Resolution {value!r} is not a multiple of 16 px; use 512, 768 or 1024.")
        elif value > limit:
            errors.append(f"Resolution {value} px is above what {train_config.model_label(plan.model)} trains at "
                          f"({limit} px); pick {limit} or less.")
    share = plan.trigger_only
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share <= MAX_TRIGGER_ONLY:
        errors.append(f"The trigger-only share must be from 0 to 50 %, not {share!r}.")
    elif share > 0 and not plan.trigger.strip():
        errors.append("A trigger-only share needs a trigger word: type one in 'Trigger word' or set the share to 0.")
    return errors


def trigger_copies(base_samples: int, share: float) -> int:
    """Trigger-only copies for `share` of the base samples (at least one when the share is above 0)."""
    if share <= 0 or base_samples <= 0:
        return 0
    return max(1, round(base_samples * share))


def epoch_of(stems: list[str], repeats: dict[str, int], resolutions: list[int], share: float) -> Epoch:
    repeated = sum(repeats.get(stem, 1) for stem in stems)
    base = repeated * len(resolutions)
    copies = trigger_copies(base, share)
    return Epoch(len(stems), repeated, list(resolutions), copies, base + copies)


def plan_epoch(workspace: Workspace, plan: train_config.TrainPlan) -> Epoch:
    """What one epoch of `plan` holds (counted from the dataset, nothing is read but names and dataset.json)."""
    stems = [p.stem for p in train_config.dataset_images(workspace.dataset_images_dir(plan.dataset))]
    return epoch_of(stems, _repeats(workspace, plan.dataset), resolutions_of(plan), _share(plan))


def dominating(workspace: Workspace, plan: train_config.TrainPlan) -> list[str]:
    """A warning for each picture that makes up more than a quarter of an epoch (with its repeats)."""
    stems = [p.stem for p in train_config.dataset_images(workspace.dataset_images_dir(plan.dataset))]
    repeats = _repeats(workspace, plan.dataset)
    total = sum(repeats.get(stem, 1) for stem in stems)
    if len(stems) < 3 or not total:
        return []
    out = []
    for stem in stems:
        share = repeats.get(stem, 1) / total
        if share > 0.25 and repeats.get(stem, 1) > 1:
            out.append(f"{stem} makes up {share:.0%} of each epoch (repeat {repeats[stem]} of {total} picture samples): "
                       "the LoRA will mostly learn that one picture. Lower its repeat count.")
    return out


def _repeats(workspace: Workspace, name: str) -> dict[str, int]:
    try:
        return datasets.open_dataset(workspace, name).repeats
    except Exception:  # no such dataset: the readiness check says so
        return {}


def _share(plan: train_config.TrainPlan) -> float:
    share = plan.trigger_only
    return float(share) if isinstance(share, (int, float)) and not isinstance(share, bool) else 0.0


# ---- sizes, as mflux computes them ----------------------------------------------------------------------

def fit(width: int, height: int, resolution: int) -> tuple[int, int]:
    """The size mflux encodes a width x height picture at with max_resolution `resolution`
    (mflux.models.common.training.utils.TrainingUtil.resolve_dimensions)."""
    max_area = resolution * resolution
    if width * height > max_area:
        scale = math.sqrt(max_area / (width * height))
        width, height = int(width * scale), int(height * scale)
    return 16 * (int(width) // 16), 16 * (int(height) // 16)


def oriented_size(path: Path) -> tuple[int, int]:
    """The picture's size as shown (EXIF rotations of 90 degrees swap the sides), as mflux reads it."""
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        orientation = image.getexif().get(0x0112)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _resize(source: Path, target: Path, size: tuple[int, int]) -> None:
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGB")
        image.resize(size, Image.Resampling.LANCZOS).save(target, format="PNG")


def _link(source: Path, target: Path) -> bool:
    """A hard link of `source` at `target` (True), or a copy where the file system has no hard links (False)."""
    try:
        os.link(source, target)
        return True
    except OSError:
        shutil.copy2(source, target)
        return False


# ---- fingerprint and compile ----------------------------------------------------------------------------

def fingerprint(images_dir: Path, repeats: dict[str, int] | None = None) -> dict:
    """The image names, sizes and caption hashes of a dataset (and its repeat counts): what a run started from."""
    items = []
    digest = hashlib.sha256()
    for image in train_config.dataset_images(images_dir):
        caption = image.with_suffix(".txt")
        text = caption.read_bytes() if caption.is_file() else b""
        entry = {"image": image.name, "bytes": image.stat().st_size, "caption_sha1": hashlib.sha1(text).hexdigest()}
        items.append(entry)
        digest.update(repr(sorted(entry.items())).encode())
    if repeats:
        digest.update(repr(sorted(repeats.items())).encode())
    return {"count": len(items), "sha256": digest.hexdigest(), "items": items, "repeats": dict(sorted((repeats or {}).items()))}


def compile_set(workspace: Workspace, plan: train_config.TrainPlan, target: Path, manifest_path: Path) -> Manifest:
    """Build the compiled training set of `plan` in `target` (a new folder) and write its manifest."""
    errors = check_levers(plan)
    if errors:
        raise ConfigError(errors[0], "Fix it in the form (or the command's flags) and start again; nothing was started.")
    images_dir = workspace.dataset_images_dir(plan.dataset)
    pictures = train_config.dataset_images(images_dir)
    repeats = {k: v for k, v in _repeats(workspace, plan.dataset).items() if k in {p.stem for p in pictures}}
    resolutions = resolutions_of(plan)
    largest = resolutions[-1]
    share = _share(plan)
    trigger = plan.trigger.strip()
    target = Path(target)
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    counts = {"linked": 0, "copied": 0, "resized": 0}

    def put(source: Path, name: str) -> None:
        counts["linked" if _link(source, staging / name) else "copied"] += 1

    base: list[tuple[Sample, Path]] = []  # each sample with the file its image comes from
    for picture in pictures:
        caption_file = picture.with_suffix(".txt")
        caption = caption_file.read_text(encoding="utf-8", errors="replace").strip() if caption_file.is_file() else ""
        width, height = oriented_size(picture)
        native = fit(width, height, largest)
        for resolution in resolutions:
            size = fit(width, height, resolution)
            for _ in range(repeats.get(picture.stem, 1)):
                sample = Sample("", picture.name, resolution, size[0], size[1], caption)
                base.append((sample, picture if size == native else picture.with_name(f"{picture.stem}@{resolution}")))
    copies = trigger_copies(len(base), share)
    chosen = sorted(random.Random(plan.seed).sample(range(len(base)), copies)) if copies else []
    everything = base + [(Sample("", s.source, s.resolution, s.width, s.height, trigger, True), origin)
                         for s, origin in (base[i] for i in chosen)]

    resized: dict[Path, Path] = {}  # a resized picture's stand-in name -> its first file in the compiled folder
    samples = []
    for index, (sample, origin) in enumerate(everything, start=1):
        stem = Path(sample.source).stem
        resizing = origin.name != sample.source
        suffix = ".png" if resizing else origin.suffix.lower()
        sample.file = f"{index:06d}_{stem}_{sample.resolution}px{'_trigger' if sample.trigger_only else ''}{suffix}"
        if resizing and origin not in resized:
            _resize(images_dir / sample.source, staging / sample.file, (sample.width, sample.height))
            counts["resized"] += 1
            resized[origin] = staging / sample.file
        elif resizing:
            put(resized[origin], sample.file)
        else:
            put(origin, sample.file)
        (staging / sample.file).with_suffix(".txt").write_text(sample.caption, encoding="utf-8")
        samples.append(sample)
    for extra in sorted(images_dir.iterdir()) if images_dir.is_dir() else []:  # preview prompts (and edit images)
        if extra.name.startswith("preview") and extra.is_file():
            if extra.suffix.lower() == ".txt":
                shutil.copy2(extra, staging / extra.name)
            elif extra.suffix.lower() in IMAGE_SUFFIXES:
                put(extra, extra.name)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    manifest = Manifest(
        dataset=plan.dataset, trigger=trigger, seed=plan.seed, resolutions=resolutions, trigger_only=share,
        repeats=repeats, fingerprint=fingerprint(images_dir, repeats),
        epoch=epoch_of([p.stem for p in pictures], repeats, resolutions, share), samples=samples, files=counts,
    )
    storage.write_json(manifest_path, manifest.to_dict())
    return manifest


def read_manifest(path: Path) -> dict | None:
    data = storage.read_json(path, default=None)
    return data if isinstance(data, dict) else None
