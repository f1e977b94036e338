"""The training worker: `python -m core.training.worker RUN_DIR`.

One process per run, started by core.training. It waits its turn (queue order, then the heavy slot),
runs mflux's TrainingRunner on the run's train.json (or resumes a checkpoint zip) and writes
structured events to the run folder. It never parses mflux's text: it wraps four mflux methods.

- `Iterator.__next__`: the step boundary. A `stop.request` file there raises mflux's
  StopTrainingException, and TrainingRunner saves a checkpoint for the current step.
- `TrainingTrainer._step_is_finite(loss)`: sees each step's loss (mflux evaluates it right after).
- `TrainingState.should_save`: called once per finished step, after the optimizer update and any
  previews: the `step` event (step, total, loss, seconds per step, ETA with the previews still to come).
- `TrainingState.save` / `TrainingTrainer._generate_previews_with_optimizer_offload`: the
  `checkpoint` and `preview` events (with the seconds each preview image took), after the files exist.
- `Flux2TrainingAdapter.encode_data`: each sample mflux encodes (file, caption, size, latent shape), written to
  `encoded.json` when the first batch is drawn: what the run really learned from, beside the compiled set's manifest.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from core.errors import describe, TrainingDataChanged, TrainingDiskFull, TrainingFailed, TrainingOutOfMemory
from core.runs import events as run_events, state as run_state
from core.runs.paths import RunPaths
from core.runs.record import RunRecord
from core.training import estimates as train_estimates
from core.workspace import Workspace
from core import jobs, storage
from core.models import base as models
from core.settings import load_settings

log = logging.getLogger("core.training.worker")


def say(line: str) -> None:
    """A line for worker.log (the worker's stdout and stderr go there), below mflux's progress bar."""
    print(f"\n{line}", file=sys.stderr, flush=True)


class StopWatch:
    """Per-step timing with a smoothed seconds-per-step, and per-preview-image timing, for the ETA.

    Preview rendering is timed apart (`paused`) so a step that renders previews does not count them as step time;
    the ETA adds the previews still to come at their own measured cost."""

    def __init__(self, preview_seconds: float | None = None) -> None:
        self.last = time.perf_counter()
        self.paused = 0.0
        self.seconds_per_step: float | None = None
        self.seconds_per_preview: float | None = preview_seconds

    def restart(self) -> None:
        self.last = time.perf_counter()
        self.paused = 0.0

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed = max(0.0, now - self.last - self.paused)
        self.last, self.paused = now, 0.0
        self.seconds_per_step = elapsed if self.seconds_per_step is None else 0.7 * self.seconds_per_step + 0.3 * elapsed
        return elapsed

    def previews_took(self, seconds: float, images: int) -> float:
        """Record one round of previews; returns the seconds per image."""
        self.paused += seconds
        each = seconds / max(1, images)
        self.seconds_per_preview = each if self.seconds_per_preview is None else 0.5 * self.seconds_per_preview + 0.5 * each
        return each

    def eta(self, step: int, total: int, preview_every: int | None, prompt_count: int) -> float | None:
        if not self.seconds_per_step:
            return None
        eta = self.seconds_per_step * max(0, total - step)
        if self.seconds_per_preview:
            eta += self.seconds_per_preview * train_estimates.previews_left(preview_every, prompt_count, step, total)
        return eta


def earlier_preview_seconds(paths: RunPaths) -> float | None:
    """The per-image preview time measured before a resume (the step-0 previews are not rendered again)."""
    measured = [e["seconds"] for e in run_events.read_all(paths)
                if e.get("type") == "preview" and isinstance(e.get("seconds"), (int, float))]
    return measured[-1] if measured else None


class _AtomicZipModule:
    """Stands in for `zipfile` inside mflux's training_state: a checkpoint zip is written beside its
    final name and renamed when complete, so a kill mid-save never leaves a cut checkpoint. Its members are
    stored, not deflated: the float weights and optimizer state barely compress, and deflating a real-size
    checkpoint (266 MB) took about 15 s per save (FACTS.md 3c); mflux's resume reads stored members alike."""

    def __init__(self) -> None:
        import zipfile

        self._zipfile = zipfile

    def __getattr__(self, name):
        return getattr(self._zipfile, name)

    def ZipFile(self, file, mode="r", *args, **kwargs):  # noqa: N802 (mirrors zipfile.ZipFile)
        zipfile = self._zipfile
        if mode != "w" or not isinstance(file, (str, os.PathLike)):
            return zipfile.ZipFile(file, mode, *args, **kwargs)
        final = Path(file)
        partial = final.with_name(f".{final.name}.partial")
        if args:  # mflux passes the compression positionally: ZipFile(path, "w", ZIP_DEFLATED)
            args = (zipfile.ZIP_STORED, *args[1:])
        else:
            kwargs["compression"] = zipfile.ZIP_STORED

        class AtomicZipFile(zipfile.ZipFile):
            def close(self) -> None:
                super().close()
                if partial.exists():
                    with open(partial, "rb+") as handle:
                        os.fsync(handle.fileno())
                    os.replace(partial, final)

        return AtomicZipFile(partial, mode, *args, **kwargs)


def install_hooks(paths: RunPaths) -> None:
    import mflux.models.common.training.state.training_state as training_state_module
    from mflux.models.common.training.dataset.iterator import Iterator
    from mflux.models.common.training.state.training_state import TrainingState
    from mflux.models.common.training.trainer import TrainingTrainer
    from mflux.utils.exceptions import StopTrainingException

    from mflux.models.flux2.training_adapter.flux2_training_adapter import Flux2TrainingAdapter

    watch = StopWatch(earlier_preview_seconds(paths))
    seen = {"loss": None, "first": True}
    encoded: list[dict] = []

    original_encode = Flux2TrainingAdapter.encode_data

    def encode_data(self, *, data_id, image_path, prompt, width, height, input_image_path=None):
        latents, cond = original_encode(self, data_id=data_id, image_path=image_path, prompt=prompt, width=width,
                                        height=height, input_image_path=input_image_path)
        encoded.append({"data_id": data_id, "file": Path(image_path).name, "caption": prompt, "width": int(width),
                        "height": int(height), "latent_shape": [int(n) for n in latents.shape]})
        return latents, cond

    original_next = Iterator.__next__

    def next_batch(self):
        if paths.stop_request.exists():
            raise StopTrainingException(f"Stopped by request at step {self.num_iterations}")
        if seen["first"]:
            if encoded:
                storage.write_json(paths.encoded_json, {"samples": encoded})
            watch.restart()  # do not count model loading and step-0 previews
            seen["first"] = False
            paths.update_record(status_message="Training.")
        return original_next(self)

    original_finite = TrainingTrainer._step_is_finite

    def step_is_finite(loss):
        finite = original_finite(loss)
        seen["loss"] = float(loss.item()) if finite else None
        return finite

    original_should_save = TrainingState.should_save

    def should_save(self, training_spec):
        step, total = self.iterator.num_iterations, self.iterator.total_number_of_steps()
        watch.lap()
        per_step = watch.seconds_per_step
        monitoring = training_spec.monitoring
        every = monitoring.generate_image_frequency if monitoring is not None else None
        prompts = len(monitoring.preview_prompts or []) if monitoring is not None else 0
        eta = watch.eta(step, total, every, prompts)
        run_events.emit(
            paths, "step", step=step, total=total, loss=seen["loss"],
            seconds_per_step=round(per_step, 4) if per_step else None,
            eta_seconds=round(eta, 1) if eta is not None else None,
        )
        return original_should_save(self, training_spec)

    original_save = TrainingState.save

    def save(self, adapter, training_spec):
        step = self.iterator.num_iterations
        if seen.get("saved") == step:
            return  # mflux's final save (or a Stop's) at the step just saved periodically: the same zip again
        started = time.perf_counter()
        original_save(self, adapter, training_spec)
        seen["saved"] = step
        took = time.perf_counter() - started
        watch.paused += took  # saving time is not step time
        path = Path(training_spec.checkpoint.output_path) / "checkpoints" / f"{step:07d}_checkpoint.zip"
        say(f"Saved the checkpoint of step {step} in {took:.1f} s.")
        run_events.emit(paths, "checkpoint", step=step, path=str(path.resolve()))

    original_previews = TrainingTrainer._generate_previews_with_optimizer_offload

    def previews(adapter, training_spec, training_state):
        began = time.perf_counter()
        original_previews(adapter, training_spec, training_state)
        took = time.perf_counter() - began
        step = training_state.iterator.num_iterations
        folder = Path(training_spec.checkpoint.output_path) / "preview"
        images = sorted(folder.glob(f"{step:07d}_preview_image_*.png"))
        each = watch.previews_took(took, len(images))  # preview time is not step time; the ETA adds it apart
        for image in images:
            name = image.stem.split("_preview_image_", 1)[-1]
            run_events.emit(paths, "preview", step=step, path=str(image.resolve()), name=name, seconds=round(each, 2))

    training_state_module.zipfile = _AtomicZipModule()
    Iterator.__next__ = next_batch
    TrainingTrainer._step_is_finite = staticmethod(step_is_finite)
    TrainingState.should_save = should_save
    Flux2TrainingAdapter.encode_data = encode_data
    TrainingState.save = save
    TrainingTrainer._generate_previews_with_optimizer_offload = staticmethod(previews)


def _peak_memory_gb() -> float:
    import mlx.core as mx

    return mx.get_peak_memory() / 1e9


def wait_turn(paths: RunPaths, workspace: Workspace, record: RunRecord):
    """Wait until no earlier queued run is waiting and the heavy slot is free; returns the held slot's context."""
    queued_at = record.queued_at or 0
    said = None
    while True:
        if paths.stop_request.exists():
            return None
        ahead = [
            other for other in workspace.list_runs()
            if other != paths.run_id and _waiting_before(RunPaths(workspace.runs_dir / other), queued_at)
        ]
        if not ahead:
            slot = jobs.heavy_slot(workspace, "train", f"Training {paths.run_id}", wait=0)
            try:
                slot.__enter__()
                return slot
            except jobs.Busy:
                holder = jobs.holder(workspace) or {}
                message = f"Waiting for {holder.get('label') or 'another job'} to finish."
        else:
            message = f"Queued behind {len(ahead)} earlier training(s)."
        if message != said:
            run_events.emit(paths, "status", status="queued", message=message)
            paths.update_record(status_message=message)
            said = message
        time.sleep(1.0)


def _waiting_before(other: RunPaths, queued_at: float) -> bool:
    record = other.read_record()
    return (
        record.status == "queued"
        and (record.queued_at or 0) < queued_at
        and run_state.is_live(other, record)
    )


def translate(error: BaseException) -> TrainingFailed:
    """Our typed TrainingFailed for whatever stopped the training (mflux, MLX, the system); its sentence is in
    core.errors."""
    text = str(error)
    lowered = text.lower()
    if isinstance(error, MemoryError) or "out of memory" in lowered or "insufficient memory" in lowered:
        return TrainingOutOfMemory(detail=text)
    if isinstance(error, OSError) and getattr(error, "errno", None) == 28:
        return TrainingDiskFull(detail=text)
    if "fingerprint" in lowered or "data root" in lowered:
        return TrainingDataChanged(detail=text)
    return TrainingFailed(detail=text)


def _terminate(signum, frame):
    raise KeyboardInterrupt()  # a forced Stop: record "stopped" on the way out


def run(run_dir: Path) -> int:
    paths = RunPaths(Path(run_dir).resolve())
    workspace = Workspace(paths.root.parent.parent.parent)
    lock = open(paths.worker_lock, "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("another worker already runs this run", file=sys.stderr)
        return 2
    record = paths.update_record(worker_started=True, pid=os.getpid())
    signal.signal(signal.SIGTERM, _terminate)
    slot = None
    try:
        slot = wait_turn(paths, workspace, record)
        if slot is None:
            paths.stop_request.unlink(missing_ok=True)
            run_state.set_status(paths, "stopped", "Stopped before it started; nothing was trained.")
            return 0
        resume_from = record.resume_from
        start_step = record.resume_step or 0
        run_state.set_status(
            paths, "running", f"Resuming from step {start_step}." if resume_from else "Loading the model.",
            started_at=time.time(), **({"resumed_from": start_step} if resume_from else {}),
        )

        model = models.resolve(record.model or "flux2-klein-base-4b", for_training=True)
        models.prepare(model, Path(record.cache_dir or load_settings(export=False).cache_dir))
        install_hooks(paths)
        from mflux.models.common.training.runner import TrainingRunner
        from mflux.utils.exceptions import StopTrainingException

        try:
            if resume_from:
                TrainingRunner.train(config_path=None, resume_path=str(resume_from))
            else:
                TrainingRunner.train(config_path=str(paths.train_json), resume_path=None)
        except StopTrainingException:
            run_state.mark_stopped(paths, finished_at=time.time())
            return 0
        last = run_state.last_checkpoint(paths)
        say(f"Peak MLX memory: {_peak_memory_gb():.1f} GB.")
        run_state.set_status(paths, "completed", f"Finished; the last checkpoint is at step {last}.", step=last, finished_at=time.time())
        return 0
    except KeyboardInterrupt:
        run_state.mark_stopped(paths, forced=True, finished_at=time.time())
        return 1
    except BaseException as error:  # the person gets a sentence; the traceback goes to worker.log
        traceback.print_exc()
        failure = translate(error)
        run_events.emit(paths, "error", message=failure.message, todo=failure.todo)
        last = run_state.last_checkpoint(paths)
        run_state.set_status(paths, "failed", describe(failure), step=last, error=failure.message,
                             finished_at=time.time())
        return 1
    finally:
        if slot is not None:
            slot.__exit__(None, None, None)
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m core.training.worker RUN_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(Path(sys.argv[1])))
