"""The prompts mflux renders as previews during training: `preview*.txt` files beside the images.

mflux 0.24.0 reads every `preview*.txt` in the data folder as one preview prompt (the file name,
without `.txt`, names the preview image). The Dataset tab edits them; the Train tab shows them.
"""

from __future__ import annotations

from pathlib import Path

from core import storage

PATTERN = "preview*.txt"


def read(images_dir: Path) -> list[str]:
    """The preview prompts in file-name order (empty files are skipped)."""
    prompts = []
    for path in sorted(Path(images_dir).glob(PATTERN)):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            prompts.append(text)
    return prompts


def write(images_dir: Path, prompts: list[str], trash_dir: Path) -> list[Path]:
    """Replace the preview prompts with `prompts` (blank ones dropped). Old files go to the trash."""
    images_dir = Path(images_dir)
    wanted = [p.strip() for p in prompts if p and p.strip()]
    old = sorted(images_dir.glob(PATTERN))
    current = [path.read_text(encoding="utf-8", errors="replace").strip() for path in old]
    if current == wanted:
        return old
    for path in old:
        storage.move_to_trash(path, trash_dir)
    written = []
    for index, prompt in enumerate(wanted, start=1):
        written.append(storage.write_text(images_dir / f"preview_{index:02d}.txt", prompt + "\n"))
    return written
