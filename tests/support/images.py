"""Images made by the tests themselves (the repository holds no image files)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from core.selftest.pictures import character_image, write_character_set

__all__ = ["character_image", "photo_image", "write_mflux_dataset"]


def write_mflux_dataset(folder: Path, count: int = 4, size: tuple[int, int] = (64, 64), trigger: str = "mira") -> Path:
    """`count` images with same-stem captions, in mflux's data layout."""
    write_character_set(folder, count, size, captions=f"{trigger}, a character standing")
    return folder


def photo_image(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """A photo-like picture: a gradient, a few random shapes and fine grain; distinct per seed."""
    import random

    import numpy as np

    rng = random.Random(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * (rng.random() + 0.2) / width * 255), (y * rng.random() / height * 255),
                     np.full((height, width), rng.randrange(256), dtype=float)], axis=2)
    image = Image.fromarray(base.clip(0, 255).astype("uint8"), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(width // 8, width // 2), y0 + rng.randrange(height // 8, height // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    grain = np.random.default_rng(seed).integers(-12, 13, (height, width, 3))
    return Image.fromarray((np.asarray(image, dtype=int) + grain).clip(0, 255).astype("uint8"), "RGB")
