"""A run's checkpoints: list them, read their zips safely, export the publishable adapter, choose one, and move
old ones to the trash (delete, keep-last-N) with the chosen one always kept.

mflux writes `mflux/checkpoints/NNNNNNN_checkpoint.zip` holding `NNNNNNN_adapter.safetensors` (the LoRA),
the optimizer state, the iterator, the loss history and the config. Only those members are accepted,
only the adapter is ever extracted, and only safetensors (never pickles) are read.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import storage
from core.models import adapters, lora_targets
from core.errors import AppError, CheckpointError, NotFound
from core.runs.paths import RunPaths, run_paths
from core.models.base import BASE_MODELS

_MEMBER = re.compile(r"^(\d{7})_(adapter\.safetensors|optimizer\.safetensors|iterator\.json|loss\.json|config\.json)$")
_PLAIN_MEMBERS = {"checkpoint.json", "run.json"}
MAX_MEMBER_BYTES = 8 << 30


@dataclass
class Checkpoint:
    step: int
    zip_path: str
    time: float
    loss: float | None
    previews: list[str] = field(default_factory=list)
    size_bytes: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ExportedAdapter:
    path: Path
    sha256: str
    step: int
    metadata: dict[str, str]

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "step": self.step, "metadata": self.metadata}


@dataclass
class Chosen:
    """The adapter to publish: the checkpoint picked in the Checkpoints tab (chosen.json), or an adapter file
    given by hand (then `step` is None)."""

    adapter_path: Path
    sha256: str
    step: int | None
    strength: float
    trigger: str | None = None
    run_id: str = ""
    chosen_at: float = 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "adapter_path": str(self.adapter_path)}


def _loss_by_step(paths: RunPaths) -> dict[int, float]:
    losses: dict[int, float] = {}
    if paths.events.is_file():
        for line in paths.events.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == "step" and isinstance(event.get("loss"), (int, float)):
                losses[int(event["step"])] = float(event["loss"])
    return losses


def _zip_loss(zip_path: Path, step: int) -> float | None:
    """The training loss at `step` from the zip's own loss history (mflux fills it when monitoring is on)."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            data = json.loads(archive.read(f"{step:07d}_loss.json"))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None
    for entry in data.get("step_loss", []):
        if entry.get("step") == step:
            return float(entry["loss"])
    return None


def list_checkpoints(paths: RunPaths) -> list[Checkpoint]:
    """Every checkpoint of the run, by step, with its loss and preview images when known."""
    events_loss = _loss_by_step(paths)
    previews = sorted(paths.preview_dir.glob("*_preview_image_*.png")) if paths.preview_dir.is_dir() else []
    found = []
    for step, zip_path in paths.checkpoint_zips():
        loss = events_loss.get(step)
        if loss is None:
            loss = _zip_loss(zip_path, step)
        stat = zip_path.stat()
        found.append(Checkpoint(
            step=step, zip_path=str(zip_path), time=stat.st_mtime, loss=loss, size_bytes=stat.st_size,
            previews=[str(p) for p in previews if p.name.startswith(f"{step:07d}_")],
        ))
    return found


