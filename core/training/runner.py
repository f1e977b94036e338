"""A training run's life: start a worker process, stop it (saving), resume it, read its status.

The worker (`python -m core.training.worker RUN_DIR`) runs in its own session, so closing the app
or pressing Ctrl+C in its terminal does not end a training; reopening the app finds it again.
Every status read reconciles the record with reality (core.runs.state).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import storage
from core.dataset import preview_prompts
from core.runs import events as run_events, state as run_state
from core.training import checks as train_checks, compiled, config as train_config
from core.errors import NotFound, TrainingError
from core.runs.paths import run_paths, RunPaths
from core.runs.record import RunRecord
from core.settings import PROJECT_ROOT, Settings
from core.workspace import Workspace
from core.models import selftest_model


@dataclass
class RunStatus:
    run_id: str
    status: str
    message: str
    dataset: str
    model: str
    trigger: str
    step: int
    total: int
    final_loss: float | None
    seconds_per_step: float | None
    eta_seconds: float | None
    checkpoints: list[int]
    previews: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    created_at: float | None = None
    resumable: bool = False

    @property
    def active(self) -> bool:
        return self.status in run_state.ACTIVE

    def to_dict(self) -> dict:
        return {**asdict(self), "active": self.active}

    def summary(self) -> str:
        progress = f"step {self.step}/{self.total}" if self.total else "not started"
        loss = f", loss {self.final_loss:.4f}" if self.final_loss is not None else ""
        return f"{self.run_id}: {self.status} ({progress}{loss}). {self.message}".strip()


def status(workspace: Workspace, run_id: str) -> RunStatus:
    paths = run_paths(workspace, run_id, must_exist=True)
    return _status_of(paths, run_state.reconcile(paths))


def _status_of(paths: RunPaths, record: RunRecord) -> RunStatus:
    line = run_events.timeline(run_events.read_all(paths))
    checkpoints = [step for step, _ in run_state.valid_checkpoints(paths)]
    state = record.status or "unknown"
    total = line.total or record.total_steps
    return RunStatus(
        run_id=paths.run_id,
        status=state,
        message=record.status_message,
        dataset=record.dataset,
        model=record.model,
        trigger=record.trigger,
        step=line.step,
        total=total,
        final_loss=line.losses[-1] if line.losses else None,
        seconds_per_step=line.seconds_per_step,
        eta_seconds=line.eta_seconds if state in run_state.ACTIVE else None,
        checkpoints=checkpoints,
        previews=line.previews,
        errors=line.errors,
        created_at=record.created_at,
        resumable=state in ("stopped", "interrupted", "failed") and bool(checkpoints),
    )


def list_runs(workspace: Workspace) -> list[RunStatus]:
    """Every run, newest first, with its reconciled status."""
    out = []
    for run_id in workspace.list_runs():
        paths = RunPaths(workspace.runs_dir / run_id)
        if not paths.record_json.is_file():
            continue
        out.append(_status_of(paths, run_state.reconcile(paths)))
    return out


def active_runs(workspace: Workspace) -> list[RunStatus]:
    return [run for run in list_runs(workspace) if run.active]


def check(workspace: Workspace, settings: Settings, plan: train_config.TrainPlan, *,
          memory_gb: float | None = None) -> train_checks.Validation:
    """The Check of `plan` on this machine: its MLX backend, and the speeds its earlier runs measured (steps of the
    same model and resolution, preview images of the same size) for the ETA. The page, the CLI and Start use it."""
    if plan.model == "selftest":
        selftest_model.ensure(settings.cache_dir)
    config = plan.config(workspace, settings.cache_dir)
    return train_checks.validate(
        plan, workspace, cache_dir=settings.cache_dir, memory_gb=memory_gb,
        history=measured_seconds_per_step(workspace, plan.model, plan.top_resolution, compiled.resolutions_of(plan)),
        preview_history=measured_preview_seconds(workspace, plan.model, config))


def measured_seconds_per_step(workspace: Workspace, model: str, resolution: int | None,
                              resolutions: list[int] | None = None) -> list[float]:
    """Seconds per step of this machine's past runs with the same model and resolution(s) (for the ETA)."""
    found = []
    for run in list_runs(workspace)[:20]:
        record = run_paths(workspace, run.run_id).read_record()
        trained = sorted(record.form.get("resolutions") or [record.max_resolution])
        same = record.max_resolution == resolution and (resolutions is None or trained == sorted(resolutions))
        if run.model == model and same and run.seconds_per_step:
            found.append(run.seconds_per_step)
    return found


