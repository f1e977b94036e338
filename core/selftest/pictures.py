"""Pictures the app makes itself, for the offline self-test and the tests (the repository holds no images)."""

from __future__ import annotations

from pathlib import Path


def character_image(size: tuple[int, int] = (64, 64), hue: int = 0, seed: int = 0):
    """A simple, distinct 'character' picture: a coloured figure on a plain background."""
    from PIL import Image, ImageDraw

    width, height = size
    background = ((40 + 50 * seed) % 256, (90 + 30 * hue) % 256, 160)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    colour = ((200 + 20 * hue) % 256, (60 + 70 * seed) % 256, (100 + 40 * hue) % 256)
    draw.ellipse([width * 0.35, height * 0.1, width * 0.65, height * 0.4], fill=colour)  # head
    draw.rectangle([width * 0.3, height * 0.42, width * 0.7, height * 0.9], fill=colour)  # body
    draw.line([0, height - 1 - seed % height, width, seed % height], fill=(255, 255, 255), width=2)
    return image


def write_character_set(folder: Path, count: int = 4, size: tuple[int, int] = (64, 64), captions: str | None = None) -> list[Path]:
    """`count` distinct character pictures as PNG (and, when `captions` is given, a same-stem .txt
    with that text and the index), in mflux's data layout."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(count):
        path = folder / f"img_{index:02d}.png"
        character_image(size, hue=index, seed=index).save(path)
        if captions is not None:
            path.with_suffix(".txt").write_text(f"{captions}, pose {index}", encoding="utf-8")
        written.append(path)
    return written