def _checked_zip(zip_path: Path) -> zipfile.ZipFile:
    """Open a checkpoint zip and refuse anything mflux would not have written there."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(f"{Path(zip_path).name} is not a readable zip ({error}).",
                              "The checkpoint is damaged; pick another step or resume training from an earlier one.") from None
    for info in archive.infolist():
        name = info.filename
        unsafe = name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or "/" in name or "\\" in name
        if unsafe or not (_MEMBER.match(name) or name in _PLAIN_MEMBERS):
            archive.close()
            raise CheckpointError(f"{Path(zip_path).name} contains '{name}', which an mflux checkpoint never holds; it was not opened.",
                                  "Use checkpoints written by this app's training, or check where the file came from.")
        if info.file_size > MAX_MEMBER_BYTES:
            archive.close()
            raise CheckpointError(f"{Path(zip_path).name} has an implausibly large member '{name}'.", "The file is not a checkpoint; do not use it.")
    return archive


def checkpoint_zip(paths: RunPaths, step: int | None = None) -> tuple[int, Path]:
    zips = paths.checkpoint_zips()
    if not zips:
        raise NotFound(f"Run '{paths.run_id}' has no checkpoints yet.", "Wait for the first checkpoint, or train with a smaller save interval.")
    if step is None:
        return zips[-1]
    for found_step, path in zips:
        if found_step == step:
            return found_step, path
    raise NotFound(f"Run '{paths.run_id}' has no checkpoint at step {step}.", f"Steps with checkpoints: {', '.join(str(s) for s, _ in zips)}.")


def read_adapter_tensors(zip_path: Path, step: int) -> tuple[dict, dict[str, str]]:
    """The adapter tensors and metadata inside a checkpoint zip (read in memory; nothing else extracted)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    member = f"{step:07d}_adapter.safetensors"
    with _checked_zip(zip_path) as archive:
        try:
            data = archive.read(member)
        except KeyError:
            raise CheckpointError(f"{Path(zip_path).name} has no {member}.", "The checkpoint is incomplete; pick another step.") from None
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise CheckpointError(f"{Path(zip_path).name} is damaged ({error}).", "Pick another step.") from None
    try:
        tensors = load(data)
    except (SafetensorError, ValueError) as error:
        raise CheckpointError(f"The adapter in {Path(zip_path).name} is not a complete safetensors file ({error}).", "Pick another step.") from None
    return tensors, _safetensors_metadata(data)


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    return dict(header.get("__metadata__") or {})


def _run_facts(paths: RunPaths) -> tuple[str, str | None]:
    record = paths.read_record()
    model_key = record.model or (storage.read_json(paths.train_json, default={}) or {}).get("model") or "flux2-klein-base-4b"
    return model_key, record.trigger


def export_adapter(paths: RunPaths, step: int | None = None, *, trigger: str | None = None, out: Path | None = None) -> ExportedAdapter:
    """Write the publishable adapter of checkpoint `step` (default: the last) in diffusers/PEFT naming,
    validated against the run's model geometry, with metadata. Same checkpoint -> same bytes, same sha256."""
    import numpy as np

    step, zip_path = checkpoint_zip(paths, step)
    tensors, source_meta = read_adapter_tensors(zip_path, step)
    model_key, run_trigger = _run_facts(paths)
    trigger = trigger if trigger is not None else run_trigger
    renamed = {adapters.diffusers_key(key): np.ascontiguousarray(value) for key, value in tensors.items()}
    report = adapters.inspect_tensors(renamed, {}, str(zip_path), lora_targets.geometry_for(model_key))
    if not report.ok:
        raise adapters.AdapterError(f"Checkpoint {step} of run '{paths.run_id}': {report.problems[0]}", "Pick another step.")

    base = BASE_MODELS.get(model_key)
    metadata = {
        "format": "pt",
        "lora_format": "diffusers-peft",
        "base_model": (base.hf_repo if base and base.hf_repo else model_key),
        "base_model_key": model_key,
        "trigger_word": trigger or "",
        "rank": str(report.rank),
        "training_step": str(step),
        "run_id": paths.run_id,
        "mflux_version": source_meta.get("mflux_version", ""),
        "target_layers": str(report.layers),
    }
    data = adapters.safetensors_bytes(renamed, metadata)
    target = Path(out) if out else paths.adapters_dir / f"{paths.run_id}-step{step:07d}.safetensors"
    if target.is_dir():
        target = target / f"{paths.run_id}-step{step:07d}.safetensors"
    storage.write_bytes(target, data)
    return ExportedAdapter(path=target, sha256=adapters.sha256(target), step=step, metadata=metadata)


def adapter_path(paths: RunPaths, step: int) -> Path:
    """Where the exported adapter of checkpoint `step` is (or will be) written."""
    return paths.adapters_dir / f"{paths.run_id}-step{step:07d}.safetensors"


def extracted_adapter(paths: RunPaths, step: int) -> Path:
    """The exported (diffusers-named) adapter of `step`, written once and reused (e.g. by the grid)."""
    target = adapter_path(paths, step)
    if target.is_file():
        return target
    return export_adapter(paths, step).path


