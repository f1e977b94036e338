"""A run's record (run.json) as a typed dataclass, and the rules for reading saved JSON records.

    record = RunRecord.load(paths.record_json)    # an old or hand-made file: missing keys get defaults
    record.status, record.total_steps             # typed attributes instead of dict .get calls
    record.update(status="stopped").save(path)    # keys this version does not know are written back unchanged

The JSON keys on disk are the field names. `json_fields` and `json_dict` are shared with the other saved
records (the publish record in core.publishing.record).
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from core import storage

_Record = typing.TypeVar("_Record")


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a field declares (an int is a fine float, a bool is no number)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    base = origin or hint
    if base is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, base)


def _default(spec) -> Any:
    if spec.default is not MISSING:
        return spec.default
    return spec.default_factory()


def json_fields(cls: type[_Record], data: Any, skip: tuple[str, ...] = ("extra",)) -> tuple[dict, dict]:
    """The values of `cls`'s fields found in `data` (a value of the wrong type takes the field's default) and
    the keys `cls` does not know, to be kept and written back."""
    data = data if isinstance(data, dict) else {}
    hints = typing.get_type_hints(cls)
    known: dict = {}
    names = set()
    for spec in fields(cls):
        if spec.name in skip:
            continue
        names.add(spec.name)
        if spec.name in data:
            value = data[spec.name]
            known[spec.name] = value if _fits(value, hints[spec.name]) else _default(spec)
    extra = {key: value for key, value in data.items() if key not in names and key not in skip}
    return known, extra


def json_dict(record: Any, skip: tuple[str, ...] = ("extra",)) -> dict:
    """A record's fields and its kept unknown keys, as the JSON object written to disk."""
    out = {spec.name: getattr(record, spec.name) for spec in fields(record) if spec.name not in skip}
    out.update(getattr(record, "extra", {}))
    return out


@dataclass
class RunRecord:
    """What the app knows about one training run (outputs/runs/<run-id>/run.json)."""

    run_id: str = ""
    dataset: str = ""
    model: str = ""  # a core.models.base key: flux2-klein-base-4b or selftest
    trigger: str = ""
    status: str = ""  # queued, running, stopping, stopped, completed, failed, interrupted ("" when never written)
    status_message: str = ""
    error: str | None = None  # the sentence of the last failure
    created_at: float | None = None
    queued_at: float | None = None  # queue order: an earlier queued run trains first
    spawned_at: float | None = None  # when the worker process was started
    started_at: float | None = None  # when the worker began training (after its turn came)
    updated_at: float | None = None  # the last status change
    finished_at: float | None = None
    total_steps: int = 0
    max_resolution: int | None = None
    step: int | None = None  # the last checkpoint's step when the run stopped, failed or finished
    form: dict = field(default_factory=dict)  # the training plan's form fields (core.training.config.TrainPlan)
    preview_prompts: list[str] = field(default_factory=list)
    cache_dir: str | None = None
    mflux_version: str | None = None
    dataset_fingerprint: dict | None = None  # the images and caption hashes the run started with
    pid: int | None = None  # the worker's process id
    worker_started: bool = False  # the worker has taken its lock
    stop_requested_at: float | None = None
    stop_grace: float | None = None  # seconds a Stop may take before the worker is ended
    forced: bool = False  # stopped by ending the worker, without a final save
    resume_from: str | None = None  # the checkpoint zip the next worker resumes
    resume_step: int | None = None
    resumed_from: int | None = None
    resumes: int = 0
    extra: dict = field(default_factory=dict, repr=False)  # keys this version does not know, written back unchanged

    @classmethod
    def from_dict(cls, data: Any) -> "RunRecord":
        """The record in a JSON object as any version wrote it (anything but an object reads as an empty record)."""
        known, extra = json_fields(cls, data)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        return json_dict(self)

    @classmethod
    def load(cls, path: Path) -> "RunRecord":
        """The record in `path`; a missing or unreadable file reads as an empty record."""
        return cls.from_dict(storage.read_json(path, default=None))

    def save(self, path: Path) -> "RunRecord":
        storage.write_json(path, self.to_dict())
        return self

    def update(self, **changes: Any) -> "RunRecord":
        """Set fields by name; a name that is no field is kept as an extra key."""
        names = {spec.name for spec in fields(self)} - {"extra"}
        for key, value in changes.items():
            if key in names:
                setattr(self, key, value)
            else:
                self.extra[key] = value
        return self
