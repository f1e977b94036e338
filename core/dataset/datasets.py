"""A dataset: one folder per character, holding exactly mflux's data layout plus what we keep beside it.

    datasets/<name>/images/NAME.png + NAME.txt     what mflux trains on (`data` points here)
    datasets/<name>/images/preview*.txt            preview prompts mflux renders during training
    datasets/<name>/raw/                           the originals as imported, untouched
    datasets/<name>/history/<stem>.jsonl           every version of every caption
    datasets/<name>/dataset.json                   preprocessing settings, trigger word, per-picture repeat counts

Hidden entries (e.g. mflux's `.mflux_cache/` with low_ram) are ignored everywhere.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from core import storage
from core.constants import IMAGE_SUFFIXES
from core.errors import AppError, ConfigError, DatasetExists, NotFound
from core.dataset.images import Preprocess, list_images
from core.workspace import Workspace, check_name
from core.captions import store as caption_store


@dataclass(frozen=True)
class Item:
    """One training image and its same-stem caption file (which may not exist yet)."""

    stem: str
    image: Path
    caption: Path

    @property
    def has_caption(self) -> bool:
        return self.caption.is_file()


@dataclass(frozen=True)
class Dataset:
    name: str
    root: Path

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def history_dir(self) -> Path:
        return self.root / "history"

    @property
    def settings_path(self) -> Path:
        return self.root / "dataset.json"

    def items(self) -> list[Item]:
        """Training images (formats mflux reads) in name order, each with its caption path."""
        return [Item(path.stem, path, path.with_suffix(".txt")) for path in list_images(self.images_dir)]

    def item(self, stem: str) -> Item:
        for item in self.items():
            if item.stem == stem:
                return item
        raise NotFound(f"Dataset '{self.name}' has no image named '{stem}'.", "Pick an image from the gallery.")

    def other_files(self) -> list[Path]:
        """Visible files in images/ that are neither training images, their captions nor preview prompts."""
        if not self.images_dir.is_dir():
            return []
        stems = {item.stem for item in self.items()}
        others = []
        for path in sorted(self.images_dir.iterdir()):
            if path.name.startswith(".") or path.is_dir():
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES:
                continue
            if path.suffix.lower() == ".txt" and (path.stem in stems or path.name.startswith("preview")):
                continue
            others.append(path)
        return others

    def read_settings(self) -> dict:
        return storage.read_json(self.settings_path, default={}) or {}

    @property
    def preprocess(self) -> Preprocess:
        try:
            return Preprocess.from_dict(self.read_settings().get("preprocess"))
        except AppError:
            return Preprocess()

    @property
    def trigger(self) -> str:
        return str(self.read_settings().get("trigger") or "")

    @property
    def repeats(self) -> dict[str, int]:
        """Per-picture repeat counts other than 1 (stem -> count); a picture not listed is trained once an epoch."""
        stored = self.read_settings().get("repeats")
        if not isinstance(stored, dict):
            return {}
        return {str(stem): int(n) for stem, n in stored.items()
                if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_REPEAT and n != 1}

    def repeat_of(self, stem: str) -> int:
        return self.repeats.get(stem, 1)

    def save_settings(self, *, preprocess: Preprocess | None = None, trigger: str | None = None) -> dict:
        data = self.read_settings()
        if preprocess is not None:
            preprocess.validate()
            data["preprocess"] = preprocess.to_dict()
        if trigger is not None:
            data["trigger"] = trigger.strip()
        storage.write_json(self.settings_path, data)
        return data


MAX_REPEAT = 50


def check_repeat(count) -> int:
    """A repeat count as a whole number from 1 to MAX_REPEAT, or a ConfigError in one sentence."""
    number = None
    if isinstance(count, int) and not isinstance(count, bool):
        number = count
    elif isinstance(count, float) and count.is_integer():
        number = int(count)
    elif isinstance(count, str) and count.strip().lstrip("-").isdigit():
        number = int(count.strip())
    if number is None:
        raise ConfigError(f"A repeat count must be a whole number from 1 to {MAX_REPEAT}, not {count!r}.",
                          "Type 1 to train the picture once an epoch, more to train it more often.")
    if not 1 <= number <= MAX_REPEAT:
        raise ConfigError(f"A repeat count must be from 1 to {MAX_REPEAT}, not {number}.",
                          "Type 1 to train the picture once an epoch; to leave a picture out, remove it from the dataset.")
    return number


def set_repeat(workspace: Workspace, name: str, stems: list[str] | str, count) -> dict[str, int]:
    """Give each picture of `stems` the repeat count `count` (how often it is trained in one epoch); returns every
    picture's repeat count other than 1. Kept in dataset.json; the pictures and captions are not touched."""
    count = check_repeat(count)
    dataset = open_dataset(workspace, name)
    stems = [stems] if isinstance(stems, str) else list(stems)
    if not stems:
        raise ConfigError("No picture is selected.", "Select one or more pictures first, then set their repeat count.")
    known = {item.stem for item in dataset.items()}
    for stem in stems:
        if stem not in known:
            raise NotFound(f"Dataset '{dataset.name}' has no image named '{stem}'.", "Pick an image from the gallery.")
    data = dataset.read_settings()
    repeats = {k: v for k, v in dataset.repeats.items() if k in known}
    for stem in stems:
        if count == 1:
            repeats.pop(stem, None)
        else:
            repeats[stem] = count
    data["repeats"] = dict(sorted(repeats.items()))
    storage.write_json(dataset.settings_path, data)
    return data["repeats"]


