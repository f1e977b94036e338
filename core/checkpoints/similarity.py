"""How alike two images are, pixel-wise: SSIM (structural similarity) in numpy, on grey levels.

Used for local-vs-Runware pairs. The two samplers differ, so a low SSIM between a local and a Runware
image of the same seed is expected; it says how far the composition moved, not which one is right.
"""

from __future__ import annotations

from pathlib import Path

SIDE = 256  # both images are compared at this longest side (and the same size)
WINDOW = 7
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def _grey(path: Path, size: tuple[int, int]):
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        grey = image.convert("L").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(grey, dtype=np.float64)


def _box_mean(values, window: int):
    """Mean over every window x window box (valid region), by summed-area tables."""
    import numpy as np

    table = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    total = table[window:, window:] - table[:-window, window:] - table[window:, :-window] + table[:-window, :-window]
    return total / (window * window)


def ssim(path_a: Path, path_b: Path) -> float:
    """Mean SSIM of two images (1.0 = identical, around 0 = unrelated), both resized to one size."""
    from PIL import Image

    with Image.open(path_a) as image:
        width, height = image.size
    scale = SIDE / max(width, height)
    size = (max(WINDOW, round(width * scale)), max(WINDOW, round(height * scale)))
    a, b = _grey(path_a, size), _grey(path_b, size)
    mean_a, mean_b = _box_mean(a, WINDOW), _box_mean(b, WINDOW)
    var_a = _box_mean(a * a, WINDOW) - mean_a**2
    var_b = _box_mean(b * b, WINDOW) - mean_b**2
    cov = _box_mean(a * b, WINDOW) - mean_a * mean_b
    index = ((2 * mean_a * mean_b + C1) * (2 * cov + C2)) / ((mean_a**2 + mean_b**2 + C1) * (var_a + var_b + C2))
    return round(float(index.mean()), 4)
