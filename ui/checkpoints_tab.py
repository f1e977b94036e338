"""The Checkpoints tab: a run's checkpoints, validated exports, keep-newest / delete (to the trash), the comparison
grid with a keyboard viewer beside it, likeness scores, and "choose this checkpoint" for Publish.

The grid's fields follow the selected run (its model, its training resolution, a few checkpoints spread over the
run) and the grid's size and a time estimate show before it starts; Stop ends within one denoising step."""

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
from core.checkpoints import compare, grid_estimate, grid_form, likeness, store as checkpoints
from core.training import runner as training
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
        return "\n".join(load_test_prompts()[:grid_form.DEFAULT_PROMPTS])
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
    keep: gr.Number
    prune_btn: gr.Button
    delete_btn: gr.Button
    cleanup_md: gr.Markdown
    prompts: gr.Textbox
    grid_steps: gr.Dropdown
    strengths: gr.Textbox
    seeds: gr.Textbox
    model: gr.Dropdown
    size: gr.Textbox
    sample_steps: gr.Number
    guidance: gr.Number
    plan_md: gr.Markdown
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
    default_steps: gr.State  # the checkpoints the app picked for the grid (followed while the person keeps them)

    @property
    def loaded(self) -> list:
        """What picking a run fills in."""
        return [self.table, self.previews, self.step, self.chosen_md, self.grid_state, self.at_state, self.scores_state,
                self.grid_html, self.viewer_img, self.viewer_info, self.viewer_strength, self.model, self.size,
                self.grid_steps, self.plan_md, self.default_steps]

    @property
    def grid_fields(self) -> list:
        """The grid's fields, in the order of Handlers.render and Handlers.plan (after the run)."""
        return [self.prompts, self.strengths, self.seeds, self.model, self.size, self.sample_steps, self.guidance,
                self.grid_steps]

    @property
    def viewer(self) -> list:
        return [self.grid_state, self.at_state, self.viewer_strength, self.scores_state]