def list_names(workspace: Workspace) -> list[str]:
    return workspace.list_datasets()


def open_dataset(workspace: Workspace, name: str) -> Dataset:
    root = workspace.dataset_dir(name, must_exist=True)
    return Dataset(root.name, root)


def create(workspace: Workspace, name: str, *, preprocess: Preprocess | None = None, trigger: str = "") -> Dataset:
    clean = check_name(name, "dataset")
    root = workspace.dataset_dir(clean)
    if root.exists():
        raise DatasetExists(f"A dataset named '{clean}' already exists.", "Pick it in the list, or choose another name.")
    (root / "images").mkdir(parents=True)
    (root / "raw").mkdir()
    dataset = Dataset(clean, root)
    storage.write_json(dataset.settings_path, {"created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                               "preprocess": (preprocess or Preprocess()).to_dict(), "trigger": trigger.strip()})
    return dataset


def ensure(workspace: Workspace, name: str) -> Dataset:
    try:
        return open_dataset(workspace, name)
    except NotFound:
        return create(workspace, name)


def _free_name(workspace: Workspace, new_name: str) -> tuple[str, Path]:
    """A valid dataset name no dataset has yet, and the folder it will get."""
    clean = check_name(new_name, "dataset")
    target = workspace.dataset_dir(clean)
    if target.exists():
        raise DatasetExists(f"A dataset named '{clean}' already exists.", "Choose another name.")
    return clean, target


def rename(workspace: Workspace, name: str, new_name: str) -> Dataset:
    old = open_dataset(workspace, name)
    clean, target = _free_name(workspace, new_name)
    old.root.rename(target)
    return Dataset(clean, target)


def duplicate(workspace: Workspace, name: str, new_name: str) -> Dataset:
    old = open_dataset(workspace, name)
    clean, target = _free_name(workspace, new_name)
    staging = target.with_name(f".{clean}.copying")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(old.root, staging, ignore=shutil.ignore_patterns(".*"))
    staging.rename(target)
    return Dataset(clean, target)


def delete(workspace: Workspace, name: str) -> Path:
    """Move the whole dataset to the trash; returns where it went (recoverable)."""
    dataset = open_dataset(workspace, name)
    return storage.move_to_trash(dataset.root, workspace.trash_dir / "datasets")


REMOVED_FILE = "removed.json"  # in each trash folder of a removed picture: which dataset and stem it was


@dataclass(frozen=True)
class Removed:
    """A picture removed from a dataset, waiting in the trash (with its caption) to be restored."""

    folder: Path
    stem: str
    removed: str  # when, "YYYY-mm-dd HH:MM:SS"

    @property
    def id(self) -> str:
        return self.folder.name


def remove_image(workspace: Workspace, name: str, stem: str) -> Path:
    """Move one image and its caption to the trash (together, in one folder); other captions are untouched."""
    dataset = open_dataset(workspace, name)
    item = dataset.item(stem)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = workspace.trash_dir / "images" / f"{stamp}-{dataset.name}-{stem}"
    counter = 2
    while folder.exists():
        folder = folder.with_name(f"{stamp}-{dataset.name}-{stem}-{counter}")
        counter += 1
    folder.mkdir(parents=True)
    storage.write_json(folder / REMOVED_FILE, {"dataset": dataset.name, "stem": stem, "image": item.image.name,
                                               "removed": time.strftime("%Y-%m-%d %H:%M:%S")})
    shutil.move(str(item.image), str(folder / item.image.name))
    if item.caption.exists():
        shutil.move(str(item.caption), str(folder / item.caption.name))
    return folder


def remove_images(workspace: Workspace, name: str, stems: list[str]) -> list[Path]:
    """Move several images (each with its caption) to the trash; every stem is checked before anything moves."""
    dataset = open_dataset(workspace, name)
    wanted = list(dict.fromkeys(stems))
    have = {item.stem for item in dataset.items()}
    missing = [stem for stem in wanted if stem not in have]
    if missing:
        raise NotFound(f"Dataset '{dataset.name}' has no image named {', '.join(repr(s) for s in missing)}.",
                       "Refresh the gallery and select the pictures again.")
    return [remove_image(workspace, dataset.name, stem) for stem in wanted]


def removed_images(workspace: Workspace, name: str) -> list[Removed]:
    """The pictures removed from dataset `name` that are still in the trash, newest first."""
    root = workspace.trash_dir / "images"
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        record = storage.read_json(folder / REMOVED_FILE, default=None) if folder.is_dir() else None
        if not isinstance(record, dict) or record.get("dataset") != name:
            continue
        if (folder / str(record.get("image", ""))).is_file():
            found.append(Removed(folder, str(record["stem"]), str(record.get("removed", ""))))
    return sorted(found, key=lambda r: (r.removed, r.id), reverse=True)


def restore_image(workspace: Workspace, name: str, removed_id: str) -> str:
    """Put a removed picture (and its caption) back into dataset `name`; returns its stem, which gets a suffix
    when the dataset has a picture of that name again. Nothing in the dataset is replaced."""
    dataset = open_dataset(workspace, name)
    entry = next((r for r in removed_images(workspace, dataset.name) if r.id == removed_id), None)
    if entry is None:
        raise NotFound(f"The trash has no picture '{removed_id}' removed from '{dataset.name}'.",
                       "Refresh the list of removed pictures.")
    record = storage.read_json(entry.folder / REMOVED_FILE, default={}) or {}
    image = entry.folder / record["image"]
    taken = {item.stem for item in dataset.items()} | {p.stem for p in dataset.images_dir.glob("*.txt")}
    stem, n = entry.stem, 2
    while stem in taken:
        stem, n = f"{entry.stem}_{n}", n + 1
    caption = entry.folder / f"{entry.stem}.txt"
    if caption.is_file():
        shutil.move(str(caption), str(dataset.images_dir / f"{stem}.txt"))
    shutil.move(str(image), str(dataset.images_dir / f"{stem}{image.suffix}"))
    (entry.folder / REMOVED_FILE).unlink(missing_ok=True)
    try:
        entry.folder.rmdir()
    except OSError:
        pass  # something else was put there: leave it
    return stem


def describe(dataset: Dataset, stem: str) -> dict:
    """What the gallery shows about one image: size, file, caption (None when not UTF-8), where it came from."""
    from PIL import Image

    item = dataset.item(stem)
    info: dict = {"stem": stem, "image": str(item.image), "bytes": item.image.stat().st_size, "width": 0, "height": 0}
    try:
        with Image.open(item.image) as image:
            info["width"], info["height"] = image.size
    except Exception as error:
        info["error"] = f"cannot be read ({error})"
    try:
        info["caption"] = caption_store.read(dataset, stem)
    except caption_store.CaptionEncodingError:
        info["caption"] = None
    info["versions"] = len(caption_store.history(dataset, stem))
    return info