def choose(workspace, run_id: str, step: int, strength: float) -> Chosen:
    """Mark checkpoint `step` of the run, at LoRA `strength`, as the one to publish (exports it)."""
    if not 0 < float(strength) <= 4:
        raise AppError(f"A LoRA strength of {strength} is outside 0-4.", "Pick a strength like 1.0 or 1.5.")
    paths = run_paths(workspace, run_id, must_exist=True)
    exported = export_adapter(paths, step)
    previous = storage.read_json(paths.chosen_json, default=None)
    history = list((previous or {}).pop("history", []) if isinstance(previous, dict) else [])
    if isinstance(previous, dict) and previous:
        history.append(previous)
    chosen = Chosen(run_id=paths.run_id, step=exported.step, strength=float(strength), adapter_path=exported.path,
                    sha256=exported.sha256, trigger=exported.metadata["trigger_word"] or None, chosen_at=time.time())
    storage.write_json(paths.chosen_json, {**chosen.to_dict(), "history": history[-20:]})
    return chosen


def read_chosen(paths: RunPaths) -> Chosen | None:
    data = storage.read_json(paths.chosen_json, default=None)
    if not isinstance(data, dict) or "step" not in data:
        return None
    return Chosen(run_id=data.get("run_id", paths.run_id), step=int(data["step"]), strength=float(data["strength"]),
                  adapter_path=Path(data["adapter_path"]), sha256=data["sha256"], trigger=data.get("trigger"),
                  chosen_at=float(data.get("chosen_at", 0)))


@dataclass
class LoraChoice:
    """One LoRA Local Generate offers: a run's chosen checkpoint (with its strength) or a checkpoint of the run
    being looked at. `path` is the exported adapter's place; `ensure_adapter` exports it when it is not there yet."""

    label: str
    path: str
    run_id: str
    step: int
    chosen: bool
    strength: float | None = None  # the chosen strength

    def to_dict(self) -> dict:
        return asdict(self)


_ADAPTER_NAME = re.compile(r"^(?P<run>.+)-step(?P<step>\d{7})\.safetensors$")


def lora_choices(workspace, run_id: str | None = None) -> list[LoraChoice]:
    """The chosen checkpoint of every run (most recently chosen first), then every checkpoint of `run_id` (newest
    step first), each once; not every step of every run."""
    chosen = []
    for other in workspace.list_runs():
        found = read_chosen(RunPaths(workspace.runs_dir / other))
        if found is not None and found.step is not None:
            chosen.append(found)
    chosen.sort(key=lambda c: c.chosen_at, reverse=True)
    out = [LoraChoice(label=f"★ {c.run_id} · step {c.step} (chosen, strength {c.strength:g})", path=str(c.adapter_path),
                      run_id=c.run_id, step=int(c.step), chosen=True, strength=c.strength) for c in chosen]
    if run_id and (workspace.runs_dir / run_id).is_dir():
        paths = run_paths(workspace, run_id)
        listed = {choice.path for choice in out}
        for step, _ in reversed(paths.checkpoint_zips()):
            path = str(adapter_path(paths, step))
            if path not in listed:
                out.append(LoraChoice(label=f"{paths.run_id} · step {step}", path=path, run_id=paths.run_id, step=step, chosen=False))
    return out


def last_chosen(workspace) -> Chosen | None:
    """The checkpoint chosen most recently in any run."""
    found = [c for c in (read_chosen(RunPaths(workspace.runs_dir / r)) for r in workspace.list_runs()) if c is not None]
    return max(found, key=lambda c: c.chosen_at) if found else None


def ensure_adapter(workspace, path: str | Path) -> Path:
    """The adapter file at `path`; a run checkpoint's adapter that was listed but not exported yet is exported now."""
    path = Path(path)
    if path.is_file():
        return path
    match = _ADAPTER_NAME.match(path.name)
    runs_dir = workspace.runs_dir.resolve()
    if match and path.parent.name == "adapters" and path.parent.parent.parent.resolve() == runs_dir:
        paths = run_paths(workspace, path.parent.parent.name, must_exist=True)
        if match.group("run") == paths.run_id:
            return extracted_adapter(paths, int(match.group("step")))
    raise NotFound(f"There is no LoRA file at {path}.", "Pick one from the LoRA list (Checkpoints tab exports them).")