def layout(ctx: UIContext) -> Widgets:
    from ui.shell import HEAD_PATHS

    if KEYS_HTML not in HEAD_PATHS:
        HEAD_PATHS.append(KEYS_HTML)
    gr.Markdown("## Checkpoints\nCompare every checkpoint on the same prompts, seeds and strengths, then choose the one to publish.")
    with gr.Row():
        # No choices at build time: the list is read from disk when the page loads and when the tab is opened.
        run = gr.Dropdown(choices=[], value=None, label="Run", elem_id="ckpt-run", scale=4)
        refresh = gr.Button("↻ Refresh", elem_id="ckpt-refresh", scale=0)
    table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, elem_id="ckpt-table", wrap=True)
    previews = gr.Gallery(label="Training previews (by step)", elem_id="ckpt-previews", columns=8, height=170)
    with gr.Accordion("Validate and export an adapter · keep the newest · delete", open=False, elem_id="ckpt-export-panel"):
        with gr.Row():
            step = gr.Dropdown(label="Checkpoint step", choices=[], elem_id="ckpt-step")
            export_btn = gr.Button("Validate and export", elem_id="ckpt-export")
        report = gr.Markdown(elem_id="ckpt-report")
        exported_file = gr.File(label="Exported adapter (diffusers/PEFT naming)", elem_id="ckpt-file", interactive=False)
        gr.Markdown("Checkpoints moved away go to the workspace's trash (recoverable: move a zip back into the run's "
                    "`mflux/checkpoints` folder); the chosen checkpoint is always kept.")
        with gr.Row():
            keep = gr.Number(3, label="Keep the newest", precision=0, minimum=1, maximum=1000, step=1, elem_id="ckpt-keep")
            prune_btn = gr.Button("Move older checkpoints to the trash", elem_id="ckpt-prune")
            delete_btn = gr.Button("Move the selected step to the trash", elem_id="ckpt-delete")
        cleanup_md = gr.Markdown(elem_id="ckpt-cleanup")

    gr.Markdown("### Compare checkpoints")
    with gr.Row():
        prompts = gr.Textbox(_prompts_text(), lines=3, label="Prompts, one per line ({trigger} = the run's trigger word)", elem_id="grid-prompts", scale=3)
        with gr.Column(scale=2):
            grid_steps = gr.Dropdown(choices=[], value=[], multiselect=True, label="Checkpoints (rows)", elem_id="grid-steps")
            with gr.Row():
                strengths = gr.Textbox(grid_form.DEFAULT_STRENGTHS, label="LoRA strengths", elem_id="grid-strengths")
                seeds = gr.Textbox(grid_form.DEFAULT_SEEDS, label="Seeds", elem_id="grid-seeds")
    with gr.Row():
        model = gr.Dropdown(choices=[("The run's model", "")] + [(m.label, m.key) for m in BASE_MODELS.values()], value="",
                            label="Render on", elem_id="grid-model", scale=2)
        size = gr.Textbox("1024x1024", label="Size (WxH; default: the run's training resolution)", elem_id="grid-size")
        sample_steps = gr.Number(0, label="Steps (0: the model's)", precision=0, minimum=0, maximum=200, step=1, elem_id="grid-sample-steps")
        guidance = gr.Number(0, label="Guidance (0: the model's)", minimum=0, maximum=20, step=0.1, elem_id="grid-guidance")
    plan_md = gr.Markdown("Pick a run to see the grid's size and a time estimate.", elem_id="grid-plan")
    with gr.Row():
        render_btn = gr.Button("Render grid", variant="primary", elem_id="grid-run")
        stop_btn = gr.Button("Stop", elem_id="grid-stop")
        score_btn = gr.Button("Score likeness", elem_id="grid-score")
    status = gr.Markdown(elem_id="grid-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            grid_html = gr.HTML(compare_grid.render(None), elem_id="grid-html")
        with gr.Column(scale=2, min_width=320, elem_id="viewer-panel"):
            # Beside the grid, so the viewer and Choose stay in reach while the grid is looked at.
            viewer_img = gr.Image(label="Viewer", type="filepath", interactive=False, height=320, elem_id="viewer-image")
            viewer_info = gr.Markdown(elem_id="viewer-settings")
            with gr.Row():
                left = gr.Button("←", elem_id="viewer-left", min_width=40)
                up = gr.Button("↑", elem_id="viewer-up", min_width=40)
                down = gr.Button("↓", elem_id="viewer-down", min_width=40)
                right = gr.Button("→", elem_id="viewer-right", min_width=40)
            viewer_strength = gr.Dropdown(label="Strength shown in the viewer", choices=[], elem_id="viewer-strength")
            with gr.Row():
                choose_strength = gr.Number(1.0, label="Strength to publish with", minimum=0.05, maximum=4, step=0.05,
                                            elem_id="choose-strength")
                choose_btn = gr.Button("Choose the viewer's checkpoint", variant="primary", elem_id="choose-button")
            chosen_md = gr.Markdown(elem_id="chosen-status")
            ranking = gr.Dataframe(headers=RANK_HEADERS, interactive=False, elem_id="likeness-table")
    grid_state = gr.State(None)
    at_state = gr.State([0, 0])
    scores_state = gr.State({})
    default_steps = gr.State([])
    ctx.shared["checkpoints_run"] = run
    ctx.shared["chosen"] = chosen_md
    return Widgets(run, refresh, table, previews, step, export_btn, report, exported_file, keep, prune_btn, delete_btn,
                   cleanup_md, prompts, grid_steps, strengths, seeds, model, size, sample_steps, guidance, plan_md,
                   render_btn, stop_btn, score_btn, status, grid_html, viewer_img, viewer_info, viewer_strength, left, up,
                   down, right, ranking, choose_strength, choose_btn, chosen_md, grid_state, at_state, scores_state,
                   default_steps)


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
    def view_of(grid, at, strength, scores):
        """(image, settings text, grid HTML) of the viewer at `at`."""
        path, text = compare_grid.viewer(grid, tuple(at), _as_float(strength), scores)
        return path, text, compare_grid.render(grid, scores, tuple(at))

    @user_errors
    def view(self, grid, at, strength, scores):
        return self.view_of(grid, at, strength, scores)

    @staticmethod
    def checkpoint_rows(found, chosen):
        rows = [[c.step, time.strftime("%Y-%m-%d %H:%M", time.localtime(c.time)), None if c.loss is None else round(c.loss, 4),
                 len(c.previews), "✅" if chosen and chosen.step == c.step else ""] for c in found]
        return rows, [(p, f"step {c.step}") for c in found for p in c.previews]

    def pick_run(self, current):
        """The run list from disk and the run to show: the current one while it exists, else the training one,
        else the newest."""
        runs = self.ctx.workspace.list_runs()
        if current in runs:
            return runs, current
        active = [r.run_id for r in training.active_runs(self.ctx.workspace) if r.run_id in runs]
        return runs, (active[0] if active else (runs[0] if runs else None))

    @user_errors
    def refresh_runs(self, current):
        runs, value = self.pick_run(current)
        return gr.update(choices=runs, value=value)

    @user_errors
    def follow_run(self, run_id):
        if not run_id:
            return gr.skip()
        return gr.update(choices=self.ctx.workspace.list_runs(), value=run_id)

    def plan_text(self, run_id, prompts_text, strengths_text, seeds_text, model_key, size_text, steps_value,
                  guidance_value, grid_steps) -> str:
        """The grid's size and a time estimate, or what is wrong with the fields (one sentence, not a toast)."""
        if not run_id:
            return "Pick a run to see the grid's size and a time estimate."
        try:
            spec = grid_form.grid_spec(self.ctx.workspace, run_id, prompts_text, strengths_text, seeds_text, model=model_key,
                                       size=size_text, sample_steps=steps_value, guidance=guidance_value, steps=grid_steps)
            return grid_estimate.estimate(self.ctx.workspace, spec).summary()
        except AppError as error:
            return f"⚠️ {error}"

    @user_errors
    def plan(self, run_id, *fields):
        return self.plan_text(run_id, *fields)

    @user_errors
    def on_tab(self, current_run, current_step, grid_steps, default_steps):
        """Opening the tab reads the run list and the run's checkpoints from disk again (a training may have run
        meanwhile); the grid's checkpoints follow while they are still the app's pick; the grid and the viewer's
        place are left as they are."""
        runs, run_id = self.pick_run(current_run)
        run_update = gr.update(choices=runs, value=run_id)
        if not run_id or run_id != current_run:  # a new run is loaded by the run's change event
            return run_update, gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        paths = self.paths_of(run_id)
        found = checkpoints.list_checkpoints(paths)
        rows, gallery = self.checkpoint_rows(found, checkpoints.read_chosen(paths))
        steps = [c.step for c in found]
        keep = current_step if current_step in steps else (steps[-1] if steps else None)
        defaults = grid_form.defaults_for_run(self.ctx.workspace, run_id).steps
        picked = [int(s) for s in (grid_steps or [])]
        if not picked or picked == [int(s) for s in (default_steps or [])]:
            picked = defaults  # still the app's pick: follow the new checkpoints
        else:
            picked = [s for s in picked if s in steps] or defaults
        return (run_update, rows, gallery, gr.update(choices=steps, value=keep), gr.update(choices=steps, value=picked),
                defaults)

    @user_errors
    def load_run(self, run_id, prompts_text, strengths_text, seeds_text, sample_steps, guidance):
        """A run picked: its checkpoints, its last grid, and the grid fields set to follow it (its model, its training
        resolution, a few checkpoints spread over the run)."""
        if not run_id:
            return ([], [], gr.update(choices=[]), "No run selected.", None, [0, 0], {}, compare_grid.render(None), None, "",
                    gr.update(choices=[]), gr.update(), gr.update(), gr.update(choices=[], value=[]),
                    "Pick a run to see the grid's size and a time estimate.", [])
        paths = self.paths_of(run_id)
        found = checkpoints.list_checkpoints(paths)
        chosen = checkpoints.read_chosen(paths)
        rows, gallery = self.checkpoint_rows(found, chosen)
        last = compare.last_grid(paths)
        grid = last.to_dict() if last else None
        strengths_choices = grid["spec"]["strengths"] if grid else []
        path, text, html_text = self.view_of(grid, [0, 0], strengths_choices[0] if strengths_choices else None, {})
        defaults = grid_form.defaults_for_run(self.ctx.workspace, run_id)
        plan = self.plan_text(run_id, prompts_text, strengths_text, seeds_text, defaults.model, defaults.size, sample_steps,
                              guidance, defaults.steps)
        return (rows, gallery, gr.update(choices=[c.step for c in found], value=found[-1].step if found else None), self.chosen_text(paths),
                grid, [0, 0], {}, html_text, path, text,
                gr.update(choices=strengths_choices, value=strengths_choices[0] if strengths_choices else None),
                defaults.model, defaults.size, gr.update(choices=defaults.available, value=defaults.steps), plan, defaults.steps)

    @user_errors
    def export(self, run_id, step_value):
        paths = self.paths_of(run_id)
        exported = checkpoints.export_adapter(paths, int(step_value) if step_value not in (None, "") else None)
        report_ = adapters.validate(exported.path, lora_targets.geometry_for(exported.metadata["base_model_key"]))
        meta = exported.metadata
        return (f"✅ {report_.summary()}\n\nTrigger `{meta['trigger_word'] or '-'}` · base `{meta['base_model']}` · "
                f"mflux {meta['mflux_version']} · sha256 `{exported.sha256[:16]}…`"), str(exported.path)

    def after_cleanup(self, run_id, removed, grid_steps):
        paths = self.paths_of(run_id)
        found = checkpoints.list_checkpoints(paths)
        rows, gallery = self.checkpoint_rows(found, checkpoints.read_chosen(paths))
        steps = [c.step for c in found]
        picked = [int(s) for s in (grid_steps or []) if int(s) in steps]
        return (f"🗑 {removed.summary()}", rows, gallery, gr.update(choices=steps, value=steps[-1] if steps else None),
                gr.update(choices=steps, value=picked))

    @user_errors
    def prune(self, run_id, keep, grid_steps):
        removed = checkpoints.prune_checkpoints(self.ctx.workspace, self.paths_of(run_id).run_id, int(keep or 0))
        return self.after_cleanup(run_id, removed, grid_steps)

    @user_errors
    def delete(self, run_id, step_value, grid_steps):
        if step_value in (None, ""):
            raise AppError("No checkpoint step is selected.", "Pick the step under Checkpoint step first.")
        removed = checkpoints.delete_checkpoints(self.ctx.workspace, self.paths_of(run_id).run_id, [int(step_value)])
        return self.after_cleanup(run_id, removed, grid_steps)

    @long_job(GRID)
    def render(self, run_id, prompts_text, strengths_text, seeds_text, model_key, size_text, steps_value, guidance_value,
               grid_steps, *, cancel):
        self.paths_of(run_id)  # a run must be picked
        if grid_steps is not None and not grid_steps:
            raise AppError("No checkpoint is picked for the grid.", "Pick at least one under Checkpoints (rows).")
        spec = grid_form.grid_spec(self.ctx.workspace, run_id, prompts_text, strengths_text, seeds_text, model=model_key,
                                   size=size_text, sample_steps=steps_value, guidance=guidance_value, steps=grid_steps)
        plan = grid_estimate.estimate(self.ctx.workspace, spec)
        grid = None
        started = time.perf_counter()
        strengths = gr.update(choices=spec.strengths, value=spec.strengths[0])
        yield f"⏳ 0/{plan.cells} cells · starting · {plan.summary()}", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            for event in compare.run_grid(self.ctx.workspace, spec, cancel=cancel, settings=self.ctx.settings):
                if "spec" in event.payload:
                    grid = {"spec": event.payload["spec"], "rows": event.payload["rows"], "cells": []}
                if "cell" in event.payload:
                    grid["cells"].append(event.payload["cell"].to_dict())
                if event.result is not None:
                    grid = event.result.to_dict()
                if event.result is None:
                    message = f"⏳ {event.step}/{event.total} cells · {event.message}"
                else:
                    message = f"✅ {event.message} in {time.perf_counter() - started:.1f} s"
                if "cell" in event.payload or "spec" in event.payload or event.result is not None:
                    yield message, grid, compare_grid.render(grid), strengths, [0, 0], {}
                else:  # a step inside an image: only the status line changes
                    yield message, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
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
        per_cell, ranked = likeness.rank(compare.Grid.from_dict(grid), dataset, model=self.ctx.settings.likeness_model,
                                         endpoint=self.ctx.settings.hf_endpoint)
        rows = [[i + 1, "base model" if r.row == "base" else f"step {r.row}", r.score, r.cells] for i, r in enumerate(ranked)]
        path, text, html_text = self.view_of(grid, at, strength, per_cell)
        return per_cell, rows, html_text, path, text, f"Scored {len(per_cell)} cells against {len(dataset)} dataset images."

    def make_move(self, direction):
        @user_errors
        def handler(grid, at, strength, scores):
            new_at = list(compare_grid.move(grid, tuple(at), direction))
            path, text, html_text = self.view_of(grid, new_at, strength, scores)
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
    load_inputs = [w.run, w.prompts, w.strengths, w.seeds, w.sample_steps, w.guidance]
    w.refresh.click(on.refresh_runs, inputs=w.run, outputs=w.run)
    w.run.change(on.load_run, inputs=load_inputs, outputs=w.loaded)
    w.refresh.click(on.load_run, inputs=load_inputs, outputs=w.loaded)
    w.export_btn.click(on.export, inputs=[w.run, w.step], outputs=[w.report, w.exported_file])
    cleaned = [w.cleanup_md, w.table, w.previews, w.step, w.grid_steps]
    w.prune_btn.click(on.prune, inputs=[w.run, w.keep, w.grid_steps], outputs=cleaned)
    w.delete_btn.click(on.delete, inputs=[w.run, w.step, w.grid_steps], outputs=cleaned)
    for field in w.grid_fields:  # the size and the estimate follow every field
        field.change(on.plan, inputs=[w.run, *w.grid_fields], outputs=w.plan_md, show_progress="hidden")
    w.render_btn.click(on.render, inputs=[w.run, *w.grid_fields],
                       outputs=[w.status, w.grid_state, w.grid_html, w.viewer_strength, w.at_state, w.scores_state],
                       concurrency_limit=1).then(on.view, inputs=w.viewer, outputs=[w.viewer_img, w.viewer_info, w.grid_html])
    w.stop_btn.click(GRID.stop_handler("Stopping within the current image…", "Nothing is rendering."), outputs=w.status)
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
    ctx.tab_items[TAB_ID].select(on.on_tab, inputs=[w.run, w.step, w.grid_steps, w.default_steps],
                                 outputs=[w.run, w.table, w.previews, w.step, w.grid_steps, w.default_steps])
