"""The Train tab's live run panel and run history: progress, loss plot, previews, log, runs list, diff.

Everything here renders what core.training.runner / core.runs.events return; nothing reads run files itself.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from core.runs import diff as run_diff, events as run_events, state as run_state
from core.training import runner as training
from core.runs.paths import run_paths
from core.training.estimates import format_duration, memory_pressure
from ui.context import follow, UIContext
from ui.feedback import user_errors

RUN_COLUMNS = ["run", "status", "dataset", "model", "steps", "final loss"]


def run_choices(ctx: UIContext, runs: list[training.RunStatus] | None = None) -> list[tuple[str, str]]:
    # No status in the label: it would go stale while the run goes on (the progress line shows it live).
    runs = training.list_runs(ctx.workspace) if runs is None else runs
    return [(f"{run.run_id} · {run.model}", run.run_id) for run in runs]


def runs_table(ctx: UIContext, runs: list[training.RunStatus] | None = None) -> list[list]:
    rows = []
    for run in training.list_runs(ctx.workspace) if runs is None else runs:
        loss = f"{run.final_loss:.4f}" if run.final_loss is not None else ""
        rows.append([run.run_id, run.status, run.dataset, run.model, f"{run.step}/{run.total}", loss])
    return rows


def preferred_run(runs: list[training.RunStatus], current: str | None = None) -> str | None:
    """The run to select: `current` while it exists, else the running one (then the stopping, then the queued
    one), else the newest interrupted one (the notice asks to resume it), else the newest."""
    ids = [run.run_id for run in runs]
    if current in ids:
        return current
    for wanted in ("running", "stopping", "queued", "interrupted"):
        for run in runs:
            if run.status == wanted:
                return run.run_id
    return ids[0] if ids else None


@dataclass
class RunLists:
    """What every list of runs on the Train tab shows now, read from disk (the lists built at start go stale)."""

    run: dict  # the Run dropdown's update
    table: list[list]
    left: dict
    right: dict
    notice: str

    def outputs(self) -> tuple:
        return self.run, self.table, self.left, self.right, self.notice


def run_lists(ctx: UIContext, current: str | None = None, left: str | None = None, right: str | None = None) -> RunLists:
    """The Run dropdown (keeping `current` while it exists, else the running / interrupted / newest run), the
    history table, the two diff pickers (keeping their picks) and the interrupted-runs notice."""
    run_state.reconcile_all(ctx.workspace)  # a worker that died since the last look is marked interrupted first
    runs = training.list_runs(ctx.workspace)
    ids = [run.run_id for run in runs]
    chosen = preferred_run(runs, current)
    return RunLists(
        run=gr.update(choices=run_choices(ctx, runs), value=chosen),
        table=runs_table(ctx, runs),
        left=gr.update(choices=ids, value=left if left in ids else None),
        right=gr.update(choices=ids, value=right if right in ids else None),
        notice=interrupted_notice(runs, chosen),
    )


def progress_html(run: training.RunStatus | None) -> str:
    if run is None:
        return "<div id='train-progress-text'>No run selected.</div>"
    fraction = min(1.0, run.step / run.total) if run.total else 0.0
    parts = [f"<b>{html.escape(run.status)}</b> · step {run.step}/{run.total}"]
    if run.seconds_per_step:
        parts.append(f"{run.seconds_per_step:.2f} s/step")
    if run.eta_seconds is not None and run.active:
        parts.append(f"about {format_duration(run.eta_seconds)} left")
    if run.final_loss is not None:
        parts.append(f"loss {run.final_loss:.4f}")
    if run.active:
        pressure = memory_pressure()
        if pressure:
            parts.append(pressure)
    message = html.escape(run.message or "")
    return (
        f"<div id='train-progress-text' data-status='{html.escape(run.status)}' data-step='{run.step}'>{' · '.join(parts)}</div>"
        f"<div style='background:#e5e7eb;border-radius:4px;height:14px;margin:6px 0'>"
        f"<div id='train-progress-bar' style='background:#4f46e5;height:14px;border-radius:4px;width:{fraction * 100:.1f}%'></div></div>"
        f"<div>{message}</div>"
    )


def loss_frame(run_id: str | None, ctx: UIContext):
    """The loss curve (raw and smoothed) of a run, or None while it has no point yet.

    None, never an empty frame: Gradio 6.31's LinePlot builds its Vega spec (the column types, the colour
    domain) from the first value it gets and later only swaps the data in. An empty frame's columns all read as
    nominal with no series, so the live curve never drew (legend "series -Infinity") until a tab switch rebuilt
    the spec. With None the plot area is only created, and the spec built, when the first points arrive."""
    import pandas as pd

    if not run_id:
        return None
    line = run_events.timeline(run_events.read_all(run_paths(ctx.workspace, run_id)))
    if not line.steps:
        return None
    smooth = line.smoothed()
    return pd.DataFrame({
        "step": line.steps + line.steps,
        "loss": line.losses + smooth,
        "series": ["raw"] * len(line.steps) + ["smoothed"] * len(smooth),
    })


def preview_items(run: training.RunStatus | None) -> list[tuple[str, str]]:
    if run is None:
        return []
    return [(p["path"], f"step {p['step']} · {p['name']}") for p in reversed(run.previews[-12:])]


def render(ctx: UIContext, run_id: str | None):
    """(progress html, loss frame, previews, log tail, resume-checkpoint dropdown update) for a run."""
    run = None
    log = ""
    if run_id:
        try:
            run = training.status(ctx.workspace, run_id)
            log = run_events.log_tail(run_paths(ctx.workspace, run_id))
        except Exception:  # a run folder edited or removed by hand: show nothing rather than fail each tick
            run = None
    checkpoints = gr.update(choices=["latest"] + [str(s) for s in (run.checkpoints if run else [])])
    return progress_html(run), loss_frame(run_id if run else None, ctx), preview_items(run), log, checkpoints


@dataclass
class History:
    """The run history: table, refresh, re-run, config diff of two runs, the selected run's train.json."""
    table: gr.Dataframe
    refresh: gr.Button
    rerun: gr.Button
    left: gr.Dropdown
    right: gr.Dropdown
    compare: gr.Button
    diff: gr.Dataframe
    config_view: gr.Code


