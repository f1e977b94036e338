"""Images made by the tests themselves (the repository holds no image files)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def character_image(size: tuple[int, int] = (64, 64), hue: int = 0, seed: int = 0) -> Image.Image:
    """A simple, distinct 'character' picture: a coloured figure on a plain background."""
    width, height = size
    background = ((40 + 50 * seed) % 256, (90 + 30 * hue) % 256, 160)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    colour = ((200 + 20 * hue) % 256, (60 + 70 * seed) % 256, (100 + 40 * hue) % 256)
    draw.ellipse([width * 0.35, height * 0.1, width * 0.65, height * 0.4], fill=colour)  # head
    draw.rectangle([width * 0.3, height * 0.42, width * 0.7, height * 0.9], fill=colour)  # body
    draw.line([0, height - 1 - seed % height, width, seed % height], fill=(255, 255, 255), width=2)
    return image


def write_mflux_dataset(folder: Path, count: int = 4, size: tuple[int, int] = (64, 64), trigger: str = "mira") -> Path:
    """`count` images with same-stem captions, in mflux's data layout."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        character_image(size, hue=index, seed=index).save(folder / f"img_{index:02d}.png")
        (folder / f"img_{index:02d}.txt").write_text(f"{trigger}, a character standing, pose {index}", encoding="utf-8")
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
