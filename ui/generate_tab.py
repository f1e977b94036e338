"""The Local Generate tab: prompt, seed, size, steps, guidance, model, LoRAs with strengths; one warm model;
progress per step; Stop; a history where every image keeps its settings and can be reused.

The LoRA list holds every run's chosen checkpoint (★, with its strength) and the checkpoints of the run open in the
Checkpoints tab, not every step of every run; the chosen checkpoint and its strength are preselected."""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import dataclass

import gradio as gr

from ui.context import UIContext, follow
from ui.feedback import user_errors
from ui.long_job import LongJob, long_job
from core.generation.local import MAX_SEED, SIZE_PRESETS
from core.models.base import BASE_MODELS
from core.runs.paths import run_paths
from core.checkpoints import store as checkpoints
from core.generation import local as generation
from core.progress import Cancelled
from core.errors import AppError

GENERATE = LongJob("generate")
TAB_ID = "tab-generate"
NO_LORA = "(none)"
MAX_STEPS = 200


def _with(choices: list, path: str) -> list:
    """The LoRA choices plus `path` (an adapter that is no longer listed still shows up when reused)."""
    values = [c[1] if isinstance(c, tuple) else c for c in choices]
    return choices if path in values else choices + [(path.rsplit("/", 1)[-1], path)]


@dataclass
class Widgets:
    prompt: gr.Textbox
    model: gr.Dropdown
    size: gr.Dropdown
    seed: gr.Number
    steps: gr.Number
    guidance: gr.Number
    quantize: gr.Dropdown
    count: gr.Number
    lora1: gr.Dropdown
    strength1: gr.Slider
    lora2: gr.Dropdown
    strength2: gr.Slider
    go: gr.Button
    stop: gr.Button
    refresh: gr.Button
    progress: gr.Markdown
    gallery: gr.Gallery
    settings_view: gr.Code
    reuse: gr.Button
    selected: gr.State

    @property
    def request(self) -> list:
        """The fields of a generation, in the order of Handlers.run."""
        return [self.prompt, self.model, self.size, self.seed, self.steps, self.guidance, self.quantize, self.count,
                self.lora1, self.strength1, self.lora2, self.strength2]


