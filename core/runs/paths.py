"""A training run's folder: what lives where, and its record (run.json).

    outputs/runs/<run-id>/
        train.json        the exact config handed to mflux (absolute paths)
        run.json          our record (core.runs.record.RunRecord): dataset, model key, trigger, status, steps, times, errors
        events.jsonl      structured progress events written by the training worker
        mflux/            mflux's checkpoint.output_path: checkpoints/, loss/, preview/
        data/             the compiled training set mflux trains on (train.json's `data`; core.training.compiled)
        compiled.json     its manifest: every sample's source picture, resolution and caption, the dataset's fingerprint
        encoded.json      what mflux actually encoded (file, caption, width, height), written by the worker
        chosen.json       the checkpoint and strength the person picked for publishing
        publish.json      the publish record (Hub commit, URL, Runware AIR, status)
        model_card.md     the model card draft the person edited (previous drafts in model_card.history/)

The files above, and the folders other rooms keep here (compare/, adapters/), are named by RunPaths;
a room's own subfolder (playground/, model_card.history/) is named in that room.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.runs.record import RunRecord
from core.workspace import Workspace

_CHECKPOINT_ZIP = re.compile(r"^(\d+)_checkpoint\.zip$")


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def workspace(self) -> Workspace:
        """The workspace the run folder lives in (<root>/outputs/runs/<run-id>)."""
        return Workspace(self.root.parent.parent.parent)

    @property
    def train_json(self) -> Path:
        return self.root / "train.json"

    @property
    def record_json(self) -> Path:
        return self.root / "run.json"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def mflux_dir(self) -> Path:
        return self.root / "mflux"

    @property
    def checkpoints_dir(self) -> Path:
        return self.mflux_dir / "checkpoints"

    @property
    def preview_dir(self) -> Path:
        return self.mflux_dir / "preview"

    @property
    def compiled_dir(self) -> Path:
        """The compiled training set (repeats, resolutions, trigger-only copies) that train.json's `data` names."""
        return self.root / "data"

    @property
    def manifest_json(self) -> Path:
        """The compiled set's manifest (core.training.compiled.Manifest)."""
        return self.root / "compiled.json"

    @property
    def encoded_json(self) -> Path:
        """The samples mflux encoded (written by the worker once encoding is done)."""
        return self.root / "encoded.json"

    @property
    def stop_request(self) -> Path:
        """Written by Stop; the training worker checks for it at every step boundary."""
        return self.root / "stop.request"

    @property
    def worker_lock(self) -> Path:
        """Held (flock) by the training worker for as long as it lives."""
        return self.root / "worker.lock"

    @property
    def worker_log(self) -> Path:
        """The worker's stdout/stderr (mflux's own messages, tracebacks)."""
        return self.root / "worker.log"

    @property
    def captions_dir(self) -> Path:
        """The captions as trained (a copy taken at start)."""
        return self.root / "captions"

    @property
    def chosen_json(self) -> Path:
        return self.root / "chosen.json"

    @property
    def publish_json(self) -> Path:
        return self.root / "publish.json"

    @property
    def model_card_draft(self) -> Path:
        """The model card as the person edited it before publishing (README.md of the Hub repo)."""
        return self.root / "model_card.md"

    @property
    def adapters_dir(self) -> Path:
        """Adapters extracted from checkpoints and exported for publishing (checkpoints room)."""
        return self.root / "adapters"

    @property
    def compare_dir(self) -> Path:
        """Comparison grids of this run's checkpoints (checkpoints room)."""
        return self.root / "compare"

    def checkpoint_zips(self) -> list[tuple[int, Path]]:
        """(step, zip path) of every mflux checkpoint of the run, by step."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = []
        for path in self.checkpoints_dir.iterdir():
            match = _CHECKPOINT_ZIP.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
        return sorted(found)

    def read_record(self) -> RunRecord:
        return RunRecord.load(self.record_json)

    def write_record(self, record: RunRecord) -> None:
        record.save(self.record_json)

    def update_record(self, **changes) -> RunRecord:
        return self.read_record().update(**changes).save(self.record_json)


def run_paths(workspace: Workspace, run_id: str, must_exist: bool = False) -> RunPaths:
    return RunPaths(workspace.run_dir(run_id, must_exist=must_exist))
