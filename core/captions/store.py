"""The caption store: the person's hand work, never lost.

Each caption is `images/<stem>.txt` (mflux reads it as is), written atomically. Every version is
appended to `history/<stem>.jsonl`; every change (one edit or one bulk operation) is one entry in
`history/_journal.jsonl`, which `undo()` walks back. A caption file that is not UTF-8 is reported
with CaptionEncodingError and never rewritten.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from core import storage
from core.errors import AppError, CaptionEncodingError, NotFound

MAX_CAPTION_CHARS = 20_000
JOURNAL = "_journal.jsonl"


@dataclass
class Version:
    time: float
    text: str
    source: str  # original | edit | auto | import | replace | prefix | trigger | undo | restore


@dataclass
class Change:
    stem: str
    before: str
    after: str


def _caption_path(dataset, stem: str) -> Path:
    return dataset.images_dir / f"{stem}.txt"


def read(dataset, stem: str) -> str:
    """The caption text ('' when there is none). Raises CaptionEncodingError for non-UTF-8 files."""
    path = _caption_path(dataset, stem)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaptionEncodingError(f"The caption {path.name} is not UTF-8 text; it was left unchanged.",
                                   "Open it in a text editor and save it as UTF-8, then reload.") from None


def read_all(dataset) -> dict[str, str | None]:
    """stem -> caption for every image (None when the file is not UTF-8)."""
    result: dict[str, str | None] = {}
    for item in dataset.items():
        try:
            result[item.stem] = read(dataset, item.stem)
        except CaptionEncodingError:
            result[item.stem] = None
    return result


def _history_path(dataset, stem: str) -> Path:
    return dataset.history_dir / f"{stem}.jsonl"


def _read_lines(path: Path) -> list[dict]:
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:  # a line cut by a crash; earlier ones are intact
            continue
    return entries


def history(dataset, stem: str) -> list[Version]:
    """Every version of the caption, oldest first (the last one is what is on disk)."""
    return [Version(e.get("time", 0.0), e.get("text", ""), e.get("source", "")) for e in _read_lines(_history_path(dataset, stem))]


def _check_text(stem: str, text: str) -> str:
    if not isinstance(text, str):
        raise AppError(f"The caption for {stem} is not text.", "Type the caption again.")
    if len(text) > MAX_CAPTION_CHARS:
        raise AppError(f"The caption for {stem} is {len(text):,} characters long; the limit is {MAX_CAPTION_CHARS:,}.",
                       "Shorten it: a caption is a sentence or a list of tags.")
    return text


def _write(dataset, stem: str, text: str, source: str) -> str:
    """Write one caption and its history; returns the text it replaced."""
    before = read(dataset, stem)  # refuses non-UTF-8 files before anything is written
    if not _history_path(dataset, stem).exists() and before:
        storage.append_line(_history_path(dataset, stem), json.dumps({"time": time.time(), "text": before, "source": "original"}, ensure_ascii=False))
    storage.append_line(_history_path(dataset, stem), json.dumps({"time": time.time(), "text": text, "source": source}, ensure_ascii=False))
    storage.write_text(_caption_path(dataset, stem), text)
    return before


def save_many(dataset, texts: dict[str, str], source: str = "edit") -> list[Change]:
    """Save several captions as one undoable change; unchanged ones are skipped."""
    changes: list[Change] = []
    for stem, text in texts.items():
        _check_text(stem, text)
    for stem, text in texts.items():
        if not dataset.item(stem).image.exists():
            continue
        if read(dataset, stem) == text and _caption_path(dataset, stem).exists():
            continue
        before = _write(dataset, stem, text, source)
        changes.append(Change(stem, before, text))
    if changes:
        entry = {"id": uuid.uuid4().hex[:12], "time": time.time(), "source": source,
                 "before": {c.stem: c.before for c in changes}}
        storage.append_line(dataset.history_dir / JOURNAL, json.dumps(entry, ensure_ascii=False))
    return changes


def save(dataset, stem: str, text: str, source: str = "edit") -> bool:
    """Save one caption (atomically, with history). Returns False when the text was already that."""
    return bool(save_many(dataset, {stem: text}, source))


def _journal(dataset) -> list[dict]:
    return _read_lines(dataset.history_dir / JOURNAL)


def undoable(dataset) -> list[dict]:
    """Changes that can still be undone, newest first: {id, time, source, stems}."""
    entries = _journal(dataset)
    undone = {e["undone"] for e in entries if "undone" in e}
    open_ = [e for e in entries if "id" in e and e["id"] not in undone and e.get("source") != "undo"]
    return [{"id": e["id"], "time": e["time"], "source": e["source"], "stems": sorted(e["before"])} for e in reversed(open_)]


def undo(dataset) -> list[Change]:
    """Put back the captions as they were before the last change (one edit or one bulk operation)."""
    pending = undoable(dataset)
    if not pending:
        raise NotFound("There is nothing to undo in this dataset.", "")
    last = next(e for e in reversed(_journal(dataset)) if e.get("id") == pending[0]["id"])
    restored: list[Change] = []
    for stem, text in last["before"].items():
        try:
            dataset.item(stem)
        except NotFound:
            continue  # the image was removed since; its caption is in the trash with it
        if read(dataset, stem) != text:
            after = _write(dataset, stem, text, "undo")
            restored.append(Change(stem, after, text))
    storage.append_line(dataset.history_dir / JOURNAL, json.dumps({"undone": last["id"], "time": time.time()}))
    return restored


def restore(dataset, stem: str, index: int) -> str:
    """Make version `index` of the caption's history current again (as a new version)."""
    versions = history(dataset, stem)
    if not 0 <= index < len(versions):
        raise NotFound(f"{stem} has no version {index}.", f"Pick one of 0-{len(versions) - 1}.")
    text = versions[index].text
    save_many(dataset, {stem: text}, source="restore")
    return text