def exported_adapters(workspace) -> list[Path]:
    """Every adapter exported from any run of the workspace, newest first (for Local Generate's LoRA list)."""
    found = []
    for run_id in workspace.list_runs():
        folder = workspace.runs_dir / run_id / "adapters"
        if folder.is_dir():
            found.extend(p for p in folder.glob("*.safetensors") if p.is_file())
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


@dataclass
class RemovedCheckpoints:
    """What delete / prune moved out of a run: recoverable from `trash` (move a zip back into the run's
    mflux/checkpoints/ folder to restore it). Adapters exported from them stay where they are."""

    run_id: str
    removed: list[int]
    kept: list[int]
    protected: list[int]  # kept although asked for: the chosen checkpoint
    trash: list[str] = field(default_factory=list)
    bytes_moved: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if not self.removed:
            text = f"Nothing was removed from {self.run_id}; it keeps checkpoints {_steps(self.kept)}."
        else:
            folder = str(Path(self.trash[0]).parent) if self.trash else "the trash"
            text = (f"Moved checkpoint{'s' * (len(self.removed) != 1)} {_steps(self.removed)} of {self.run_id} "
                    f"({self.bytes_moved / 1e6:.1f} MB) to the trash: {folder}. It keeps {_steps(self.kept) or 'none'}; "
                    "to restore one, move its zip back into the run's mflux/checkpoints folder.")
        if self.protected:
            text += f" Step {_steps(self.protected)} is the chosen checkpoint and was kept."
        return text


def _steps(steps: list[int]) -> str:
    return ", ".join(str(s) for s in steps)


def _move_to_trash(workspace, paths: RunPaths, steps: list[int], protected: list[int]) -> RemovedCheckpoints:
    zips = dict(paths.checkpoint_zips())
    moved, trash = 0, []
    for step in steps:
        size = zips[step].stat().st_size
        trash.append(str(storage.move_to_trash(zips[step], workspace.trash_dir / paths.run_id)))
        moved += size
    kept = [step for step, _ in paths.checkpoint_zips()]
    return RemovedCheckpoints(run_id=paths.run_id, removed=list(steps), kept=kept, protected=protected, trash=trash,
                              bytes_moved=moved)


def delete_checkpoints(workspace, run_id: str, steps: list[int]) -> RemovedCheckpoints:
    """Move the checkpoints at `steps` to the workspace's trash (recoverable); the chosen one is never moved."""
    paths = run_paths(workspace, run_id, must_exist=True)
    available = [step for step, _ in paths.checkpoint_zips()]
    missing = [s for s in steps if s not in available]
    if missing:
        raise NotFound(f"Run '{paths.run_id}' has no checkpoint at step {missing[0]}.",
                       f"Steps with checkpoints: {_steps(available) or 'none'}.")
    chosen = read_chosen(paths)
    protected = [s for s in steps if chosen is not None and s == chosen.step]
    if protected and len(set(steps)) == 1:
        raise CheckpointError(f"Step {protected[0]} is the chosen checkpoint of {paths.run_id}, so it is kept.",
                              "Choose another checkpoint first (Checkpoints tab or `checkpoints choose`), then delete this one.")
    return _move_to_trash(workspace, paths, sorted(set(steps) - set(protected)), protected)


def prune_plan(paths: RunPaths, keep: int) -> tuple[list[int], list[int]]:
    """(steps that keep-last-`keep` would move to the trash, the chosen step it keeps besides)."""
    if int(keep) < 1:
        raise AppError(f"Keeping {keep} checkpoints would remove them all.", "Keep at least 1 (the newest).")
    available = [step for step, _ in paths.checkpoint_zips()]
    older = available[:-int(keep)] if len(available) > int(keep) else []
    chosen = read_chosen(paths)
    protected = [s for s in older if chosen is not None and s == chosen.step]
    return [s for s in older if s not in protected], protected


def prune_checkpoints(workspace, run_id: str, keep: int) -> RemovedCheckpoints:
    """Keep the newest `keep` checkpoints of the run (and the chosen one); move the older ones to the trash."""
    paths = run_paths(workspace, run_id, must_exist=True)
    older, protected = prune_plan(paths, keep)
    return _move_to_trash(workspace, paths, older, protected)
