"""A run's publish record (publish.json): every version published, as typed dataclasses.

    record = PublishRecord.load(paths.publish_json)   # missing, damaged or foreign: no versions
    record.versions[-1].commit, record.ready_air()
    save_version(paths, version)                      # how publish and the Runware registration write

One PublishedVersion per (repo, adapter sha256): its Hub commit and pinned URL, and its Runware AIR and
status. Each stage of a publish saves the version at once, so a retry continues where the last one ended.
Keys this version does not know (in a version or at the top) are kept and written back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import storage
from core.runs.paths import RunPaths
from core.runs.record import json_fields


@dataclass
class PublishedVersion:
    """One adapter published to one Hub repo, and its Runware model. Unset fields are None (not written)."""

    id: str = ""  # "<repo_id>@<sha256[:12]>"
    repo_id: str = ""
    sha256: str = ""  # of the adapter file
    started: str = ""  # local time, ISO 8601: the versions are kept in this order
    step: int | None = None  # the checkpoint's step; None for an adapter given by hand
    strength: float | None = None
    trigger: str | None = None
    files: list | None = None  # path, bytes and sha256 of each file of the commit
    account: str | None = None  # the Hub account that published
    error: str | None = None  # the Hub failure's sentence
    private: bool | None = None
    repo_url: str | None = None
    hub_status: str | None = None  # "repo ready", "committed" or "failed"
    commit: str | None = None
    commit_url: str | None = None
    url: str | None = None  # the adapter's download URL, pinned to the commit
    committed: str | None = None
    finished: str | None = None
    air: str | None = None  # the Runware AIR, source:id@version
    runware_status: str | None = None  # skipped, blocked, pending, ready, failed, or what Runware reported
    runware_message: str | None = None
    runware_stage: str | None = None  # the last stage Runware reported
    runware_url: str | None = None
    architecture: str | None = None  # the architecture Runware was told
    architecture_source: str | None = None
    selftest: bool | None = None  # a self-test adapter (tiny random model), published labelled as one
    extra: dict = field(default_factory=dict, repr=False)  # keys this version does not know, written back unchanged

    @classmethod
    def from_dict(cls, data: Any) -> "PublishedVersion":
        known, extra = json_fields(cls, data)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        """The JSON object of the version: set fields and kept unknown keys (None fields are left out)."""
        out = {name: value for name, value in vars(self).items() if name != "extra" and value is not None}
        out.update(self.extra)
        return out

    def update(self, **changes: Any) -> "PublishedVersion":
        """Set fields by name; a name that is no field is kept as an extra key."""
        for key, value in changes.items():
            if key in self.__dataclass_fields__ and key != "extra":
                setattr(self, key, value)
            else:
                self.extra[key] = value
        return self


@dataclass
class PublishRecord:
    """A run's published versions, oldest first."""

    versions: list[PublishedVersion] = field(default_factory=list)
    extra: dict = field(default_factory=dict, repr=False)  # top-level keys this version does not know
    damaged: bool = field(default=False, compare=False)  # the file exists but is not a publish record

    @classmethod
    def from_dict(cls, data: Any) -> "PublishRecord":
        """A JSON object with a `versions` list (entries that are not objects are dropped); anything else reads
        as a damaged record without versions."""
        if not isinstance(data, dict) or not isinstance(data.get("versions"), list):
            return cls(damaged=True)
        versions = [PublishedVersion.from_dict(v) for v in data["versions"] if isinstance(v, dict)]
        return cls(versions=versions, extra={key: value for key, value in data.items() if key != "versions"})

    def to_dict(self) -> dict:
        return {"versions": [v.to_dict() for v in self.versions], **self.extra}

    @classmethod
    def load(cls, path: Path) -> "PublishRecord":
        """The record in `path`; a missing file reads as no versions, a damaged or foreign one too (marked damaged)."""
        if not Path(path).exists():
            return cls()
        return cls.from_dict(storage.read_json(path, default=None))

    def save(self, path: Path) -> None:
        storage.write_json(path, self.to_dict())

    def put(self, version: PublishedVersion) -> None:
        """Add `version`, replacing the one of the same id; versions stay in the order they were started."""
        versions = [v for v in self.versions if v.id != version.id] + [version]
        self.versions = sorted(versions, key=lambda v: v.started)

    def find(self, repo_id: str, sha256: str) -> PublishedVersion | None:
        """The version of this adapter in this repo, if it was published (or tried) before."""
        for version in self.versions:
            if version.repo_id == repo_id and version.sha256 == sha256:
                return version
        return None

    def newest_air(self) -> str | None:
        """The AIR of the newest version sent to Runware, whatever its status, or None."""
        airs = [v.air for v in self.versions if v.air]
        return airs[-1] if airs else None

    def ready_air(self) -> str | None:
        """The AIR of the newest version that Runware reported ready, or None."""
        ready = [v.air for v in self.versions if v.air and v.runware_status == "ready"]
        return ready[-1] if ready else None


def read_record(paths: RunPaths) -> PublishRecord:
    """The run's publish record; a missing, damaged or foreign file reads as no versions (it is rewritten whole
    on the next publish, its old content kept in the trash first)."""
    return PublishRecord.load(paths.publish_json)


def save_version(paths: RunPaths, version: PublishedVersion) -> None:
    """Write `version` into the run's publish record, replacing the one of the same id. A publish.json that
    cannot be read as a record is moved to the workspace's trash first, so nothing is overwritten unseen."""
    record = read_record(paths)
    if record.damaged:
        storage.move_to_trash(paths.publish_json, paths.workspace.trash_dir)  # keep what we cannot read
    record.put(version)
    record.save(paths.publish_json)
