"""Importing a messy folder: files, zips and folders in; a report of every file accepted or rejected out.

    for event in import_sources(workspace, "mira", [Path("~/Pictures/mira")], captions_dir=Path("captions")):
        ...  # Progress per file (payload "outcome": one FileOutcome as a dict); the last event's result is the ImportReport

Originals are copied under `raw/<stamp>/` untouched; training copies are made in a small process pool
(decoding and resizing are CPU bound). Captions pair with images by file stem, from the same sources or
from a separate captions folder. Nothing already in the dataset is replaced: a clashing name gets a suffix.
"""

from __future__ import annotations

import re
import shutil
import time
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator

from core.captions import store as caption_store
from core.dataset import datasets
from core.dataset.images import IMPORTABLE, prepare_job
from core.progress import Cancellation, Progress, drain
from core.workspace import Workspace

MAX_CAPTION_BYTES = 64 * 1024
POOL_MIN_FILES = 4


@dataclass
class FileOutcome:
    source: str
    kind: str  # image | caption | other
    accepted: bool
    reason: str
    stem: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    dataset: str
    files: list[FileOutcome] = field(default_factory=list)
    images_without_captions: list[str] = field(default_factory=list)
    captions_without_images: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def accepted(self) -> list[FileOutcome]:
        return [f for f in self.files if f.accepted and f.kind == "image"]

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files if not f.accepted]

    def summary(self) -> str:
        text = f"{len(self.accepted)} image(s) imported into '{self.dataset}', {len(self.rejected)} file(s) rejected."
        if self.images_without_captions:
            text += f" {len(self.images_without_captions)} image(s) have no caption yet."
        if self.captions_without_images:
            text += f" {len(self.captions_without_images)} caption(s) had no image."
        if self.cancelled:
            text += " Stopped before the end; what was imported is kept."
        return text

    def to_dict(self) -> dict:
        return {**asdict(self), "summary": self.summary(), "accepted_count": len(self.accepted), "rejected_count": len(self.rejected)}


def safe_stem(name: str) -> str:
    """A file stem safe in mflux's folder: NFC, letters of any script, digits, '-' and '_'."""
    stem = unicodedata.normalize("NFC", PurePosixPath(name.replace("\\", "/")).name)
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    stem = re.sub(r"[^\w\-]+", "_", stem, flags=re.UNICODE).strip("_.")
    return stem[:80] or "image"


def _collect(sources: list[Path], staging: Path, report: ImportReport) -> tuple[list[tuple[str, Path]], dict[str, tuple[str, Path]]]:
    """Copy every source into `staging` (originals, untouched); returns (images, captions by stem)."""
    images: list[tuple[str, Path]] = []
    captions: dict[str, tuple[str, Path]] = {}

    def take(label: str, path: Path) -> None:
        suffix = path.suffix.lower()
        if path.name.startswith("."):
            return
        if suffix in IMPORTABLE:
            images.append((label, path))
        elif suffix == ".txt":
            captions[path.stem] = (label, path)
        elif suffix == ".zip":
            _unzip(label, path, staging, report, take)
        else:
            report.files.append(FileOutcome(label, "other", False, f"{path.name}: '{suffix or 'no extension'}' is not an image format this app imports (use JPEG, PNG, WebP or HEIC)."))

    for source in sources:
        source = Path(source).expanduser()
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.is_file() and not any(part.startswith(".") for part in path.relative_to(source).parts):
                    copy = _copy_into(path, staging / source.name / path.relative_to(source))
                    take(str(path), copy)
        elif source.is_file():
            take(str(source), _copy_into(source, staging / source.name))
        else:
            report.files.append(FileOutcome(str(source), "other", False, f"{source} does not exist."))
    return images, captions


