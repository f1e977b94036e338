"""`runs list` / `runs diff A B`: the training runs in the workspace."""

from __future__ import annotations

from core.cli import Commands, Context, Outcome
from core.runs import state as run_state
from core.runs.diff import diff_runs
from core.training import runner as training


def register(commands: Commands) -> None:
    group = commands.group("runs", "Training runs: list them, compare two configs.")
    group.add("list", "List runs, newest first: status, dataset, steps, final loss.", run_list)
    diff = group.add("diff", "Show the config settings and the training sets (compiled samples, dataset fingerprint) that differ between two runs.", run_diff)
    diff.add_argument("run_a")
    diff.add_argument("run_b")


def run_list(context: Context) -> Outcome:
    changed = run_state.reconcile_all(context.workspace)
    runs = training.list_runs(context.workspace)
    lines = [run.summary() for run in runs] or ["No training runs yet."]
    lines += [f"Note: {run_id} was found interrupted and can be resumed." for run_id in changed]
    return Outcome({"runs": [run.to_dict() for run in runs], "newly_interrupted": changed}, "\n".join(lines))


def run_diff(context: Context) -> Outcome:
    rows = diff_runs(context.workspace, context.args.run_a, context.args.run_b)
    lines = [f"{r.key}: {r.a!r} -> {r.b!r}" for r in rows] or ["The two runs' configs and training sets are the same (apart from paths)."]
    return Outcome({"differences": [r.to_dict() for r in rows]}, "\n".join(lines))