# --- bulk edits: a preview (list of Change) first, then apply() as one undoable change ---

def preview_replace(dataset, find: str, replace: str, *, regex: bool = False, ignore_case: bool = False) -> list[Change]:
    if not find:
        raise AppError("There is nothing to find.", "Type the text to find.")
    flags = re.IGNORECASE if ignore_case else 0
    try:
        pattern = re.compile(find if regex else re.escape(find), flags)
    except re.error as error:
        raise AppError(f"The pattern '{find}' is not a valid regular expression ({error}).", "Fix it or untick 'regex'.") from None
    changes = []
    for stem, text in read_all(dataset).items():
        if text is None:
            continue
        try:
            after = pattern.sub(replace if regex else replace.replace("\\", "\\\\"), text)
        except (re.error, IndexError) as error:
            raise AppError(f"The replacement '{replace}' is not valid ({error}).", "Use \\1 only for groups in the pattern.") from None
        after = _tidy(after) if after != text else after
        if after != text:
            changes.append(Change(stem, text, after))
    return changes


def preview_affix(dataset, prefix: str = "", suffix: str = "") -> list[Change]:
    changes = []
    for stem, text in read_all(dataset).items():
        if text is None:
            continue
        after = text
        if prefix and not after.startswith(prefix):
            after = prefix + after
        if suffix and not after.endswith(suffix):
            after = after + suffix
        if after != text:
            changes.append(Change(stem, text, after))
    return changes


def with_trigger(text: str, trigger: str) -> str:
    """`text` with the trigger word first (moved there if it was elsewhere)."""
    trigger = trigger.strip()
    if not trigger:
        return text
    rest = re.sub(rf"(?<!\w){re.escape(trigger)}(?!\w)\s*,?\s*", "", text).strip().lstrip(",").strip()
    return f"{trigger}, {rest}" if rest else trigger


def has_trigger(text: str, trigger: str) -> bool:
    return bool(trigger.strip()) and re.search(rf"(?<!\w){re.escape(trigger.strip())}(?!\w)", text) is not None


def preview_trigger(dataset, trigger: str, *, remove: bool = False) -> list[Change]:
    if not trigger.strip():
        raise AppError("The trigger word is empty.", "Type the trigger word first.")
    changes = []
    for stem, text in read_all(dataset).items():
        if text is None:
            continue
        if remove:
            after = _tidy(re.sub(rf"(?<!\w){re.escape(trigger.strip())}(?!\w)", "", text))
        else:
            after = with_trigger(text, trigger)
        if after != text:
            changes.append(Change(stem, text, after))
    return changes


def _tidy(text: str) -> str:
    text = re.sub(r"\s*,\s*(,\s*)+", ", ", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip().strip(",").strip()


def apply(dataset, changes: list[Change], source: str = "replace") -> list[Change]:
    """Apply previewed changes as one undoable change; a caption edited since the preview is left alone."""
    current = read_all(dataset)
    wanted = {c.stem: c.after for c in changes if current.get(c.stem) == c.before}
    return save_many(dataset, wanted, source=source)


# --- looking over the dataset ---

def word_counts(dataset, *, tags: bool = False) -> list[tuple[str, int]]:
    """(word or comma-separated tag, number of captions using it), most used first."""
    counts: Counter[str] = Counter()
    for text in read_all(dataset).values():
        if not text:
            continue
        if tags:
            units = {t.strip().lower() for t in text.split(",") if t.strip()}
        else:
            units = set(re.findall(r"[\w'-]+", text.lower()))
        counts.update(units)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def stems_with(dataset, word: str) -> list[str]:
    word = word.strip().lower()
    return [stem for stem, text in read_all(dataset).items() if text and word in text.lower()]


def needs_attention(text: str | None, trigger: str = "") -> bool:
    """Empty, unreadable, or missing the trigger word."""
    return text is None or not text.strip() or (bool(trigger.strip()) and not has_trigger(text, trigger))


def next_stem(dataset, current: str | None, step: int = 1, *, trigger: str = "", attention: bool = False) -> str | None:
    """The image after (step=1) or before (step=-1) `current`, wrapping; with attention=True the next one
    whose caption is empty or lacks the trigger (None when there is none)."""
    stems = [item.stem for item in dataset.items()]
    if not stems:
        return None
    start = stems.index(current) if current in stems else (-1 if step > 0 else 0)
    texts = read_all(dataset) if attention else {}
    for offset in range(1, len(stems) + 1):
        stem = stems[(start + step * offset) % len(stems)]
        if not attention or needs_attention(texts.get(stem), trigger):
            return stem
    return None


def version_rows(dataset, stem: str) -> list[dict]:
    return [{"index": i, **asdict(v), "when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v.time))}
            for i, v in enumerate(history(dataset, stem))]