def measured_preview_seconds(workspace: Workspace, model: str, config: dict) -> list[float]:
    """Seconds per preview image of this machine's past runs with the same model, preview size and sampling
    steps as `config` (for the ETA; the worker records each preview's time)."""
    def shape(train_json: dict) -> tuple:
        monitoring = train_json.get("monitoring") or {}
        return monitoring.get("preview_width"), monitoring.get("preview_height"), train_json.get("steps")

    wanted = shape(config)
    found: list[float] = []
    for run in list_runs(workspace)[:20]:
        if run.model != model:
            continue
        paths = run_paths(workspace, run.run_id)
        train_json = storage.read_json(paths.train_json)
        if not isinstance(train_json, dict) or shape(train_json) != wanted:
            continue
        found += [float(e["seconds"]) for e in run_events.read_all(paths)
                  if e.get("type") == "preview" and isinstance(e.get("seconds"), (int, float)) and e["seconds"] > 0]
    return found[-50:]


def dataset_fingerprint(images_dir: Path) -> dict:
    """The image names, sizes and caption hashes the run was started with."""
    return compiled.fingerprint(images_dir)


def start(
    workspace: Workspace,
    settings: Settings,
    plan: train_config.TrainPlan,
    *,
    queue: bool = False,
) -> RunStatus:
    """Check the plan, create the run folder and start its worker (queued behind running ones when `queue`)."""
    workspace.ensure()
    run_state.reconcile_all(workspace)
    config = plan.config(workspace, settings.cache_dir)
    validation = check(workspace, settings, plan)
    if validation.errors:
        more = f" ({len(validation.errors) - 1} more problem(s) in the check.)" if len(validation.errors) > 1 else ""
        raise TrainingError(validation.errors[0] + more, "Fix it and press Start again; nothing was started.")
    busy = active_runs(workspace)
    if busy and not queue:
        raise TrainingError(
            f"A training is already running ({busy[0].run_id}, {busy[0].status}).",
            "Wait for it, stop it, or use 'Add to queue' to run this one after it.",
        )
    images_dir = workspace.dataset_images_dir(plan.dataset)
    if plan.preview_prompts:
        preview_prompts.write(images_dir, plan.preview_prompts, workspace.trash_dir)
    paths = run_paths(workspace, workspace.new_run_id(plan.dataset))
    paths.root.mkdir(parents=True)
    try:  # mflux trains on the compiled set, never on the person's dataset folder
        manifest = compiled.compile_set(workspace, plan, paths.compiled_dir, paths.manifest_json)
    except BaseException:
        shutil.rmtree(paths.root, ignore_errors=True)  # our own new folder: nothing of the person's is in it
        raise
    final = copy.deepcopy(config)
    final["data"] = str(paths.compiled_dir.resolve())
    final.setdefault("checkpoint", {})["output_path"] = str(paths.mflux_dir.resolve())
    total = validation.estimate.iterations if validation.estimate else 0
    optimizer = final.get("optimizer") or {}
    if optimizer.get("lr_schedule") == "cosine" and not optimizer.get("lr_total_steps"):
        optimizer["lr_total_steps"] = total
    storage.write_json(paths.train_json, final)
    _snapshot_captions(images_dir, paths)
    now = time.time()
    paths.write_record(RunRecord(
        run_id=paths.run_id, dataset=plan.dataset, model=plan.model, trigger=plan.trigger,
        status="queued", status_message="Starting.", created_at=now, queued_at=now,
        total_steps=total, max_resolution=final.get("max_resolution"), form=plan.to_dict(),
        cache_dir=str(settings.cache_dir), mflux_version=_mflux_version(),
        dataset_fingerprint=manifest.fingerprint, preview_prompts=preview_prompts.read(images_dir),
    ))
    run_events.emit(paths, "status", status="queued", message="Starting.")
    _spawn(paths)
    return status(workspace, paths.run_id)


def _mflux_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("mflux")
    except importlib.metadata.PackageNotFoundError:
        return None


def _snapshot_captions(images_dir: Path, paths: RunPaths) -> None:
    paths.captions_dir.mkdir(parents=True, exist_ok=True)
    for caption in sorted(Path(images_dir).glob("*.txt")):
        shutil.copy2(caption, paths.captions_dir / caption.name)


def _spawn(paths: RunPaths) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    with open(paths.worker_log, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.training.worker", str(paths.root)],
            cwd=str(paths.root), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl+C in the app's terminal or closing the app does not end the training
        )
    paths.update_record(pid=process.pid, spawned_at=time.time(), worker_started=False)
    threading.Thread(target=process.wait, name=f"reap-{paths.run_id}", daemon=True).start()  # no zombies


def stop(workspace: Workspace, run_id: str, *, force: bool = False, grace: float = run_state.STOP_GRACE_SECONDS) -> RunStatus:
    """Ask the worker to save a checkpoint at the next step and exit; a second Stop (or `force`) ends it at once."""
    paths = run_paths(workspace, run_id, must_exist=True)
    record = run_state.reconcile(paths)
    current = record.status
    if current not in run_state.ACTIVE:
        raise TrainingError(f"Run {run_id} is not running (it is {current}).", "Nothing to stop.")
    if force or current == "stopping":
        run_state.kill_worker(paths, record)
        paths.stop_request.unlink(missing_ok=True)
        if paths.read_record().status in run_state.ACTIVE:
            run_state.mark_stopped(paths, forced=True)
        return status(workspace, run_id)
    storage.write_text(paths.stop_request, f"{time.time()}\n")
    if current == "running":
        run_state.set_status(paths, "stopping", "Stopping at the next step; a checkpoint is saved first.",
                             stop_requested_at=time.time(), stop_grace=grace)
    return status(workspace, run_id)


