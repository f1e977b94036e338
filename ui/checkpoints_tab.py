"""The Checkpoints tab: a run's checkpoints, validated exports, the comparison grid with a keyboard viewer,
likeness scores, and "choose this checkpoint" for Publish."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from ui import compare_grid
from ui.context import UIContext
from ui.feedback import user_errors
from ui.stopping import StopRegistry

STOPS = StopRegistry()
KEYS_HTML = str(Path(__file__).with_name("checkpoints_keys.html"))
TABLE_HEADERS = ["Step", "Saved", "Loss", "Previews", "Chosen"]
RANK_HEADERS = ["Rank", "Checkpoint", "Likeness", "Cells"]
DEFAULT_PROMPTS = "{trigger}, portrait photo, looking at the camera, soft window light\n{trigger} walking down a city street at night, full body"


def _parse_floats(text: str, what: str) -> list[float]:
    from core.errors import AppError

    try:
        values = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise AppError(f"The {what} '{text}' are not numbers.", f"Type {what} separated by commas, e.g. 1.0, 1.5.") from None
    if not values:
        raise AppError(f"No {what} given.", f"Type at least one, e.g. 1.0.")
    return values


def _prompts_text() -> str:
    from core.dataset.preview_prompts import load_test_prompts
    from core.errors import AppError

    try:
        return "\n".join(load_test_prompts())
    except AppError:
        return DEFAULT_PROMPTS


def build(ctx: UIContext) -> None:
    from core.models.base import BASE_MODELS

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

    def paths_of(run_id):
        from core.errors import AppError
        from core.runs.paths import run_paths

        if not run_id:
            raise AppError("No run is selected.", "Pick a run (train one in the Train tab first).")
        return run_paths(ctx.workspace, run_id, must_exist=True)

    def chosen_text(paths) -> str:
        from core.checkpoints import store as checkpoints

        chosen = checkpoints.read_chosen(paths)
        if chosen is None:
            return "No checkpoint chosen yet."
        return f"✅ Chosen: step {chosen.step} at strength {chosen.strength} · `{chosen.adapter_path.name}` · sha256 {chosen.sha256[:12]}…"

    def view(grid, at, strength, scores):
        path, text = compare_grid.viewer(grid, tuple(at), _as_float(strength), scores)
        return path, text, compare_grid.render(grid, scores, tuple(at))

    @user_errors
    def refresh_runs(current):
        runs = ctx.workspace.list_runs()
        return gr.update(choices=runs, value=current if current in runs else (runs[0] if runs else None))

    def checkpoint_rows(found, chosen):
        rows = [[c.step, time.strftime("%Y-%m-%d %H:%M", time.localtime(c.time)), None if c.loss is None else round(c.loss, 4),
                 len(c.previews), "✅" if chosen and chosen.step == c.step else ""] for c in found]
        return rows, [(p, f"step {c.step}") for c in found for p in c.previews]

    @user_errors
    def on_tab(run_id, current_step, evt: gr.SelectData):
        """Opening the tab shows the checkpoints written since (a training may have run meanwhile); the grid and
        the viewer's place are left as they are."""
        from core.checkpoints import store as checkpoints

        if evt.value != "Checkpoints" or not run_id:
            return gr.update(), gr.update(), gr.update()
        paths = paths_of(run_id)
        found = checkpoints.list_checkpoints(paths)
        rows, gallery = checkpoint_rows(found, checkpoints.read_chosen(paths))
        steps = [c.step for c in found]
        keep = current_step if current_step in steps else (steps[-1] if steps else None)
        return rows, gallery, gr.update(choices=steps, value=keep)

    @user_errors
    def load_run(run_id):
        from core.checkpoints import store as checkpoints
        from core.checkpoints import compare

        if not run_id:
            return [], [], gr.update(choices=[]), "No run selected.", None, [0, 0], {}, compare_grid.render(None), None, "", gr.update(choices=[])
        paths = paths_of(run_id)
        found = checkpoints.list_checkpoints(paths)
        chosen = checkpoints.read_chosen(paths)
        rows, gallery = checkpoint_rows(found, chosen)
        last = compare.last_grid(paths)
        grid = last.to_dict() if last else None
        strengths_choices = grid["spec"]["strengths"] if grid else []
        path, text, html_text = view(grid, [0, 0], strengths_choices[0] if strengths_choices else None, {})
        return (rows, gallery, gr.update(choices=[c.step for c in found], value=found[-1].step if found else None), chosen_text(paths),
                grid, [0, 0], {}, html_text, path, text,
                gr.update(choices=strengths_choices, value=strengths_choices[0] if strengths_choices else None))

    @user_errors
    def export(run_id, step_value):
        from core.models import adapters
        from core.checkpoints import store as checkpoints

        paths = paths_of(run_id)
        exported = checkpoints.export_adapter(paths, int(step_value) if step_value not in (None, "") else None)
        report_ = adapters.validate(exported.path, adapters.geometry_for_model(exported.metadata["base_model_key"]))
        meta = exported.metadata
        return (f"✅ {report_.summary()}\n\nTrigger `{meta['trigger_word'] or '-'}` · base `{meta['base_model']}` · "
                f"mflux {meta['mflux_version']} · sha256 `{exported.sha256[:16]}…`"), str(exported.path)

    @user_errors
    def render(run_id, prompts_text, strengths_text, seeds_text, model_key, size_text, steps_value, guidance_value):
        from core.checkpoints import compare
        from core.dataset.preview_prompts import with_trigger
        from core.errors import AppError

        paths = paths_of(run_id)
        trigger = paths.read_record().trigger
        prompt_list = [with_trigger(p, trigger) for p in str(prompts_text).splitlines() if p.strip()]
        if not prompt_list:
            raise AppError("There are no prompts.", "Type at least one prompt.")
        try:
            width, height = (int(v) for v in str(size_text).lower().replace(" ", "").split("x"))
        except ValueError:
            raise AppError(f"The size '{size_text}' is not WIDTHxHEIGHT.", "Type e.g. 1024x1024.") from None
        spec = compare.GridSpec(run_id=paths.run_id, prompts=prompt_list, strengths=_parse_floats(strengths_text, "strengths"),
                                seeds=[int(v) for v in _parse_floats(seeds_text, "seeds")], model=model_key or None,
                                width=width, height=height, sample_steps=int(steps_value) if steps_value else None,
                                guidance=float(guidance_value) if guidance_value else None)
        grid = None
        started = time.perf_counter()
        with STOPS.job("grid") as cancel:
            for event in compare.run_grid(ctx.workspace, spec, cancel=cancel, settings=ctx.settings):
                if "spec" in event.payload:
                    grid = {"spec": event.payload["spec"], "rows": event.payload["rows"], "cells": []}
                if "cell" in event.payload:
                    grid["cells"].append(event.payload["cell"].to_dict())
                if event.result is not None:
                    grid = event.result.to_dict()
                message = f"⏳ {event.step}/{event.total} cells · {event.message}" if event.result is None else \
                    f"✅ {event.message} in {time.perf_counter() - started:.1f} s"
                yield message, grid, compare_grid.render(grid), gr.update(choices=spec.strengths, value=spec.strengths[0]), [0, 0], {}

    def stop():
        return "Stopping after the current cell…" if STOPS.stop("grid") else "Nothing is rendering."

    @user_errors
    def score(run_id, grid, at, strength):
        from core.checkpoints import compare
        from core.checkpoints import likeness
        from core.errors import AppError

        if not grid or not grid.get("cells"):
            raise AppError("There is no grid to score yet.", "Render the grid first.")
        paths = paths_of(run_id)
        dataset = likeness.dataset_images_of_run(ctx.workspace, paths)
        full = compare.Grid(spec=compare.GridSpec(**grid["spec"]), rows=grid["rows"], cells=[compare.Cell(**c) for c in grid["cells"]])
        per_cell, ranked = likeness.rank(full, dataset, model=ctx.settings.likeness_model)
        rows = [[i + 1, "base model" if r.row == "base" else f"step {r.row}", r.score, r.cells] for i, r in enumerate(ranked)]
        path, text, html_text = view(grid, at, strength, per_cell)
        return per_cell, rows, html_text, path, text, f"Scored {len(per_cell)} cells against {len(dataset)} dataset images."

    def make_move(direction):
        @user_errors
        def handler(grid, at, strength, scores):
            new_at = list(compare_grid.move(grid, tuple(at), direction))
            path, text, html_text = view(grid, new_at, strength, scores)
            return new_at, path, text, html_text
        return handler

    @user_errors
    def choose(run_id, grid, at, strength):
        from core.checkpoints import store as checkpoints
        from core.errors import AppError

        if not grid:
            raise AppError("There is no grid to choose from.", "Render the grid, move the viewer to the best checkpoint, then choose.")
        row = grid["rows"][at[0]]
        if row == "base":
            raise AppError("The viewer is on the base model, which has no LoRA to publish.", "Move to a checkpoint row (↑/↓) first.")
        chosen = checkpoints.choose(ctx.workspace, run_id, int(row), float(strength or 1.0))
        return chosen_text(paths_of(run_id)) if chosen else ""

    refresh.click(refresh_runs, inputs=run, outputs=run)
    load_outputs = [table, previews, step, chosen_md, grid_state, at_state, scores_state, grid_html, viewer_img, viewer_info, viewer_strength]
    run.change(load_run, inputs=run, outputs=load_outputs)
    refresh.click(load_run, inputs=run, outputs=load_outputs)
    export_btn.click(export, inputs=[run, step], outputs=[report, exported_file])
    render_btn.click(render, inputs=[run, prompts, strengths, seeds, model, size, sample_steps, guidance],
                     outputs=[status, grid_state, grid_html, viewer_strength, at_state, scores_state], concurrency_limit=1
                     ).then(lambda g, a, s, sc: view(g, a, s, sc), inputs=[grid_state, at_state, viewer_strength, scores_state],
                            outputs=[viewer_img, viewer_info, grid_html])
    stop_btn.click(stop, outputs=status)
    score_btn.click(score, inputs=[run, grid_state, at_state, viewer_strength],
                    outputs=[scores_state, ranking, grid_html, viewer_img, viewer_info, status])
    for button, direction in ((left, "left"), (right, "right"), (up, "up"), (down, "down")):
        # Every key press counts and they run in order (a fast ↓↓ moves two rows): the position lives in server state.
        button.click(make_move(direction), inputs=[grid_state, at_state, viewer_strength, scores_state],
                     outputs=[at_state, viewer_img, viewer_info, grid_html], trigger_mode="multiple",
                     concurrency_limit=1, concurrency_id="checkpoints-viewer", show_progress="hidden")
    viewer_strength.change(lambda g, a, s, sc: view(g, a, s, sc), inputs=[grid_state, at_state, viewer_strength, scores_state],
                           outputs=[viewer_img, viewer_info, grid_html])
    choose_btn.click(choose, inputs=[run, grid_state, at_state, choose_strength], outputs=chosen_md)
    if "run" in ctx.shared:  # the Train tab's run: follow it
        ctx.shared["run"].change(lambda r: gr.update(choices=ctx.workspace.list_runs(), value=r), inputs=ctx.shared["run"], outputs=run)
    if ctx.blocks is not None:
        ctx.blocks.load(refresh_runs, inputs=run, outputs=run)
    if ctx.tabs is not None:
        ctx.tabs.select(on_tab, inputs=[run, step], outputs=[table, previews, step])


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