def _copy_into(path: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    counter = 2
    while target.exists():
        target = target.with_name(f"{target.stem}-{counter}{target.suffix}")
        counter += 1
    shutil.copy2(path, target)
    return target


def _unzip(label: str, path: Path, staging: Path, report: ImportReport, take) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        report.files.append(FileOutcome(label, "other", False, f"{path.name} is not a readable zip file."))
        return
    root = staging / f"{path.stem}-unzipped"
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = f"{label}!{info.filename}"
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                report.files.append(FileOutcome(member, "other", False, f"'{info.filename}' points outside the zip's folder and was not extracted."))
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                report.files.append(FileOutcome(member, "other", False, f"'{info.filename}' is a link, not a file, and was not extracted."))
                continue
            if any(part.startswith(".") or part == "__MACOSX" for part in parts):
                continue
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            take(member, target)


def _read_caption(path: Path) -> tuple[str | None, str]:
    """(text, reason it was refused)."""
    size = path.stat().st_size
    if size > MAX_CAPTION_BYTES:
        return None, f"{path.name} is {size:,} bytes, above the caption limit of {MAX_CAPTION_BYTES:,} bytes; it was kept in raw/ but not used."
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        return None, f"{path.name} is not UTF-8 text; it was kept in raw/ but not used. Save it as UTF-8 and import it again, or write the caption here."


def import_sources(workspace: Workspace, name: str, sources: list[Path], *, captions_dir: Path | None = None,
                   cancel: Cancellation | None = None, workers: int = 2) -> Iterator[Progress[ImportReport]]:
    """Import images (files, zips, folders) into dataset `name` (created if new). Yields Progress."""
    dataset = datasets.ensure(workspace, name)
    report = ImportReport(dataset.name)
    staging = dataset.raw_dir / time.strftime("%Y%m%d-%H%M%S")
    counter = 2
    while staging.exists():
        staging = staging.with_name(f"{staging.name.split('_')[0]}_{counter}")
        counter += 1
    yield Progress(0, 0, "Copying the originals…")
    images, captions = _collect([Path(s) for s in sources], staging, report)
    if captions_dir:
        _, extra = _collect([Path(captions_dir)], staging / "captions", report)
        captions.update(extra)
    taken = {item.stem for item in dataset.items()} | {p.stem for p in dataset.images_dir.glob("*.txt")}
    jobs, meta = [], []
    settings = dataset.preprocess.to_dict()
    for label, path in images:
        stem, base, n = safe_stem(path.name), safe_stem(path.name), 2
        while stem in taken:
            stem, n = f"{base}_{n}", n + 1
        taken.add(stem)
        jobs.append((str(path), str(dataset.images_dir / f"{stem}.png"), settings))
        meta.append((label, path, stem))
    total = len(jobs)
    used_captions: set[str] = set()
    for index, (result, (label, path, stem)) in enumerate(zip(_run(jobs, workers, cancel), meta), start=1):
        if result is None:
            report.cancelled = True
            break
        outcome = FileOutcome(label, "image", result["ok"], result["reason"] or "imported", stem if result["ok"] else None, result["warnings"])
        report.files.append(outcome)
        if result["ok"]:
            caption = captions.get(path.stem)
            if caption is None:
                report.images_without_captions.append(stem)
            else:
                used_captions.add(path.stem)
                text, reason = _read_caption(caption[1])
                if text is None:
                    report.files.append(FileOutcome(caption[0], "caption", False, reason, stem))
                    report.images_without_captions.append(stem)
                else:
                    caption_store.save(dataset, stem, text.strip(), source="import")
                    report.files.append(FileOutcome(caption[0], "caption", True, f"caption for {stem}", stem))
        yield Progress(index, total, f"{'Imported' if result['ok'] else 'Rejected'} {path.name}", {"outcome": asdict(outcome)})
    for stem, (label, _) in captions.items():
        if stem not in used_captions and not report.cancelled:
            if stem.startswith("preview"):
                continue
            report.captions_without_images.append(label)
            report.files.append(FileOutcome(label, "caption", False, f"no image named '{stem}' was imported with it"))
    yield Progress(total, total, report.summary(), result=report)


def _run(jobs: list, workers: int, cancel: Cancellation | None):
    """Results in job order; None once cancelled."""
    if len(jobs) < POOL_MIN_FILES or workers <= 1:
        for job in jobs:
            if cancel is not None and cancel.requested:
                yield None
                return
            yield prepare_job(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(prepare_job, job) for job in jobs]
        try:
            for future in futures:
                while True:
                    if cancel is not None and cancel.requested:
                        for pending in futures:
                            pending.cancel()
                        yield None
                        return
                    try:
                        result = future.result(timeout=0.2)
                        break
                    except TimeoutError:
                        continue
                yield result
        finally:
            for pending in futures:
                pending.cancel()


def run_import(workspace: Workspace, name: str, sources: list[Path], **kwargs) -> ImportReport:
    return drain(import_sources(workspace, name, sources, **kwargs))
