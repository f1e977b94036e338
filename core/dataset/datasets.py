"""A dataset: one folder per character, holding exactly mflux's data layout plus what we keep beside it.

    datasets/<name>/images/NAME.png + NAME.txt     what mflux trains on (`data` points here)
    datasets/<name>/images/preview*.txt            preview prompts mflux renders during training
    datasets/<name>/raw/                           the originals as imported, untouched
    datasets/<name>/history/<stem>.jsonl           every version of every caption
    datasets/<name>/dataset.json                   preprocessing settings and trigger word

Hidden entries (e.g. mflux's `.mflux_cache/` with low_ram) are ignored everywhere.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from core import storage
from core.constants import IMAGE_SUFFIXES
from core.errors import AppError, DatasetExists, NotFound
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

    def save_settings(self, *, preprocess: Preprocess | None = None, trigger: str | None = None) -> dict:
        data = self.read_settings()
        if preprocess is not None:
            preprocess.validate()
            data["preprocess"] = preprocess.to_dict()
        if trigger is not None:
            data["trigger"] = trigger.strip()
        storage.write_json(self.settings_path, data)
        return data


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
    shutil.move(str(item.image), str(folder / item.image.name))
    if item.caption.exists():
        shutil.move(str(item.caption), str(folder / item.caption.name))
    return folder


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
