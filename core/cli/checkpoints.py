"""`checkpoints list|export|validate|choose|delete|prune`: a run's checkpoints and the adapter files made from them."""

from __future__ import annotations

import time
from pathlib import Path

from core.cli import Commands, Context, Outcome
from core.checkpoints import store as checkpoints
from core.runs.paths import run_paths
from core.models import adapters, lora_targets


def register(commands: Commands) -> None:
    group = commands.group("checkpoints", "A run's checkpoints: list, export the publishable adapter, validate, choose, delete, prune.")
    listing = group.add("list", "List a run's checkpoints with step, time, loss and previews.", run_list)
    listing.add_argument("run")
    export = group.add("export", "Export a checkpoint's adapter in diffusers/PEFT naming with metadata.", run_export)
    export.add_argument("run")
    export.add_argument("out", nargs="?", help="file or folder to write (default: <run>/adapters/)")
    export.add_argument("--step", type=int, help="checkpoint step (default: the last)")
    export.add_argument("--trigger", help="trigger word to record (default: the run's)")
    validate = group.add("validate", "Check that an adapter file fits FLUX.2 klein and report what it holds.", run_validate)
    validate.add_argument("file")
    validate.add_argument("--model", choices=["auto", "flux2-klein-base-4b", "flux2-klein-4b", "selftest"], default="auto")
    choose = group.add("choose", "Mark a checkpoint (and LoRA strength) as the one to publish.", run_choose)
    choose.add_argument("run")
    choose.add_argument("step", type=int)
    choose.add_argument("--strength", type=float, default=1.0)
    delete = group.add("delete", "Move checkpoints of a run to the trash (recoverable; the chosen one is kept).", run_delete)
    delete.add_argument("run")
    delete.add_argument("steps", type=int, nargs="+", metavar="STEP")
    prune = group.add("prune", "Keep the newest N checkpoints (and the chosen one); move the older ones to the trash.", run_prune)
    prune.add_argument("run")
    prune.add_argument("--keep", type=int, required=True, metavar="N")
    prune.add_argument("--dry-run", action="store_true", help="only say which checkpoints would be moved")


def run_list(context: Context) -> Outcome:
    paths = run_paths(context.workspace, context.args.run, must_exist=True)
    found = checkpoints.list_checkpoints(paths)
    chosen = checkpoints.read_chosen(paths)
    lines = [f"{'step':>7}  {'saved':<19}  {'loss':>8}  previews"]
    for c in found:
        loss = f"{c.loss:.4f}" if c.loss is not None else "-"
        mark = "  <- chosen" if chosen and chosen.step == c.step else ""
        lines.append(f"{c.step:>7}  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(c.time))}  {loss:>8}  {len(c.previews)}{mark}")
    if not found:
        lines = [f"Run '{paths.run_id}' has no checkpoints yet."]
    data = {"run": paths.run_id, "checkpoints": [c.to_dict() for c in found], "chosen": chosen.to_dict() if chosen else None}
    return Outcome(data, "\n".join(lines))


def run_export(context: Context) -> Outcome:
    paths = run_paths(context.workspace, context.args.run, must_exist=True)
    out = Path(context.args.out) if context.args.out else None
    exported = checkpoints.export_adapter(paths, context.args.step, trigger=context.args.trigger, out=out)
    return Outcome(exported.to_dict(), f"Exported step {exported.step} to {exported.path}\nsha256 {exported.sha256}")


def run_validate(context: Context) -> Outcome:
    geometry = None if context.args.model == "auto" else lora_targets.geometry_for(context.args.model)
    report = adapters.inspect(Path(context.args.file), geometry)
    return Outcome(report.to_dict(), report.summary() + "".join(f"\nProblem: {p}" for p in report.problems[1:]), ok=report.ok)


def run_choose(context: Context) -> Outcome:
    chosen = checkpoints.choose(context.workspace, context.args.run, context.args.step, context.args.strength)
    return Outcome(chosen.to_dict(), f"Chose step {chosen.step} at strength {chosen.strength}: {chosen.adapter_path}")


def run_delete(context: Context) -> Outcome:
    removed = checkpoints.delete_checkpoints(context.workspace, context.args.run, context.args.steps)
    return Outcome(removed.to_dict(), removed.summary())


def run_prune(context: Context) -> Outcome:
    if context.args.dry_run:
        paths = run_paths(context.workspace, context.args.run, must_exist=True)
        older, protected = checkpoints.prune_plan(paths, context.args.keep)
        kept = [step for step, _ in paths.checkpoint_zips() if step not in older]
        text = (f"Would move {', '.join(map(str, older))} to the trash; keeps {', '.join(map(str, kept))}." if older
                else f"Nothing to move; keeps {', '.join(map(str, kept))}.")
        return Outcome({"run_id": paths.run_id, "would_remove": older, "kept": kept, "protected": protected, "dry_run": True}, text)
    removed = checkpoints.prune_checkpoints(context.workspace, context.args.run, context.args.keep)
    return Outcome(removed.to_dict(), removed.summary())
