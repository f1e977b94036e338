"""Turning a person's picture (phone photo, render, screenshot) into a training image mflux reads.

    prepare(source, target, Preprocess(resolution=1024)) -> Prepared

Opens with EXIF orientation applied, refuses decompression bombs and damaged files with one
sentence each, flattens alpha on a chosen colour, optionally crops to an aspect (centre or around
the subject), shrinks so the long side is at most the training resolution (LANCZOS) and saves a
PNG atomically. JPEGs are decoded in draft mode at the smallest scale that still covers the target.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import storage
from core.constants import IMAGE_SUFFIXES
from core.errors import AppError, ImageRejected

# Extensions a person may import (HEIC through pillow-heif); mflux itself trains on core.constants.IMAGE_SUFFIXES.
IMPORTABLE = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".tif", ".tiff", ".gif", ".avif"}
FORMAT_NAMES = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WebP", ".heic": "HEIC", ".heif": "HEIF",
                ".avif": "AVIF", ".gif": "GIF", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
MAX_PIXELS = 100_000_000  # decompression-bomb limit (a 100-megapixel image)
CROPS = ("none", "center", "subject")
ASPECTS = {"1:1": 1.0, "4:5": 4 / 5, "3:4": 3 / 4, "2:3": 2 / 3, "9:16": 9 / 16, "16:9": 16 / 9, "3:2": 3 / 2, "4:3": 4 / 3}


def importable_formats() -> str:
    """The formats import accepts, for a sentence: 'JPEG, PNG, …, BMP or TIFF' (from IMPORTABLE)."""
    names = list(dict.fromkeys(FORMAT_NAMES.get(suffix, suffix.lstrip(".").upper())
                               for suffix in sorted(IMPORTABLE, key=lambda s: list(FORMAT_NAMES).index(s) if s in FORMAT_NAMES else 99)))
    return ", ".join(names[:-1]) + f" or {names[-1]}"


@dataclass
class Preprocess:
    """How originals become training copies; remembered per dataset (dataset.json)."""

    resolution: int = 1024
    crop: str = "none"  # none | center | subject
    aspect: str = "1:1"
    background: str = "#ffffff"  # alpha is flattened on this colour

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Preprocess":
        data = data or {}
        known = {k: data[k] for k in ("resolution", "crop", "aspect", "background") if k in data}
        settings = cls(**known)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not isinstance(self.resolution, int) or not 256 <= self.resolution <= 4096:
            raise AppError(f"The resolution {self.resolution} is outside 256-4096.", "Pick 512, 768 or 1024.")
        if self.crop not in CROPS:
            raise AppError(f"Unknown crop '{self.crop}'.", f"Use one of: {', '.join(CROPS)}.")
        if self.aspect not in ASPECTS:
            raise AppError(f"Unknown aspect '{self.aspect}'.", f"Use one of: {', '.join(ASPECTS)}.")
        parse_colour(self.background)


@dataclass
class Prepared:
    source: str
    target: str
    original_size: tuple[int, int]
    size: tuple[int, int]
    warnings: list[str] = field(default_factory=list)


def parse_colour(text: str) -> tuple[int, int, int]:
    value = (text or "").strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    try:
        if len(value) != 6:
            raise ValueError
        return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    except ValueError:
        raise AppError(f"'{text}' is not a colour.", "Use a hex colour such as #ffffff.") from None


def register_heif() -> bool:
    """Let Pillow open HEIC/HEIF (iPhone photos); False when pillow-heif is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def open_image(path: Path, *, draft_long_side: int | None = None, max_pixels: int = MAX_PIXELS):
    """(RGB-or-alpha Image with EXIF orientation applied, warnings). Raises ImageRejected with a reason."""
    from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageRejected(f"{name} cannot be read ({error.strerror}).", "Check the file's permissions.") from None
    if size == 0:
        raise ImageRejected(f"{name} is empty (0 bytes).", "Export or copy the picture again.")
    if path.suffix.lower() in {".heic", ".heif", ".avif"}:
        register_heif()
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    warnings: list[str] = []
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise ImageRejected(f"{name} is not an image this app can read.", "Save it as PNG or JPEG and import it again.") from None
    except Image.DecompressionBombError:
        raise ImageRejected(f"{name} has more than {max_pixels:,} pixels, the limit.", "Shrink it in an image editor first.") from None
    except OSError as error:
        raise ImageRejected(f"{name} cannot be opened ({error}).", "Save it again as PNG or JPEG.") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(f"{name} is {width}x{height} ({width * height:,} pixels), above the limit of {max_pixels:,} pixels.",
                            "Shrink it in an image editor first.")
    if getattr(image, "n_frames", 1) > 1:
        warnings.append(f"{name} is animated; only its first frame was used.")
    if draft_long_side and image.format == "JPEG":
        scale = draft_long_side / max(width, height)
        if scale < 1:
            image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejected(f"{name} is truncated or damaged ({error}).", "Copy or export the original again.") from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose the picture
        warnings.append(f"{name} has unreadable orientation data; it was used as stored.")
    return _normalise_mode(image, name, warnings), warnings


