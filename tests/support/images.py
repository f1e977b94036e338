"""Images made by the tests themselves (the repository holds no image files)."""

from __future__ import annotations

from pathlib import Path

from core.sample_images import character_image, write_character_set

__all__ = ["character_image", "write_mflux_dataset"]


def write_mflux_dataset(folder: Path, count: int = 4, size: tuple[int, int] = (64, 64), trigger: str = "mira") -> Path:
    """`count` images with same-stem captions, in mflux's data layout."""
    write_character_set(folder, count, size, captions=f"{trigger}, a character standing")
    return folder