def layout(ctx: UIContext) -> Widgets:
    gr.Markdown("## Local Generate\nThe model stays loaded between images; it is freed when training starts.")
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(label="Prompt", lines=3, elem_id="gen-prompt", placeholder="mira, walking in the rain at night")
            with gr.Row():
                model = gr.Dropdown(choices=[(m.label, m.key) for m in BASE_MODELS.values()], value="flux2-klein-base-4b",
                                    label="Base model", elem_id="gen-model")
                size = gr.Dropdown(choices=list(SIZE_PRESETS), value="portrait 9:16", label="Size", elem_id="gen-size")
            with gr.Row():
                seed = gr.Number(-1, label="Seed (-1: random)", precision=0, minimum=-1, maximum=MAX_SEED, step=1, elem_id="gen-seed")
                steps = gr.Number(0, label="Steps (0: the model's)", precision=0, minimum=0, maximum=MAX_STEPS, step=1,
                                  elem_id="gen-steps")
                guidance = gr.Number(0, label="Guidance (0: the model's)", minimum=0, maximum=20, step=0.1, elem_id="gen-guidance")
                quantize = gr.Dropdown(choices=[("none", 0), ("8-bit", 8), ("4-bit", 4)], value=0, label="Quantize", elem_id="gen-quantize")
                count = gr.Number(1, label="Images", precision=0, minimum=1, maximum=16, step=1, elem_id="gen-count")
            with gr.Row():
                lora1 = gr.Dropdown(choices=[NO_LORA], value=NO_LORA, label="LoRA (★ chosen checkpoints, then the Checkpoints tab's run)",
                                    elem_id="gen-lora", allow_custom_value=True, scale=3)
                strength1 = gr.Slider(-1, 3, value=1.0, step=0.05, label="Strength", elem_id="gen-lora-strength")
            with gr.Row():
                lora2 = gr.Dropdown(choices=[NO_LORA], value=NO_LORA, label="Second LoRA", elem_id="gen-lora2", allow_custom_value=True, scale=3)
                strength2 = gr.Slider(-1, 3, value=1.0, step=0.05, label="Strength", elem_id="gen-lora2-strength")
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="gen-run")
                stop = gr.Button("Stop", elem_id="gen-stop")
                refresh = gr.Button("↻ LoRAs", elem_id="gen-refresh")
            progress = gr.Markdown(elem_id="gen-progress")
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="History (newest first)", columns=3, height=520, elem_id="gen-gallery", allow_preview=True)
            settings_view = gr.Code(label="Settings of the selected image", language="json", elem_id="gen-settings", interactive=False)
            reuse = gr.Button("Reuse these settings", elem_id="gen-reuse")
    selected = gr.State(None)
    return Widgets(prompt, model, size, seed, steps, guidance, quantize, count, lora1, strength1, lora2, strength2, go,
                   stop, refresh, progress, gallery, settings_view, reuse, selected)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def lora_choices(self, run_id=None):
        return [NO_LORA] + [(c.label, c.path) for c in checkpoints.lora_choices(self.ctx.workspace, run_id)]

    def history_items(self):
        return [(str(g.path), f"seed {g.settings.get('seed')}") for g in generation.history(self.ctx.workspace)]

    def preselect(self, run_id):
        """The chosen checkpoint to preselect: the Checkpoints tab run's, else the one chosen most recently."""
        chosen = None
        if run_id and (self.ctx.workspace.runs_dir / run_id).is_dir():
            chosen = checkpoints.read_chosen(run_paths(self.ctx.workspace, run_id))
        return chosen or checkpoints.last_chosen(self.ctx.workspace)

    @user_errors
    def refresh_loras(self, current1, current2, run_id=None):
        """The LoRA lists made current; when no LoRA is picked yet, the chosen checkpoint with its strength (and
        its run's model) is preselected. A LoRA already picked stays."""
        choices = self.lora_choices(run_id)
        values = [c[1] if isinstance(c, tuple) else c for c in choices]
        strength, model = gr.update(), gr.update()
        first = current1
        if not current1 or current1 == NO_LORA or (current1 not in values and not Path(current1).is_file()):
            chosen = self.preselect(run_id)
            first = NO_LORA
            if chosen is not None:
                first, strength = str(chosen.adapter_path), chosen.strength
                record_model = run_paths(self.ctx.workspace, chosen.run_id).read_record().model if chosen.run_id else ""
                if record_model in BASE_MODELS:
                    model = record_model
        second = current2 if current2 and (current2 in values or Path(current2).is_file()) else NO_LORA
        return (gr.update(choices=_with(choices, first) if first != NO_LORA else choices, value=first),
                gr.update(choices=_with(choices, second) if second != NO_LORA else choices, value=second),
                self.history_items(), strength, model)

    @long_job(GENERATE)
    def run(self, prompt_text, model_key, size_name, seed_value, steps_value, guidance_value, quantize_value, count_value,
            path1, scale1, path2, scale2, *, cancel):
        width, height = SIZE_PRESETS[size_name]
        loras = [(str(checkpoints.ensure_adapter(self.ctx.workspace, p)), float(s))
                 for p, s in ((path1, scale1), (path2, scale2)) if p and p != NO_LORA]
        request = generation.GenerateRequest(
            prompt=prompt_text or "", model=model_key, seed=None if seed_value in (None, -1) else int(seed_value), width=width,
            height=height, steps=int(steps_value) if steps_value else None,
            guidance=float(guidance_value) if guidance_value else None,
            loras=loras, quantize=int(quantize_value) or None, count=int(count_value or 1))
        made = []
        try:
            for event in generation.run(self.ctx.workspace, request, cancel=cancel, settings=self.ctx.settings):
                if event.result is not None:
                    made.append(event.result)
                    yield f"✅ {event.message} (seed {event.result.settings['seed']})", self.history_items(), \
                        json.dumps(made[-1].settings, indent=2, ensure_ascii=False), str(made[-1].path)
                else:
                    yield f"⏳ {event.message}", gr.update(), gr.update(), gr.update()
        except Cancelled:
            yield f"⏹ Stopped. {len(made)} image(s) kept.", self.history_items(), gr.update(), gr.update()

    @user_errors
    def select(self, event: gr.SelectData):
        items = generation.history(self.ctx.workspace)
        if event.index is None or event.index >= len(items):
            return gr.update(), None
        item = items[event.index]
        return json.dumps(item.settings, indent=2, ensure_ascii=False), str(item.path)

    @user_errors
    def reuse_settings(self, path):
        if not path:
            raise AppError("No image is selected.", "Click an image in the history first.")
        s = generation.read_settings(path) or {}
        size_name = next((name for name, wh in SIZE_PRESETS.items() if wh == (s.get("width"), s.get("height"))), "square 1024")
        loras = s.get("loras") or []
        first = loras[0] if loras else {"path": NO_LORA, "strength": 1.0}
        second = loras[1] if len(loras) > 1 else {"path": NO_LORA, "strength": 1.0}
        choices = self.lora_choices(None)
        return (s.get("prompt", ""), s.get("model", "flux2-klein-base-4b"), size_name, s.get("seed", -1), s.get("steps"),
                s.get("guidance"), s.get("quantize") or 0,
                gr.update(choices=_with(choices, first["path"]), value=first["path"]), first["strength"],
                gr.update(choices=_with(choices, second["path"]), value=second["path"]), second["strength"])


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    run = ctx.shared.get("checkpoints_run")  # the Checkpoints tab's run: its checkpoints are listed
    inputs = [w.lora1, w.lora2] + ([run] if run is not None else [])
    loras = dict(inputs=inputs, outputs=[w.lora1, w.lora2, w.gallery, w.strength1, w.model])
    w.refresh.click(on.refresh_loras, **loras)
    w.go.click(on.run, inputs=w.request, outputs=[w.progress, w.gallery, w.settings_view, w.selected], concurrency_limit=1)
    w.stop.click(GENERATE.stop_handler("Stopping after the current step…", "Nothing is generating."), outputs=w.progress)
    w.gallery.select(on.select, outputs=[w.settings_view, w.selected])
    w.reuse.click(on.reuse_settings, inputs=w.selected,
                  outputs=[w.prompt, w.model, w.size, w.seed, w.steps, w.guidance, w.quantize, w.lora1, w.strength1, w.lora2,
                           w.strength2])
    if "chosen" in ctx.shared:  # a newly chosen checkpoint appears in the LoRA list (and is preselected if none is)
        follow(ctx.shared["chosen"], on.refresh_loras, **loras)
    if run is not None:
        follow(run, on.refresh_loras, **loras)
    if ctx.blocks is not None:
        ctx.blocks.load(on.refresh_loras, **loras)
    if TAB_ID in ctx.tab_items:
        ctx.tab_items[TAB_ID].select(on.refresh_loras, **loras)