def _normalise_mode(image, name: str, warnings: list[str]):
    """RGB or RGBA: 16-bit scaled down, CMYK converted, palette transparency kept as alpha."""
    import numpy as np
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image).astype(np.float64)
        peak = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array, "L").convert("RGB")
    if mode == "F":
        array = np.asarray(image)
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return Image.fromarray(array, "L").convert("RGB")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return image.convert("RGBA")
    if mode != "RGB":
        return image.convert("RGB")
    return image


def flatten(image, background: tuple[int, int, int]):
    from PIL import Image

    if image.mode != "RGBA":
        return image.convert("RGB") if image.mode != "RGB" else image
    base = Image.new("RGB", image.size, background)
    base.paste(image, mask=image.getchannel("A"))
    return base


def crop_box(size: tuple[int, int], aspect: float, centre: tuple[float, float] | None = None) -> tuple[int, int, int, int]:
    """The largest box of `aspect` (width/height) inside `size`, centred on `centre` (pixels) or the middle."""
    width, height = size
    if width / height > aspect:
        box_w, box_h = max(1, round(height * aspect)), height
    else:
        box_w, box_h = width, max(1, round(width / aspect))
    cx, cy = centre if centre else (width / 2, height / 2)
    left = int(min(max(cx - box_w / 2, 0), width - box_w))
    top = int(min(max(cy - box_h / 2, 0), height - box_h))
    return left, top, left + box_w, top + box_h


def subject_centre(image) -> tuple[float, float]:
    """Where the subject is: the centroid of pixels that differ from the border's typical colour."""
    import numpy as np

    small = image.convert("RGB").copy()
    small.thumbnail((128, 128))
    array = np.asarray(small).astype(np.int16)
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    background = np.median(border, axis=0)
    mask = np.abs(array - background).sum(axis=2) > 60
    scale_x, scale_y = image.size[0] / small.size[0], image.size[1] / small.size[1]
    if mask.sum() < 10:
        return image.size[0] / 2, image.size[1] / 2
    ys, xs = np.nonzero(mask)
    return (xs.mean() + 0.5) * scale_x, (ys.mean() + 0.5) * scale_y


def transform(image, settings: Preprocess):
    """Flatten, crop and shrink an opened image per `settings` (returns a new RGB image)."""
    from PIL import Image

    image = flatten(image, parse_colour(settings.background))
    if settings.crop != "none":
        centre = subject_centre(image) if settings.crop == "subject" else None
        image = image.crop(crop_box(image.size, ASPECTS[settings.aspect], centre))
    long_side = max(image.size)
    if long_side > settings.resolution:
        scale = settings.resolution / long_side
        new_size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


def _draft_long_side(size: tuple[int, int], settings: Preprocess) -> int:
    """How large the decoded image must be (long side) so the final image is not upscaled from a draft."""
    if settings.crop == "none":
        return settings.resolution
    aspect = ASPECTS[settings.aspect]
    needed = settings.resolution
    for width, height in (size, size[::-1]):  # EXIF may turn the picture by 90 degrees
        box_w, box_h = (height * aspect, height) if width / height > aspect else (width, width / aspect)
        needed = max(needed, math.ceil(settings.resolution * max(width, height) / max(box_w, box_h)))
    return needed


def prepare(source: Path, target: Path, settings: Preprocess) -> Prepared:
    """Make the training copy of `source` at `target` (PNG, written atomically)."""
    source, target = Path(source), Path(target)
    probe_size = _probe_size(source)
    draft = _draft_long_side(probe_size, settings) if probe_size else None
    image, warnings = open_image(source, draft_long_side=draft)
    original = probe_size or image.size
    result = transform(image, settings)
    buffer = io.BytesIO()
    result.save(buffer, format="PNG", compress_level=1)  # lossless either way; level 1 is 3-4x faster than 6
    storage.write_bytes(target, buffer.getvalue())
    return Prepared(str(source), str(target), tuple(original), result.size, warnings)


def prepare_job(job: tuple[str, str, dict]) -> dict:
    """Process-pool entry point: (source, target, settings dict) -> {ok, reason, warnings, size}."""
    source, target, settings = job
    try:
        done = prepare(Path(source), Path(target), Preprocess.from_dict(settings))
    except AppError as error:
        return {"ok": False, "reason": str(error), "warnings": []}
    except Exception as error:  # one odd file never stops an import
        return {"ok": False, "reason": f"{Path(source).name} could not be converted ({error}).", "warnings": []}
    return {"ok": True, "reason": "", "warnings": done.warnings, "size": list(done.size), "original_size": list(done.original_size)}


def _probe_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        if path.suffix.lower() in {".heic", ".heif", ".avif"}:
            register_heif()
        with Image.open(path) as image:
            return image.size
    except Exception:
        return None


def list_images(folder: Path, *, recursive: bool = False) -> list[Path]:
    """The pictures in `folder` (the formats mflux trains on, hidden files left out), in path order; with
    `recursive`, in its subfolders too. [] when there is no such folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())
