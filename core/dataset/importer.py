"""Importing a messy folder: files, zips and folders in; a report of every file accepted or rejected out.

    for event in import_sources(workspace, "mira", [Path("~/Pictures/mira")], captions_dir=Path("captions")):
        ...  # Progress per file (payload "outcome": one FileOutcome as a dict); the last event's result is the ImportReport

Originals are copied under `raw/<stamp>/` untouched; training copies are made in a small process pool
(decoding and resizing are CPU bound). Captions pair with images by file stem, from the same sources or
from a separate captions folder. Nothing already in the dataset is replaced: a clashing name gets a suffix.
A picture already in the dataset (the same file by content hash: `sources.json` remembers what each training
image was made from; or the same training image) is skipped and reported as such, never imported twice.
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
from core import storage
from core.dataset.images import IMPORTABLE, importable_formats, prepare_job
from core.progress import Cancellation, Progress, drain
from core.workspace import Workspace

MAX_CAPTION_BYTES = 64 * 1024
SOURCES_FILE = "sources.json"  # in the dataset's folder: which original each training image was made from
POOL_MIN_FILES = 4


@dataclass
class FileOutcome:
    source: str
    kind: str  # image | caption | other
    accepted: bool
    reason: str
    stem: str | None = None
    warnings: list[str] = field(default_factory=list)
    duplicate_of: str | None = None  # the image already in the dataset (or earlier in this import) it is a copy of


@dataclass
class ImportReport:
    dataset: str
    files: list[FileOutcome] = field(default_factory=list)
    images_without_captions: list[str] = field(default_factory=list)
    captions_without_images: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # sources (a typed folder) that do not exist
    cancelled: bool = False

    @property
    def accepted(self) -> list[FileOutcome]:
        return [f for f in self.files if f.accepted and f.kind == "image"]

    @property
    def already(self) -> list[FileOutcome]:
        """Pictures skipped because the dataset already has them."""
        return [f for f in self.files if f.duplicate_of is not None]

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files if not f.accepted and f.duplicate_of is None]

    def summary(self) -> str:
        if self.missing and not self.accepted and not self.already:
            where = ", ".join(self.missing)
            return f"Nothing was imported: {where} does not exist (no such folder or file); check the path."
        text = f"{len(self.accepted)} image(s) imported into '{self.dataset}'"
        if self.already:
            text += f", {len(self.already)} already in the dataset, skipped"
        text += f", {len(self.rejected)} file(s) rejected."
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
            report.files.append(FileOutcome(label, "other", False, f"{path.name}: '{suffix or 'no extension'}' is not an image format this app imports (use {importable_formats()}, or a zip of them)."))

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
            report.missing.append(str(source))
            report.files.append(FileOutcome(str(source), "other", False, f"{source} does not exist (no such folder or file); check the path."))
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


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (what makes two pictures 'the same file')."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Known:
    """What a dataset already holds, by content hash: the originals its images were made from (sources.json),
    the training images themselves, and what this import has taken so far."""

    sources: dict[str, str]  # hash of an original -> the stem of the training image made from it
    present: set[str]  # stems of the images in the dataset now
    images: dict[str, str]  # hash of a training image -> its stem
    batch: dict[str, str] = field(default_factory=dict)  # hash of an original in this import -> its stem

    @classmethod
    def of(cls, dataset) -> "Known":
        items = dataset.items()
        recorded = storage.read_json(dataset.root / SOURCES_FILE, default={}) or {}
        return cls(dict(recorded.get("sources") or {}), {i.stem for i in items},
                   {content_hash(i.image): i.stem for i in items})

    def original(self, digest: str) -> str | None:
        """The stem of the image in the dataset already made from these bytes (or byte-identical to them)."""
        stem = self.sources.get(digest)
        if stem in self.present:
            return stem
        return self.images.get(digest)

    def training(self, made: Path) -> str | None:
        """The stem of an existing training image byte-identical to the one just made, if any."""
        return self.images.get(content_hash(made))

    def remember(self, digest: str, stem: str, made: Path) -> None:
        self.sources[digest] = stem
        self.present.add(stem)
        self.images[content_hash(made)] = stem

    def save(self, dataset) -> None:
        storage.write_json(dataset.root / SOURCES_FILE, {"sources": self.sources})


def _skipped(dataset, label: str, twin: str, caption: tuple[str, Path] | None, used: set[str]) -> FileOutcome:
    """The outcome of a picture the dataset already has as `twin`; a caption that came with it is used only
    when `twin` has none yet (an existing caption is never replaced)."""
    note = f"already in the dataset as {twin}; skipped"
    if caption is not None:
        used.add(Path(caption[1]).stem)
        text, _ = _read_caption(caption[1])
        try:
            current = caption_store.read(dataset, twin)
        except caption_store.CaptionEncodingError:
            current = "?"
        if text is not None and text.strip() and not current.strip():
            caption_store.save(dataset, twin, text.strip(), source="import")
            note += f" (its caption was added to {twin}, which had none)"
        else:
            note += f" ({twin}'s caption was left as it is)"
    return FileOutcome(label, "image", False, note, twin, duplicate_of=twin)


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
    used_captions: set[str] = set()
    yield Progress(0, 0, "Copying the originals…")
    images, captions = _collect([Path(s) for s in sources], staging, report)
    if captions_dir:
        _, extra = _collect([Path(captions_dir)], staging / "captions", report)
        captions.update(extra)
    taken = {item.stem for item in dataset.items()} | {p.stem for p in dataset.images_dir.glob("*.txt")}
    known = Known.of(dataset)
    jobs, meta = [], []
    settings = dataset.preprocess.to_dict()
    for label, path in images:
        digest = content_hash(path)
        twin = known.original(digest)
        if twin is not None:
            report.files.append(_skipped(dataset, label, twin, captions.get(path.stem), used_captions))
            path.unlink(missing_ok=True)  # our copy in raw/; the training image it matches is kept
            continue
        if digest in known.batch:
            report.files.append(FileOutcome(label, "image", False, f"the same picture as {known.batch[digest]}, earlier in "
                                            "this import; skipped", known.batch[digest], duplicate_of=known.batch[digest]))
            path.unlink(missing_ok=True)
            continue
        stem, base, n = safe_stem(path.name), safe_stem(path.name), 2
        while stem in taken:
            stem, n = f"{base}_{n}", n + 1
        taken.add(stem)
        known.batch[digest] = stem
        jobs.append((str(path), str(dataset.images_dir / f"{stem}.png"), settings))
        meta.append((label, path, stem, digest))
    total = len(jobs)
    if report.already:
        yield Progress(0, total, f"{len(report.already)} picture(s) already in the dataset, skipped")
    for index, (result, (label, path, stem, digest)) in enumerate(zip(_run(jobs, workers, cancel), meta), start=1):
        if result is None:
            report.cancelled = True
            break
        twin = known.training(dataset.images_dir / f"{stem}.png") if result["ok"] else None
        if twin is not None:  # made before sources.json was kept: the same training image already exists
            (dataset.images_dir / f"{stem}.png").unlink(missing_ok=True)
            outcome = _skipped(dataset, label, twin, captions.get(path.stem), used_captions)
            report.files.append(outcome)
            yield Progress(index, total, f"Skipped {path.name} (already in the dataset as {twin})", {"outcome": asdict(outcome)})
            continue
        outcome = FileOutcome(label, "image", result["ok"], result["reason"] or "imported", stem if result["ok"] else None, result["warnings"])
        report.files.append(outcome)
        if result["ok"]:
            known.remember(digest, stem, dataset.images_dir / f"{stem}.png")
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
    known.save(dataset)
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
