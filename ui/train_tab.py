"""The Train tab: presets, a form and the raw train.json kept in sync, checks, Start/Stop/Resume, live progress.

Shares ctx.shared["run"] (the selected run's Dropdown); follows ctx.shared["dataset"] when the Dataset tab
offers one. The run lists are read from disk on page load and on opening the tab (the running run, else an
interrupted one, else the newest is selected), and the form shows the selected run's settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from core.training import (
    aitoolkit as aitoolkit_import,
    checks as train_checks,
    config as train_config,
    runner as training,
)
from core.models.lora_targets import LAYER_CHOICES
from ui import train_runs
from ui.context import follow, UIContext
from ui.feedback import user_errors
from core.dataset import datasets

FIELDS = ("dataset", "trigger", "model", "epochs", "batch_size", "learning_rate", "rank", "layers", "max_resolution",
          "quantize", "gradient_checkpointing", "low_ram", "save_every", "preview_every", "seed", "preview_prompts")
TAB_ID = "tab-train"
# The log box shows its end: after each new tail and when the tab is opened (a box filled while its tab was hidden
# has no height to scroll). Gradio's own autoscroll gives up for good once a replaced text moves the scroll up. Not
# while the person has put the cursor in the box to read or copy.
SCROLL_LOG_JS = """() => { setTimeout(() => {
    const box = document.querySelector('#train-log textarea');
    if (box && document.activeElement !== box) box.scrollTop = box.scrollHeight;
}, 60); }"""
LEARNING_RATE_STEP = 1e-6
QUANTIZE_CHOICES = [("none (full precision)", "none"), ("8 bit", "8"), ("6 bit", "6"), ("5 bit", "5"), ("4 bit", "4"), ("3 bit", "3")]


def form_from_values(values, raw: dict | None = None) -> train_config.TrainPlan:
    data = dict(zip(FIELDS, values))
    data["quantize"] = None if data["quantize"] in (None, "", "none") else int(data["quantize"])
    data["preview_prompts"] = [line.strip() for line in (data["preview_prompts"] or "").splitlines() if line.strip()]
    for key in ("epochs", "batch_size", "rank", "max_resolution", "save_every", "preview_every", "seed"):
        data[key] = int(data[key] or 0)
    data["learning_rate"] = float(data["learning_rate"] or 0)
    data["dataset"] = data["dataset"] or ""
    data["trigger"] = (data["trigger"] or "").strip()
    return train_config.TrainPlan(**data, raw=raw or {})


def values_from_form(form: train_config.TrainPlan) -> list:
    data = form.to_dict()
    data["quantize"] = "none" if form.quantize is None else str(form.quantize)
    data["preview_prompts"] = "\n".join(form.preview_prompts)
    if data["layers"] not in LAYER_CHOICES:
        data["layers"] = "custom"
    return [data[key] for key in FIELDS]


def check_markdown(result: train_checks.Validation) -> str:
    """The check in the page: a green tick only when nothing needs reading first (no 15 GB download, no days of
    training, a trigger word); the warnings that need reading come first."""
    mark = "✅ " if result.ready else ("⚠️ " if result.ok else "❌ ")
    lines = [mark + result.summary()]
    lines += [f"- ❌ {e}" for e in result.errors]
    lines += [f"- ⚠️ **{w}**" for w in result.attention]
    lines += [f"- ⚠️ {w}" for w in result.warnings if w not in result.attention]
    return "\n".join(lines)


@dataclass
class Widgets:
    memory_gb: float
    notice: gr.Markdown
    memory: gr.Dropdown
    goal: gr.Dropdown
    apply_presets: gr.Button
    preset_note: gr.Markdown
    fields: list  # the form, in the order of FIELDS
    raw: gr.Code
    raw_note: gr.Markdown
    yaml_file: gr.File
    import_report: gr.Markdown
    preset_name: gr.Textbox
    save_preset: gr.Button
    check: gr.Button
    check_out: gr.Markdown
    start: gr.Button
    enqueue: gr.Button
    stop: gr.Button
    run: gr.Dropdown
    resume_step: gr.Dropdown
    resume: gr.Button
    progress: gr.HTML
    plot: gr.LinePlot
    previews: gr.Gallery
    log: gr.Textbox
    history: train_runs.History
    timer: gr.Timer

    @property
    def dataset(self) -> gr.Dropdown:
        return self.fields[FIELDS.index("dataset")]

    @property
    def trigger(self) -> gr.Textbox:
        return self.fields[FIELDS.index("trigger")]

    @property
    def live(self) -> list:
        """What the live view of a run fills in."""
        return [self.progress, self.plot, self.previews, self.log, self.resume_step]


def layout(ctx: UIContext) -> Widgets:
    workspace = ctx.workspace
    memory_gb = train_config.machine_memory_gb()
    machine_preset = train_config.memory_preset_for(memory_gb)
    presets = train_config.list_presets(workspace)
    initial = train_config.compose(workspace, "", "", [machine_preset.name, "goal-character-likeness"])
    initial_config = initial.config(workspace, ctx.settings.cache_dir)
    start_values = dict(zip(FIELDS, values_from_form(initial)))
    gr.Markdown("## Train\nPick presets, check, start. Progress, loss and previews update live; Stop saves a checkpoint first.")
    notice = gr.Markdown("", elem_id="train-notice")
    with gr.Row():
        memory = gr.Dropdown([(p.label, p.name) for p in presets if p.kind == "memory"], value=machine_preset.name,
                             label=f"Memory preset (this machine: {memory_gb:.0f} GB)", elem_id="train-memory-preset")
        goal = gr.Dropdown([(p.label, p.name) for p in presets if p.kind != "memory"], value="goal-character-likeness",
                           label="Goal preset", elem_id="train-goal-preset")
        apply_presets = gr.Button("Apply presets", elem_id="train-apply-presets")
    preset_note = gr.Markdown("", elem_id="train-preset-note")
    with gr.Row():
        dataset = gr.Dropdown(choices=workspace.list_datasets(), label="Dataset", allow_custom_value=True, elem_id="train-dataset")
        trigger = gr.Textbox(label="Trigger word", placeholder="e.g. m1ra", elem_id="train-trigger",
                             info="The made-up word that calls the character in prompts; the captions should contain it.")
        model = gr.Radio([("FLUX.2 klein Base 4B", "flux2-klein-base-4b"), ("Self-test (tiny)", "selftest")],
                         value="flux2-klein-base-4b", label="Model", elem_id="train-model")
    with gr.Accordion("Settings", open=True, elem_id="train-settings"):
        with gr.Row():
            epochs = gr.Number(value=start_values["epochs"], label="Epochs", precision=0, minimum=1, maximum=100_000, step=1,
                               elem_id="train-epochs")
            batch_size = gr.Number(value=start_values["batch_size"], label="Batch size", precision=0, minimum=1, maximum=64,
                                   step=1, elem_id="train-batch-size")
            # The browser's step decides which values are valid and what ArrowUp adds: a step of 1 marked 0.0001
            # invalid and jumped to 1. Every learning rate with up to six decimals is valid here.
            learning_rate = gr.Number(value=start_values["learning_rate"], label="Learning rate (0.0001 is usual)",
                                      minimum=0, maximum=1, step=LEARNING_RATE_STEP, elem_id="train-lr")
            rank = gr.Number(value=start_values["rank"], label="LoRA rank", precision=0, minimum=1, maximum=256, step=1,
                             elem_id="train-rank")
            layers = gr.Dropdown([(text, key) for key, text in LAYER_CHOICES.items()] + [("Custom (edit the JSON)", "custom")],
                                 value=start_values["layers"], label="Which layers", elem_id="train-layers")
        with gr.Row():
            max_resolution = gr.Number(value=start_values["max_resolution"], label="Resolution (max side, px; a multiple of 16)",
                                       precision=0, minimum=16, maximum=4096, step=16, elem_id="train-resolution")
            quantize = gr.Dropdown(QUANTIZE_CHOICES, value=start_values["quantize"], label="Quantize base weights")
            gradient_checkpointing = gr.Checkbox(value=start_values["gradient_checkpointing"], label="Gradient checkpointing (less memory, ~30% slower)")
            low_ram = gr.Checkbox(value=start_values["low_ram"], label="Low RAM (encoded images on disk)")
        with gr.Row():
            save_every = gr.Number(value=start_values["save_every"], label="Save a checkpoint every N steps", precision=0,
                                   minimum=1, maximum=1_000_000, step=1, elem_id="train-save-every")
            preview_every = gr.Number(value=start_values["preview_every"], label="Preview every N steps (0 = off)", precision=0,
                                      minimum=0, maximum=1_000_000, step=1, elem_id="train-preview-every")
            seed = gr.Number(value=start_values["seed"], label="Seed", precision=0, minimum=0, maximum=2**32 - 1, step=1,
                             elem_id="train-seed")
        preview_prompts = gr.Textbox(label="Preview prompts (one per line; saved as preview*.txt in the dataset)", lines=3,
                                     elem_id="train-preview-prompts")
    fields = [dataset, trigger, model, epochs, batch_size, learning_rate, rank, layers, max_resolution, quantize,
              gradient_checkpointing, low_ram, save_every, preview_every, seed, preview_prompts]
    with gr.Accordion("Raw train.json (everything mflux 0.24.0 accepts; kept in sync with the form)", open=False):
        raw = gr.Code(train_config.to_json(initial_config), language="json", label="train.json", interactive=True, max_lines=30, elem_id="train-raw-json")
        raw_note = gr.Markdown("")
    with gr.Accordion("Import an ai-toolkit config (FLUX.1 Dev LoRA .yaml)", open=False):
        yaml_file = gr.File(label="ai-toolkit .yaml", file_types=[".yaml", ".yml"], elem_id="train-aitoolkit-file")
        import_report = gr.Markdown("", elem_id="train-import-report")
    with gr.Row():
        preset_name = gr.Textbox(label="Save these settings as a preset named", scale=3)
        save_preset = gr.Button("Save preset", scale=1)
    check = gr.Button("Check", elem_id="train-check")
    check_out = gr.Markdown("", elem_id="train-check-result")
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="train-start")
        enqueue = gr.Button("Add to queue", elem_id="train-queue")
        stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
    with gr.Row():
        # Filled from disk when the page loads and when the tab is opened (choices given here would be the runs
        # of the app's start, and a reloaded page would show those).
        run = gr.Dropdown(choices=[], value=None, label="Run", elem_id="train-run", scale=3)
        resume_step = gr.Dropdown(choices=["latest"], value="latest", label="Resume from checkpoint (step)", elem_id="train-resume-step", scale=1)
        resume = gr.Button("Resume", elem_id="train-resume", scale=1)
    ctx.shared["run"] = run
    progress = gr.HTML(train_runs.progress_html(None), elem_id="train-progress")
    with gr.Row():
        plot = gr.LinePlot(x="step", y="loss", color="series", title="Loss", height=260, elem_id="train-loss-plot")
        previews = gr.Gallery(label="Previews (newest first)", columns=3, height=260, elem_id="train-previews")
    log = gr.Textbox(label="Worker log (tail, newest last)", lines=6, max_lines=12, autoscroll=True, elem_id="train-log")
    history = train_runs.history_layout(ctx)
    timer = gr.Timer(1.5)
    return Widgets(memory_gb, notice, memory, goal, apply_presets, preset_note, fields, raw, raw_note, yaml_file,
                   import_report, preset_name, save_preset, check, check_out, start, enqueue, stop, run, resume_step,
                   resume, progress, plot, previews, log, history, timer)


class Handlers:
    def __init__(self, ctx: UIContext, memory_gb: float) -> None:
        self.ctx = ctx
        self.workspace = ctx.workspace
        self.memory_gb = memory_gb

    # --- form <-> raw JSON -----------------------------------------------------------------
    @user_errors
    def config_text(self, config_json: str, *values) -> str:
        try:
            config = train_config.parse_json(config_json) if config_json and config_json.strip() else train_config.default_config()
        except train_config.ConfigError:
            config = train_config.default_config()
        return train_config.to_json(form_from_values(values, config).config(self.workspace, self.ctx.settings.cache_dir))

    @user_errors
    def raw_to_form(self, config_json: str, *values):
        old = form_from_values(values)
        try:
            config = train_config.parse_json(config_json)
        except train_config.ConfigError as error:
            return [gr.update()] * len(FIELDS) + [f"⚠️ {error}"]
        form = train_config.TrainPlan.from_config(config, old.dataset, old.trigger, old.preview_prompts)
        return values_from_form(form) + ["Form updated from the JSON."]

    @user_errors
    def apply(self, memory_name, goal_name, *values):
        workspace = self.workspace
        form = form_from_values(values)
        form = train_config.compose(workspace, form.dataset, form.trigger, [memory_name, goal_name], memory_gb=self.memory_gb)
        form.preview_prompts = form_from_values(values).preview_prompts
        chosen = [train_config.get_preset(n, workspace) for n in (memory_name, goal_name)]
        images = len(train_config.dataset_images(workspace.dataset_images_dir(form.dataset))) if form.dataset else None
        note = train_config.preset_note(chosen, form, images)  # what the form now has, not the presets' blurbs
        config = form.config(workspace, self.ctx.settings.cache_dir)
        return values_from_form(form) + [train_config.to_json(config), note]

    @user_errors
    def import_yaml(self, file, config_json, *values):
        workspace = self.workspace
        if not file:
            return [gr.update()] * (len(FIELDS) + 2)
        form = form_from_values(values, train_config.parse_json(config_json))
        images = len(train_config.dataset_images(workspace.dataset_images_dir(form.dataset))) if form.dataset else None
        imported = aitoolkit_import.import_file(file, form, images)
        config = imported.plan.config(workspace, self.ctx.settings.cache_dir)
        return values_from_form(imported.plan) + [train_config.to_json(config), imported.report_markdown()]

    @user_errors
    def save_named(self, name, config_json, *values):
        workspace = self.workspace
        preset = train_config.save_preset(workspace, name, form_from_values(values, train_config.parse_json(config_json)))
        choices = [(p.label, p.name) for p in train_config.list_presets(workspace) if p.kind != "memory"]
        gr.Info(f"Saved preset '{preset.name}'.")
        return gr.update(choices=choices, value=preset.name)

    # --- check, start, stop, resume --------------------------------------------------------
    def current(self, config_json, values) -> train_config.TrainPlan:
        return form_from_values(values, train_config.parse_json(config_json))

    @user_errors
    def run_check(self, config_json, *values):
        form = self.current(config_json, values)
        return check_markdown(training.check(self.workspace, self.ctx.settings, form, memory_gb=self.memory_gb))

    def starter(self, queue: bool):
        @user_errors
        def go(config_json, *values):
            plan = self.current(config_json, values)
            started = training.start(self.workspace, self.ctx.settings, plan, queue=queue)
            gr.Info(f"{'Queued' if queue else 'Started'} {started.run_id}.")
            if not plan.trigger:
                gr.Warning("This run has no trigger word: prompts will have no word that calls the character.")
            return gr.update(choices=train_runs.run_choices(self.ctx), value=started.run_id), f"Started run {started.run_id}."

        return go

    @user_errors
    def press_stop(self, run_id):
        if not run_id:
            raise training.TrainingError("No run is selected.", "Pick the run to stop in the Run list.")
        before = training.status(self.workspace, run_id).status
        after = training.stop(self.workspace, run_id)
        if before == "stopping":
            gr.Warning("Stopped at once (second press); the last periodic checkpoint is kept.")
        else:
            gr.Info("Stopping at the next step; a checkpoint is saved first.")
        return train_runs.progress_html(after)

    @user_errors
    def press_resume(self, run_id, step):
        if not run_id:
            raise training.TrainingError("No run is selected.", "Pick the run to resume in the Run list.")
        busy = bool(training.active_runs(self.workspace))
        resumed = training.resume(self.workspace, run_id, step=int(step) if step and step != "latest" else None, queue=busy)
        gr.Info(f"Resuming {run_id}" + (" after the running training." if busy else "."))
        return gr.update(choices=train_runs.run_choices(self.ctx), value=resumed.run_id)

    @user_errors
    def rerun(self, run_id):
        if not run_id:
            raise training.TrainingError("No run is selected.", "Pick a run in the Run list.")
        form = training.load_run_config(self.workspace, run_id)
        gr.Info(f"Loaded {run_id}'s settings; change what you want and press Start.")
        return values_from_form(form) + [train_config.to_json(form.raw)]

    @user_errors
    def form_of_run(self, run_id):
        """The selected run's settings in the form (its exact train.json in the raw editor), so that what the form
        shows, and what Start would launch, is that run's model and values, also after a reload."""
        if not run_id:
            return gr.skip()
        form = training.load_run_config(self.workspace, run_id)
        note = (f"The form shows the settings of run **{run_id}** ({train_config.model_label(form.model)}). "
                "Change them and press Start for a new run; Resume continues the run itself.")
        return values_from_form(form) + [train_config.to_json(form.raw), note]

    @user_errors
    def lists(self, run_id, left, right):
        """Every list on the tab read from disk again (on page load and when the tab is opened)."""
        return train_runs.run_lists(self.ctx, run_id, left, right).outputs()

    @user_errors
    def choices(self):
        """The datasets and the goal presets (saved ones included) as they are on disk now; the values are left as
        they are (the selected run's settings may be filling them in at the same moment)."""
        goals = [(p.label, p.name) for p in train_config.list_presets(self.workspace) if p.kind != "memory"]
        return gr.update(choices=self.workspace.list_datasets()), gr.update(choices=goals)

    # --- live view -------------------------------------------------------------------------
    def tick(self, run_id):  # not wrapped: render() shows nothing for a broken run rather than a toast every tick
        return train_runs.render(self.ctx, run_id)

    @user_errors
    def pick_run(self, run_id):
        return (*train_runs.render(self.ctx, run_id)[:4], gr.update(value="latest"))

    @user_errors
    def follow_dataset(self, name):
        return gr.update(choices=self.workspace.list_datasets(), value=name)

    @user_errors
    def dataset_trigger(self, name, current):
        if current or not name:
            return gr.update()

        try:
            return datasets.open_dataset(self.workspace, name).trigger or gr.update()
        except Exception:  # a dataset folder made by hand has no settings: leave the field as it is
            return gr.update()


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx, w.memory_gb)
    fields = w.fields
    for component in fields:
        component.input(on.config_text, inputs=[w.raw, *fields], outputs=w.raw)
    w.raw.input(on.raw_to_form, inputs=[w.raw, *fields], outputs=[*fields, w.raw_note])
    w.apply_presets.click(on.apply, inputs=[w.memory, w.goal, *fields], outputs=[*fields, w.raw, w.preset_note])
    w.yaml_file.upload(on.import_yaml, inputs=[w.yaml_file, w.raw, *fields], outputs=[*fields, w.raw, w.import_report])
    w.save_preset.click(on.save_named, inputs=[w.preset_name, w.raw, *fields], outputs=w.goal)

    w.check.click(on.run_check, inputs=[w.raw, *fields], outputs=w.check_out)
    w.start.click(on.starter(False), inputs=[w.raw, *fields], outputs=[w.run, w.check_out], concurrency_limit=1, concurrency_id="train-start")
    w.enqueue.click(on.starter(True), inputs=[w.raw, *fields], outputs=[w.run, w.check_out], concurrency_limit=1, concurrency_id="train-start")
    w.stop.click(on.press_stop, inputs=w.run, outputs=w.progress)
    w.resume.click(on.press_resume, inputs=[w.run, w.resume_step], outputs=w.run)
    train_runs.wire_history(ctx, w.history, w.run, w.notice)
    w.history.rerun.click(on.rerun, inputs=w.run, outputs=[*fields, w.raw])

    w.timer.tick(on.tick, inputs=w.run, outputs=w.live, show_progress="hidden")
    follow(w.run, on.pick_run, inputs=w.run, outputs=w.live, show_progress="hidden")
    follow(w.run, on.form_of_run, inputs=w.run, outputs=[*fields, w.raw, w.preset_note], show_progress="hidden")
    # Every list is read from disk when the page loads (a reload, a second browser tab) and when the tab is opened.
    lists = dict(fn=on.lists, inputs=[w.run, w.history.left, w.history.right],
                 outputs=[w.run, w.history.table, w.history.left, w.history.right, w.notice], show_progress="hidden")
    choices = dict(fn=on.choices, outputs=[w.dataset, w.goal], show_progress="hidden")
    for event in (ctx.blocks.load, ctx.tab_items[TAB_ID].select):
        event(**lists)
        event(**choices)
    w.log.change(None, js=SCROLL_LOG_JS)
    ctx.tab_items[TAB_ID].select(None, js=SCROLL_LOG_JS)
    shared_dataset = ctx.shared.get("dataset")
    if shared_dataset is not None:
        follow(shared_dataset, on.follow_dataset, inputs=shared_dataset, outputs=w.dataset)
    w.dataset.change(on.dataset_trigger, inputs=[w.dataset, w.trigger], outputs=w.trigger)
