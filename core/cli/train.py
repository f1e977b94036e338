"""`train start|check|stop|resume|status|presets`: the Train tab without the UI."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli import Commands, Context, Outcome
from core.progress import Progress
from core import storage
from core.training import (
    aitoolkit as aitoolkit_import,
    config as train_config,
    runner as training,
)
from core.errors import AppError, ConfigError
from core.training.estimates import format_duration


def register(commands: Commands) -> None:
    group = commands.group("train", "Train a LoRA: check a config, start, stop, resume, status.")
    for name, handler, text in (
        ("start", run_start, "Start a training of DATASET (checks the config first)."),
        ("check", run_check, "Check a training config of DATASET without starting (plain-words problems, steps, ETA)."),
    ):
        parser = group.add(name, text, handler)
        parser.add_argument("dataset")
        parser.add_argument("--preset", action="append", default=[], help="a preset name (repeatable: memory, then goal)")
        parser.add_argument("--config", metavar="FILE", help="a train.json (mflux) or an ai-toolkit .yaml to start from")
        parser.add_argument("--model", choices=["selftest", "flux2-klein-base-4b"])
        parser.add_argument("--trigger", default="", help="the trigger word in the captions")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--resolutions", metavar="LIST",
                            help="train each picture at several resolutions, e.g. 512,768,1024 (multiples of 16)")
        parser.add_argument("--trigger-only", type=float, metavar="SHARE",
                            help="add trigger-only copies for this share of the samples, 0 to 0.5 (needs --trigger)")
        if name == "start":
            parser.add_argument("--queue", action="store_true", help="run after the trainings already running")
            parser.add_argument("--wait", action="store_true", help="wait until the training ends, showing progress")
    stop = group.add("stop", "Stop RUN at the next step (a checkpoint is saved); --force ends it at once.", run_stop)
    stop.add_argument("run")
    stop.add_argument("--force", action="store_true")
    stop.add_argument("--wait", action="store_true", help="wait until it has stopped")
    resume = group.add("resume", "Resume RUN from its latest checkpoint (or --step N), continuing the step count.", run_resume)
    resume.add_argument("run")
    resume.add_argument("--step", type=int)
    resume.add_argument("--queue", action="store_true")
    resume.add_argument("--wait", action="store_true")
    status = group.add("status", "Status of RUN: step, loss, speed, ETA, checkpoints.", run_status)
    status.add_argument("run")
    group.add("presets", "List the presets (memory, goal, saved).", run_presets)


def _build(context: Context):
    args = context.args
    workspace = context.workspace
    plan = train_config.compose(workspace, args.dataset, args.trigger, args.preset, model=args.model)
    notes: list[str] = []
    if args.config:
        path = Path(args.config)
        if path.suffix.lower() in (".yaml", ".yml"):
            imported = aitoolkit_import.import_yaml(path.read_text(encoding="utf-8"), plan)
            plan = imported.plan
            notes = imported.report_lines()
        else:
            data = storage.read_json(path)
            if not isinstance(data, dict):
                raise AppError(f"{path} is not a JSON object (a train.json).", "Check the file, or use a preset.")
            plan = train_config.TrainPlan.from_config(train_config.deep_merge(plan.raw, data), args.dataset, args.trigger or plan.trigger)
            plan.model = args.model or plan.model
    plan.dataset = args.dataset
    if args.trigger:
        plan.trigger = args.trigger
    if args.model:
        plan.model = args.model
    if args.epochs:
        plan.epochs = args.epochs
    if args.resolutions:
        plan.resolutions = _resolutions(args.resolutions)
    if args.trigger_only is not None:
        plan.trigger_only = args.trigger_only
    return plan, notes


def _resolutions(text: str) -> list[int]:
    try:
        return sorted({int(part) for part in text.replace(" ", "").split(",") if part})
    except ValueError:
        raise ConfigError(f"--resolutions must be whole numbers separated by commas, such as 512,768,1024, not '{text}'.",
                          "Give each resolution in pixels, a multiple of 16.") from None


def run_check(context: Context) -> Outcome:
    plan, notes = _build(context)
    validation = training.check(context.workspace, context.settings, plan)
    config = plan.config(context.workspace, context.settings.cache_dir)
    lines = [validation.summary()] + [f"Problem: {e}" for e in validation.errors] + [f"Warning: {w}" for w in validation.warnings]
    lines += [f"Import: {n}" for n in notes]
    return Outcome({**validation.to_dict(), "form": plan.to_dict(), "config": config, "import_report": notes}, "\n".join(lines), ok=validation.ok)


def _printer(context: Context):
    def show(event: dict) -> None:
        kind = event.get("type")
        if kind == "step":
            loss = event.get("loss")
            message = f"loss {loss:.4f}" if isinstance(loss, (int, float)) else "step"
            context.progress(Progress(event["step"], event.get("total") or 0, message, event))
        elif kind in ("status", "error", "checkpoint", "preview"):
            text = event.get("message") or f"{kind} {event.get('step', '')} {event.get('path', '')}".strip()
            context.progress(Progress(event.get("step") or 0, 0, f"{kind}: {text}", event))

    return show


def _outcome(run, ok_states=("completed", "stopped", "queued", "running", "stopping")) -> Outcome:
    return Outcome({"run": run.to_dict()}, run.summary(), ok=run.status in ok_states)


def run_start(context: Context) -> Outcome:
    plan, notes = _build(context)
    for note in notes:
        print(f"Import: {note}", file=sys.stderr)
    run = training.start(context.workspace, context.settings, plan, queue=context.args.queue)
    if context.args.wait:
        run = training.wait(context.workspace, run.run_id, on_event=_printer(context))
        return _outcome(run, ("completed", "stopped"))
    return _outcome(run)


def run_stop(context: Context) -> Outcome:
    run = training.stop(context.workspace, context.args.run, force=context.args.force)
    if context.args.wait:
        run = training.wait(context.workspace, run.run_id, on_event=_printer(context))
    return _outcome(run)


def run_resume(context: Context) -> Outcome:
    run = training.resume(context.workspace, context.args.run, step=context.args.step, queue=context.args.queue)
    if context.args.wait:
        run = training.wait(context.workspace, run.run_id, on_event=_printer(context))
        return _outcome(run, ("completed", "stopped"))
    return _outcome(run)


def run_status(context: Context) -> Outcome:
    run = training.status(context.workspace, context.args.run)
    lines = [run.summary()]
    if run.checkpoints:
        lines.append(f"Checkpoints at steps: {', '.join(map(str, run.checkpoints))}")
    if run.eta_seconds:
        lines.append(f"About {format_duration(run.eta_seconds)} left ({run.seconds_per_step:.2f} s per step).")
    return Outcome({"run": run.to_dict()}, "\n".join(lines))


def run_presets(context: Context) -> Outcome:
    presets = train_config.list_presets(context.workspace)
    lines = [f"{p.name:<26} {p.kind:<7} {p.label}: {p.description}" for p in presets]
    default = train_config.memory_preset_for(train_config.machine_memory_gb())
    lines.append(f"This machine's memory preset: {default.name}")
    return Outcome({"presets": [p.to_dict() for p in presets], "machine_default": default.name}, "\n".join(lines))
