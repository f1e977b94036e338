"""The Checkpoints tab: a run's checkpoints, validated exports, the comparison grid with a keyboard viewer,
likeness scores, and "choose this checkpoint" for Publish."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ui import compare_grid
from ui.context import follow, UIContext
from ui.feedback import user_errors
from ui.long_job import long_job, LongJob
from core.dataset.preview_prompts import load_test_prompts
from core.errors import AppError
from core.models.base import BASE_MODELS
from core.runs.paths import run_paths
from core.checkpoints import compare, grid_form, likeness, store as checkpoints
from core.models import adapters, lora_targets
from core.progress import Cancelled

TAB_ID = "tab-checkpoints"
GRID = LongJob("grid")
KEYS_HTML = str(Path(__file__).with_name("checkpoints_keys.html"))
TABLE_HEADERS = ["Step", "Saved", "Loss", "Previews", "Chosen"]
RANK_HEADERS = ["Rank", "Checkpoint", "Likeness", "Cells"]
DEFAULT_PROMPTS = "{trigger}, portrait photo, looking at the camera, soft window light\n{trigger} walking down a city street at night, full body"


def _prompts_text() -> str:
    try:
        return "\n".join(load_test_prompts())
    except AppError:
        return DEFAULT_PROMPTS


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Widgets:
    run: gr.Dropdown
    refresh: gr.Button
    table: gr.Dataframe
    previews: gr.Gallery
    step: gr.Dropdown
    export_btn: gr.Button
    report: gr.Markdown
    exported_file: gr.File
    prompts: gr.Textbox
    strengths: gr.Textbox
    seeds: gr.Textbox
    model: gr.Dropdown
    size: gr.Textbox
    sample_steps: gr.Number
    guidance: gr.Number
    render_btn: gr.Button
    stop_btn: gr.Button
    score_btn: gr.Button
    status: gr.Markdown
    grid_html: gr.HTML
    viewer_img: gr.Image
    viewer_info: gr.Markdown
    viewer_strength: gr.Dropdown
    left: gr.Button
    up: gr.Button
    down: gr.Button
    right: gr.Button
    ranking: gr.Dataframe
    choose_strength: gr.Number
    choose_btn: gr.Button
    chosen_md: gr.Markdown
    grid_state: gr.State
    at_state: gr.State
    scores_state: gr.State

    @property
    def loaded(self) -> list:
        """What picking a run fills in."""
        return [self.table, self.previews, self.step, self.chosen_md, self.grid_state, self.at_state, self.scores_state,
                self.grid_html, self.viewer_img, self.viewer_info, self.viewer_strength]

    @property
    def viewer(self) -> list:
        return [self.grid_state, self.at_state, self.viewer_strength, self.scores_state]


def layout(ctx: UIContext) -> Widgets:
    from ui.shell import HEAD_PATHS

    if KEYS_HTML not in HEAD_PATHS:
        HEAD_PATHS.append(KEYS_HTML)
    gr.Markdown("## Checkpoints\nCompare every checkpoint on the same prompts, seeds and strengths, then choose the one to publish.")
    with gr.Row():
        run = gr.Dropdown(choices=ctx.workspace.list_runs(), label="Run", elem_id="ckpt-run", scale=4)
        refresh = gr.Button("↻ Refresh", elem_id="ckpt-refresh", scale=0)
    table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, elem_id="ckpt-table", wrap=True)
    previews = gr.Gallery(label="Training previews (by step)", elem_id="ckpt-previews", columns=8, height=170)
    with gr.Accordion("Validate and export an adapter", open=False, elem_id="ckpt-export-panel"):
        with gr.Row():
            step = gr.Dropdown(label="Checkpoint step", choices=[], elem_id="ckpt-step")
            export_btn = gr.Button("Validate and export", elem_id="ckpt-export")
        report = gr.Markdown(elem_id="ckpt-report")
        exported_file = gr.File(label="Exported adapter (diffusers/PEFT naming)", elem_id="ckpt-file", interactive=False)

    gr.Markdown("### Compare checkpoints")
    with gr.Row():
        prompts = gr.Textbox(_prompts_text(), lines=3, label="Prompts, one per line ({trigger} = the run's trigger word)", elem_id="grid-prompts", scale=3)
        with gr.Column(scale=2):
            strengths = gr.Textbox("1.0, 1.5", label="LoRA strengths", elem_id="grid-strengths")
            seeds = gr.Textbox("1", label="Seeds", elem_id="grid-seeds")
            model = gr.Dropdown(choices=[("The run's model", "")] + [(m.label, m.key) for m in BASE_MODELS.values()], value="",
                                label="Render on", elem_id="grid-model")
    with gr.Row():
        size = gr.Textbox("1024x1024", label="Size (WxH)", elem_id="grid-size")
        sample_steps = gr.Number(0, label="Steps (0: the model's)", precision=0, elem_id="grid-sample-steps")
        guidance = gr.Number(0, label="Guidance (0: the model's)", elem_id="grid-guidance")
    with gr.Row():
        render_btn = gr.Button("Render grid", variant="primary", elem_id="grid-run")
        stop_btn = gr.Button("Stop", elem_id="grid-stop")
        score_btn = gr.Button("Score likeness", elem_id="grid-score")
    status = gr.Markdown(elem_id="grid-status")
    grid_html = gr.HTML(compare_grid.render(None), elem_id="grid-html")
    with gr.Row():
        with gr.Column(scale=2):
            viewer_img = gr.Image(label="Viewer", type="filepath", interactive=False, height=420, elem_id="viewer-image")
        with gr.Column(scale=1):
            viewer_info = gr.Markdown(elem_id="viewer-settings")
            viewer_strength = gr.Dropdown(label="Strength shown in the viewer", choices=[], elem_id="viewer-strength")
            with gr.Row():
                left = gr.Button("←", elem_id="viewer-left", min_width=40)
                up = gr.Button("↑", elem_id="viewer-up", min_width=40)
                down = gr.Button("↓", elem_id="viewer-down", min_width=40)
                right = gr.Button("→", elem_id="viewer-right", min_width=40)
            ranking = gr.Dataframe(headers=RANK_HEADERS, interactive=False, elem_id="likeness-table")
            choose_strength = gr.Number(1.0, label="Strength to publish with", elem_id="choose-strength")
            choose_btn = gr.Button("Choose the viewer's checkpoint", variant="primary", elem_id="choose-button")
            chosen_md = gr.Markdown(elem_id="chosen-status")
    grid_state = gr.State(None)
    at_state = gr.State([0, 0])
    scores_state = gr.State({})
    ctx.shared["checkpoints_run"] = run
    ctx.shared["chosen"] = chosen_md
    return Widgets(run, refresh, table, previews, step, export_btn, report, exported_file, prompts, strengths, seeds,
                   model, size, sample_steps, guidance, render_btn, stop_btn, score_btn, status, grid_html, viewer_img,
                   viewer_info, viewer_strength, left, up, down, right, ranking, choose_strength, choose_btn, chosen_md,
                   grid_state, at_state, scores_state)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def paths_of(self, run_id):
        if not run_id:
            raise AppError("No run is selected.", "Pick a run (train one in the Train tab first).")
        return run_paths(self.ctx.workspace, run_id, must_exist=True)

    @staticmethod
    def chosen_text(paths) -> str:
        chosen = checkpoints.read_chosen(paths)
        if chosen is None:
            return "No checkpoint chosen yet."
        return f"✅ Chosen: step {chosen.step} at strength {chosen.strength} · `{chosen.adapter_path.name}` · sha256 {chosen.sha256[:12]}…"

    @staticmethod
    def view(grid, at, strength, scores):
        path, text = compare_grid.viewer(grid, tuple(at), _as_float(strength), scores)
        return path, text, compare_grid.render(grid, scores, tuple(at))

    @staticmethod
    def checkpoint_rows(found, chosen):
        rows = [[c.step, time.strftime("%Y-%m-%d %H:%M", time.localtime(c.time)), None if c.loss is None else round(c.loss, 4),
                 len(c.previews), "✅" if chosen and chosen.step == c.step else ""] for c in found]
        return rows, [(p, f"step {c.step}") for c in found for p in c.previews]

    @user_errors
    def refresh_runs(self, current):
        runs = self.ctx.workspace.list_runs()
        return gr.update(choices=runs, value=current if current in runs else (runs[0] if runs else None))

    def follow_run(self, run_id):
        return gr.update(choices=self.ctx.workspace.list_runs(), value=run_id)

    @user_errors
    def on_tab(self, run_id, current_step):
        """Opening the tab shows the checkpoints written since (a training may have run meanwhile); the grid and
        the viewer's place are left as they are."""
        if not run_id:
            return gr.update(), gr.update(), gr.update()
        paths = self.paths_of(run_id)
        found = checkpoints.list_checkpoints(paths)
        rows, gallery = self.checkpoint_rows(found, checkpoints.read_chosen(paths))
        steps = [c.step for c in found]
        keep = current_step if current_step in steps else (steps[-1] if steps else None)
        return rows, gallery, gr.update(choices=steps, value=keep)

    @user_errors
    def load_run(self, run_id):
        if not run_id:
            return [], [], gr.update(choices=[]), "No run selected.", None, [0, 0], {}, compare_grid.render(None), None, "", gr.update(choices=[])
        paths = self.paths_of(run_id)
        found = checkpoints.list_checkpoints(paths)
        chosen = checkpoints.read_chosen(paths)
        rows, gallery = self.checkpoint_rows(found, chosen)
        last = compare.last_grid(paths)
        grid = last.to_dict() if last else None
        strengths_choices = grid["spec"]["strengths"] if grid else []
        path, text, html_text = self.view(grid, [0, 0], strengths_choices[0] if strengths_choices else None, {})
        return (rows, gallery, gr.update(choices=[c.step for c in found], value=found[-1].step if found else None), self.chosen_text(paths),
                grid, [0, 0], {}, html_text, path, text,
                gr.update(choices=strengths_choices, value=strengths_choices[0] if strengths_choices else None))

    @user_errors
    def export(self, run_id, step_value):
        paths = self.paths_of(run_id)
        exported = checkpoints.export_adapter(paths, int(step_value) if step_value not in (None, "") else None)
        report_ = adapters.validate(exported.path, lora_targets.geometry_for(exported.metadata["base_model_key"]))
        meta = exported.metadata
        return (f"✅ {report_.summary()}\n\nTrigger `{meta['trigger_word'] or '-'}` · base `{meta['base_model']}` · "
                f"mflux {meta['mflux_version']} · sha256 `{exported.sha256[:16]}…`"), str(exported.path)

    @long_job(GRID)
    def render(self, run_id, prompts_text, strengths_text, seeds_text, model_key, size_text, steps_value, guidance_value,
               *, cancel):
        self.paths_of(run_id)  # a run must be picked
        spec = grid_form.grid_spec(self.ctx.workspace, run_id, prompts_text, strengths_text, seeds_text, model=model_key,
                                   size=size_text, sample_steps=steps_value, guidance=guidance_value)

        grid = None
        started = time.perf_counter()
        strengths = gr.update(choices=spec.strengths, value=spec.strengths[0])
        try:
            for event in compare.run_grid(self.ctx.workspace, spec, cancel=cancel, settings=self.ctx.settings):
                if "spec" in event.payload:
                    grid = {"spec": event.payload["spec"], "rows": event.payload["rows"], "cells": []}
                if "cell" in event.payload:
                    grid["cells"].append(event.payload["cell"].to_dict())
                if event.result is not None:
                    grid = event.result.to_dict()
                message = f"⏳ {event.step}/{event.total} cells · {event.message}" if event.result is None else \
                    f"✅ {event.message} in {time.perf_counter() - started:.1f} s"
                yield message, grid, compare_grid.render(grid), strengths, [0, 0], {}
        except Cancelled:
            done = len(grid["cells"]) if grid else 0
            yield (f"⏹ Stopped after {done} cell(s); they are kept, and Render grid again renders only the rest.", grid,
                   compare_grid.render(grid), strengths, [0, 0], {})

    @user_errors
    def score(self, run_id, grid, at, strength):
        if not grid or not grid.get("cells"):
            raise AppError("There is no grid to score yet.", "Render the grid first.")
        paths = self.paths_of(run_id)
        dataset = likeness.dataset_images_of_run(self.ctx.workspace, paths)
        per_cell, ranked = likeness.rank(compare.Grid.from_dict(grid), dataset, model=self.ctx.settings.likeness_model)
        rows = [[i + 1, "base model" if r.row == "base" else f"step {r.row}", r.score, r.cells] for i, r in enumerate(ranked)]
        path, text, html_text = self.view(grid, at, strength, per_cell)
        return per_cell, rows, html_text, path, text, f"Scored {len(per_cell)} cells against {len(dataset)} dataset images."

    def make_move(self, direction):
        @user_errors
        def handler(grid, at, strength, scores):
            new_at = list(compare_grid.move(grid, tuple(at), direction))
            path, text, html_text = self.view(grid, new_at, strength, scores)
            return new_at, path, text, html_text

        return handler

    @user_errors
    def choose(self, run_id, grid, at, strength):
        if not grid:
            raise AppError("There is no grid to choose from.", "Render the grid, move the viewer to the best checkpoint, then choose.")
        chosen = grid_form.choose_row(self.ctx.workspace, run_id, grid["rows"][at[0]], float(strength or 1.0))
        return self.chosen_text(self.paths_of(run_id)) if chosen else ""


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    w.refresh.click(on.refresh_runs, inputs=w.run, outputs=w.run)
    w.run.change(on.load_run, inputs=w.run, outputs=w.loaded)
    w.refresh.click(on.load_run, inputs=w.run, outputs=w.loaded)
    w.export_btn.click(on.export, inputs=[w.run, w.step], outputs=[w.report, w.exported_file])
    w.render_btn.click(on.render, inputs=[w.run, w.prompts, w.strengths, w.seeds, w.model, w.size, w.sample_steps, w.guidance],
                       outputs=[w.status, w.grid_state, w.grid_html, w.viewer_strength, w.at_state, w.scores_state],
                       concurrency_limit=1).then(on.view, inputs=w.viewer, outputs=[w.viewer_img, w.viewer_info, w.grid_html])
    w.stop_btn.click(GRID.stop_handler("Stopping after the current cell…", "Nothing is rendering."), outputs=w.status)
    w.score_btn.click(on.score, inputs=[w.run, w.grid_state, w.at_state, w.viewer_strength],
                      outputs=[w.scores_state, w.ranking, w.grid_html, w.viewer_img, w.viewer_info, w.status])
    for button, direction in ((w.left, "left"), (w.right, "right"), (w.up, "up"), (w.down, "down")):
        # Every key press counts and they run in order (a fast ↓↓ moves two rows): the position lives in server state.
        button.click(on.make_move(direction), inputs=w.viewer, outputs=[w.at_state, w.viewer_img, w.viewer_info, w.grid_html],
                     trigger_mode="multiple", concurrency_limit=1, concurrency_id="checkpoints-viewer", show_progress="hidden")
    w.viewer_strength.change(on.view, inputs=w.viewer, outputs=[w.viewer_img, w.viewer_info, w.grid_html])
    w.choose_btn.click(on.choose, inputs=[w.run, w.grid_state, w.at_state, w.choose_strength], outputs=w.chosen_md)
    if "run" in ctx.shared:  # the Train tab's run: follow it
        follow(ctx.shared["run"], on.follow_run, inputs=ctx.shared["run"], outputs=w.run)
    if ctx.blocks is not None:
        ctx.blocks.load(on.refresh_runs, inputs=w.run, outputs=w.run)
    ctx.tab_items[TAB_ID].select(on.on_tab, inputs=[w.run, w.step], outputs=[w.table, w.previews, w.step])