def wait(workspace: Workspace, run_id: str, timeout: float | None = None, poll: float = 0.5, on_event=None) -> RunStatus:
    """Block until the run is no longer active (or `timeout`); `on_event(event)` sees each new event."""
    paths = run_paths(workspace, run_id, must_exist=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    offset = 0
    while True:
        events, offset = run_events.read(paths, offset)
        if on_event is not None:
            for event in events:
                on_event(event)
        record = run_state.reconcile(paths)
        if record.status not in run_state.ACTIVE:
            events, offset = run_events.read(paths, offset)
            if on_event is not None:
                for event in events:
                    on_event(event)
            return status(workspace, run_id)
        if deadline is not None and time.monotonic() > deadline:
            return status(workspace, run_id)
        time.sleep(poll)


def resume(workspace: Workspace, run_id: str, *, step: int | None = None, queue: bool = False) -> RunStatus:
    """Continue a stopped, interrupted or failed run from a checkpoint (the latest, or `step`), same step count."""
    paths = run_paths(workspace, run_id, must_exist=True)
    record = run_state.reconcile(paths)
    current = record.status
    if current in run_state.ACTIVE:
        raise TrainingError(f"Run {run_id} is still {current}.", "Stop it first, or wait for it to finish.")
    for step_number, zip_path in paths.checkpoint_zips():  # cut by a kill during a save: set aside
        if (step_number, zip_path) not in run_state.valid_checkpoints(paths):
            storage.move_to_trash(zip_path, workspace.trash_dir / run_id)
    zips = dict(run_state.valid_checkpoints(paths))
    if not zips:
        raise TrainingError(f"Run {run_id} has no checkpoint to resume from.", "Start it again with the same settings (Re-run).")
    chosen = max(zips) if step is None else step
    if chosen not in zips:
        raise NotFound(f"Run {run_id} has no checkpoint at step {step}.", f"Checkpoints: {', '.join(map(str, sorted(zips)))}.")
    total = record.total_steps
    if current == "completed" and chosen >= total:
        raise TrainingError(f"Run {run_id} already finished all {total} steps.", "Pick an earlier checkpoint, or re-run with more epochs.")
    busy = active_runs(workspace)
    if busy and not queue:
        raise TrainingError(f"A training is already running ({busy[0].run_id}).", "Wait for it, stop it, or add this resume to the queue.")
    for later, zip_path in paths.checkpoint_zips():  # they will be redone: keep the old ones recoverable
        if later > chosen:
            storage.move_to_trash(zip_path, workspace.trash_dir / run_id)
    if paths.preview_dir.is_dir():
        for image in paths.preview_dir.glob("*_preview_image_*.png"):
            if image.name[:7].isdigit() and int(image.name[:7]) > chosen:
                storage.move_to_trash(image, workspace.trash_dir / run_id)
    paths.stop_request.unlink(missing_ok=True)
    now = time.time()
    paths.update_record(resume_from=str(zips[chosen].resolve()), resume_step=chosen, queued_at=now, stop_requested_at=None,
                        error=None, resumes=record.resumes + 1)
    run_state.set_status(paths, "queued", f"Resuming from step {chosen}.")
    _spawn(paths)
    return status(workspace, run_id)


def load_run_config(workspace: Workspace, run_id: str) -> train_config.TrainPlan:
    """A run's plan, its raw the run's exact train.json, to re-run with changes (paths are reset for the new run)."""
    paths = run_paths(workspace, run_id, must_exist=True)
    config = storage.read_json(paths.train_json)
    if not isinstance(config, dict):
        raise TrainingError(f"Run {run_id} has no readable train.json.", "Start from a preset instead.")
    record = paths.read_record()
    saved = train_config.TrainPlan.from_dict(record.form)
    config.setdefault("checkpoint", {})["output_path"] = train_config.PLACEHOLDER
    plan = train_config.TrainPlan.from_config(config, saved.dataset or record.dataset, saved.trigger or record.trigger,
                                              record.preview_prompts or saved.preview_prompts)
    plan.model = record.model or plan.model
    plan.resolutions, plan.trigger_only = list(saved.resolutions or []), saved.trigger_only
    return plan


def train_json_of(workspace: Workspace, run_id: str) -> dict | None:
    """The exact train.json a run was started with (None when missing or unreadable)."""
    config = storage.read_json(run_paths(workspace, run_id, must_exist=True).train_json)
    return config if isinstance(config, dict) else None