def history_layout(ctx: UIContext) -> History:
    with gr.Accordion("Run history", open=False, elem_id="train-history"):
        table = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, elem_id="train-runs-table")  # filled on load
        with gr.Row():
            refresh = gr.Button("Refresh list", size="sm")
            rerun = gr.Button("Re-run selected with changes", size="sm", elem_id="train-rerun")
        with gr.Row():
            left = gr.Dropdown(label="Compare run", choices=[], elem_id="train-diff-a")
            right = gr.Dropdown(label="with run", choices=[], elem_id="train-diff-b")
            compare = gr.Button("Show differences", size="sm")
        diff = gr.Dataframe(headers=["setting", "first run", "second run"], interactive=False, elem_id="train-diff")
        config_view = gr.Code(label="Selected run's train.json (exact, as trained)", language="json", interactive=False)
    return History(table, refresh, rerun, left, right, compare, diff, config_view)


class HistoryHandlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    @user_errors
    def refresh_all(self, current, left, right):
        return run_lists(self.ctx, current, left, right).outputs()

    @user_errors
    def show_diff(self, a, b):
        if not a or not b:
            raise training.TrainingError("Pick two runs to compare.", "Choose them in the two lists above.")
        rows = run_diff.diff_runs(self.ctx.workspace, a, b)
        return [[r.key, str(r.a), str(r.b)] for r in rows] or [["(no differences)", "", ""]]

    @user_errors
    def show_config(self, run_id):
        if not run_id:
            return ""
        import json

        config = training.train_json_of(self.ctx.workspace, run_id)
        return json.dumps(config, indent=2, ensure_ascii=False) if config else ""


def wire_history(ctx: UIContext, h: History, run_dropdown: gr.Dropdown, notice: gr.Markdown) -> None:
    on = HistoryHandlers(ctx)
    h.refresh.click(on.refresh_all, inputs=[run_dropdown, h.left, h.right],
                    outputs=[run_dropdown, h.table, h.left, h.right, notice])
    h.compare.click(on.show_diff, inputs=[h.left, h.right], outputs=h.diff)
    follow(run_dropdown, on.show_config, inputs=run_dropdown, outputs=h.config_view)


def interrupted_notice(runs: list[training.RunStatus], selected: str | None) -> str:
    """The runs whose worker died, offered for resume; says which one the Run list has selected."""
    waiting = [run for run in runs if run.status == "interrupted"]
    if not waiting:
        return ""
    names = ", ".join(run.run_id for run in waiting[:3]) + (f" and {len(waiting) - 3} more" if len(waiting) > 3 else "")
    if selected in {run.run_id for run in waiting}:
        where = f"**{selected}** is selected under Run: press **Resume** to continue it"
    else:
        where = "select one under Run and press **Resume** to continue it"
    first = next((run for run in waiting if run.run_id == selected), waiting[0])
    tail = (" from its last checkpoint." if first.resumable else
            f". {first.run_id} saved no checkpoint, so it cannot resume: use **Re-run selected with changes** (Run "
            "history) and Start to train it again.")
    return f"⚠️ Interrupted run(s): {names}; {where}{tail}"
