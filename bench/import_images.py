"""Import speed: 40 generated 4000x3000 JPEG photos (with EXIF orientation) into a dataset at 1024,
against a plain Pillow loop (open, exif_transpose, LANCZOS resize, save PNG) on the same files.

Both run in this one process, one after the other, on the same files; the outputs are compared
pixel by pixel (mean absolute difference, 0-255) to show they are visually equal. Prints, last,
`ratio X` (plain loop time / import time). Target: at least 2.5.

    .venv/bin/python bench/import_images.py [--count 40]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

RESOLUTION = 1024


def make_photos(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    y, x = np.mgrid[0:3000, 0:4000]
    base = np.stack([(x / 16) % 256, (y / 12) % 256, ((x + y) / 28) % 256], axis=2).astype(np.uint8)
    grain = rng.integers(0, 40, size=(3000, 4000, 3), dtype=np.uint8)
    for index in range(count):
        shifted = np.roll(base, (index * 97, index * 131), axis=(0, 1)) // 2 + np.roll(grain, index * 53, axis=1)
        image = Image.fromarray(shifted, "RGB")
        exif = Image.Exif()
        exif[0x0112] = (1, 6, 8, 3)[index % 4]  # upright, turned right, turned left, upside down
        path = folder / f"photo_{index:02d}.jpg"
        image.save(path, "JPEG", quality=90, exif=exif.tobytes())
        paths.append(path)
    return paths


def plain_loop(paths: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        scale = RESOLUTION / max(image.size)
        if scale < 1:
            image = image.resize((round(image.size[0] * scale), round(image.size[1] * scale)), Image.Resampling.LANCZOS)
        image.save(out / f"{path.stem}.png")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    from core.dataset.importer import run_import
    from core.dataset.images import Preprocess
    from core.dataset import datasets
    from core.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        tmp = Path(tmp)
        (tmp / "photos").mkdir()
        started = time.perf_counter()
        paths = make_photos(tmp / "photos", args.count)
        print(f"made {len(paths)} photos of 4000x3000 in {time.perf_counter() - started:.1f} s", flush=True)

        started = time.perf_counter()
        plain_loop(paths, tmp / "plain")
        plain = time.perf_counter() - started
        print(f"plain Pillow loop: {plain:.2f} s", flush=True)

        workspace = Workspace(tmp / "workspace").ensure()
        datasets.create(workspace, "bench", preprocess=Preprocess(resolution=RESOLUTION))
        started = time.perf_counter()
        report = run_import(workspace, "bench", [tmp / "photos"])
        ours = time.perf_counter() - started
        print(f"dataset import:    {ours:.2f} s ({len(report.accepted)} accepted, {len(report.rejected)} rejected; originals copied to raw/)", flush=True)
        assert len(report.accepted) == len(paths), report.summary()

        diffs = []
        for path in paths:
            with Image.open(tmp / "plain" / f"{path.stem}.png") as a, Image.open(workspace.datasets_dir / "bench" / "images" / f"{path.stem}.png") as b:
                assert a.size == b.size, (path.name, a.size, b.size)
                diffs.append(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())
        print(f"outputs: same sizes and orientation; mean absolute pixel difference {np.mean(diffs):.2f} of 255 (max {np.max(diffs):.2f})")
    print(f"ratio {plain / ours:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
