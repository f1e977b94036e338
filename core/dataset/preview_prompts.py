"""The prompts a character is rendered with: mflux's previews during training, and the test prompts.

mflux 0.24.0 reads every `preview*.txt` in the data folder as one preview prompt (the file name,
without `.txt`, names the preview image). The Dataset tab edits them; the Train tab shows them.
The test prompts (config/test_prompts.json, `{trigger}` standing for the trigger word) are what the
checkpoint grid and the Playground render.
"""

from __future__ import annotations

import json
from pathlib import Path

from core import storage
from core.errors import AppError
from core.settings import CONFIG_DIR

PATTERN = "preview*.txt"
TEST_PROMPTS_FILE = CONFIG_DIR / "test_prompts.json"


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


def load_test_prompts(path: Path | None = None, trigger: str | None = None) -> list[str]:
    """The test prompts: config/test_prompts.json, or a given .json file (a list of prompts or of {"prompt": ...},
    or {"prompts": [...]}) or text file (one prompt a line). `{trigger}` is filled in with `trigger`, or kept
    when `trigger` is None."""
    path = Path(path) if path else TEST_PROMPTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise AppError(f"The prompts file {path} cannot be read.", "Check the path.") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as error:
            raise AppError(f"{path.name} is not valid JSON ({error}).",
                           "Fix the file or use a .txt file with one prompt a line.") from None
        data = data.get("prompts") if isinstance(data, dict) else data
        items = [item.get("prompt") if isinstance(item, dict) else item for item in data or []]
    else:
        items = text.splitlines()
    prompts = [item.strip() for item in items if isinstance(item, str) and item.strip()]
    if not prompts:
        raise AppError(f"No prompts could be read from {path}.",
                       'Write a JSON list of prompts, e.g. ["{trigger}, a portrait", "{trigger} walking in the rain"].')
    return prompts if trigger is None else [with_trigger(p, trigger) for p in prompts]


def with_trigger(prompt: str, trigger: str | None) -> str:
    """`prompt` with `{trigger}` replaced by the trigger word (dropped, with its comma, when there is none)."""
    return " ".join(prompt.replace("{trigger}", trigger or "").split()).strip(" ,")
