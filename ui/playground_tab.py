"""The Runware Playground tab: generate on Runware with the LoRA, compare with the local image, batch reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ui.context import UIContext
from ui.publish_overview import chosen_run
from ui.feedback import user_errors
from ui.long_job import long_job, LongJob
from core.playground.report import load_report, SAMPLER_NOTE
from core.playground import pairs as playground, report as playground_report, spend
from core.runs.paths import run_paths
from core.runware.cloud import CloudRequest, generate as cloud_generate, LoraRef, total_cost

TAB_ID = "tab-playground"
COMPARISON = LongJob("playground")  # a batch of test prompts or one compared prompt: one Stop ends either
BASES = [("FLUX.2 klein 4B Base · runware:400@5", "runware:400@5"), ("FLUX.2 klein 4B distilled · runware:400@4", "runware:400@4")]
SIZES = ["1024x1024", "768x1344 (9:16)", "1344x768 (16:9)", "896x1152 (3:4)", "512x512", "128x128 (quick test)"]
MAX_SEED = 2**31 - 1  # what both mflux and Runware accept
MAX_STEPS = 100
MAX_CFG = 20.0
TABLE_HEADERS = ["#", "Prompt", "Local", "Runware", "Likeness local", "Likeness Runware", "SSIM", "Cost $"]


def _size(text: str) -> tuple[int, int]:
    width, _, rest = str(text).partition("x")
    return int(width), int(rest.split()[0])


def _optional(value, cast):
    return cast(value) if value not in (None, "") and float(value) > 0 else None


def _money(value: float | None) -> str:
    return "not reported" if value is None else f"${value:.4f}"


def _cost_text(today, request_cost: float | None = None, what: str | None = "This request") -> str:
    """The last request's cost and today's total (a core.playground.spend.Spend), kept across reloads."""
    count = today.requests
    total = (f"**Today's total:** ${today.dollars:.4f} over {count} request{'s' if count != 1 else ''}"
             + (f" ({today.unpriced} without a reported cost)" if today.unpriced else ""))
    last = f"**{what}:** {_money(request_cost)} · " if what else ""
    return (f"{last}{total} · _every Runware request of this Playground today ({today.day}, this workspace), "
            "kept across reloads_")


def _rows(report) -> list[list]:
    def side(image, error):
        return "✓" if image else (error or "…")

    def score(value):
        return "" if value is None else round(value, 3)

    return [[p.index + 1, p.prompt, side(p.local_image, p.local_error), side(p.cloud_image, p.cloud_error),
             score(p.likeness_local), score(p.likeness_cloud), score(p.ssim), "" if p.cost is None else p.cost]
            for p in report.pairs]


def _pair_view(report, index: int):
    """Slider value, local image, Runware image and the scores text of one pair of a report."""
    if report is None or not report.pairs:
        return None, None, None, ""
    pair = report.pairs[max(0, min(index, len(report.pairs) - 1))]
    local, cloud = report.path(pair.local_image), report.path(pair.cloud_image)
    slider = (str(local), str(cloud)) if local and cloud else None
    lines = [f"**{pair.index + 1}. {pair.prompt}** · seed {pair.seed}"]
    if pair.ssim is not None:
        lines.append(f"SSIM (pixel structure, expected to be low across samplers): **{pair.ssim:.3f}**")
    for label, value in (("Likeness to the dataset, local", pair.likeness_local),
                         ("Likeness to the dataset, Runware", pair.likeness_cloud)):
        if value is not None:
            lines.append(f"{label}: **{value:.3f}**")
    for label, error in (("Local", pair.local_error), ("Runware", pair.cloud_error)):
        if error:
            lines.append(f"⚠️ {label}: {error}")
    lines += [f"⚠️ {note}" for note in report.notes if note.startswith("Likeness was not scored")]
    if pair.cost is not None:
        lines.append(f"Runware cost: {_money(pair.cost)}")
    lines.append(f"_{report.note}_")
    return slider, str(local) if local else None, str(cloud) if cloud else None, "\n\n".join(lines)


def _pair_choices(report) -> list[tuple[str, int]]:
    return [(f"{p.index + 1}. {p.prompt[:60]}", p.index) for p in report.pairs] if report else []


@dataclass
class Widgets:
    report_state: gr.State
    run: gr.Dropdown
    refresh: gr.Button
    base: gr.Radio
    lora: gr.Textbox
    weight: gr.Slider
    prompt: gr.Textbox
    seed: gr.Number
    size: gr.Dropdown
    steps: gr.Number
    cfg: gr.Number
    results: gr.Slider
    generate_btn: gr.Button
    compare_btn: gr.Button
    cost: gr.Markdown
    gallery: gr.Gallery
    slider: gr.ImageSlider
    local_img: gr.Image
    cloud_img: gr.Image
    scores: gr.Markdown
    concurrency: gr.Slider
    with_local: gr.Checkbox
    batch_btn: gr.Button
    stop_btn: gr.Button
    progress: gr.Markdown
    table: gr.Dataframe
    pair_pick: gr.Dropdown
    reports: gr.Dropdown
    open_btn: gr.Button
    report_link: gr.Markdown

    @property
    def batch_outputs(self) -> list:
        return [self.progress, self.table, self.slider, self.local_img, self.cloud_img, self.scores, self.pair_pick,
                self.reports, self.report_state, self.cost]

    @property
    def request(self) -> list:
        """One Runware request's fields, in the order of Handlers.generate."""
        return [self.run, self.base, self.lora, self.weight, self.prompt, self.seed, self.size, self.steps, self.cfg,
                self.results]


def layout(ctx: UIContext) -> Widgets:
    key = ctx.settings.secrets_status()["RUNWARE_API_KEY"]
    gr.Markdown(f"## Runware Playground\nGenerate on Runware with your LoRA and compare with the local image. "
                f"RUNWARE_API_KEY: {key}.\n\n_{SAMPLER_NOTE}_", elem_id="playground-intro")
    report_state = gr.State(None)
    with gr.Row():
        # The runs are filled in when the page loads and whenever the tab opens (never frozen at app start).
        run = gr.Dropdown([], label="Run (LoRA AIR and local adapter come from it)",
                          value=None, allow_custom_value=False, elem_id="playground-run", scale=3)
        refresh = gr.Button("↻ Runs", elem_id="playground-refresh", scale=0)
    with gr.Row():
        base = gr.Radio(BASES, value="runware:400@5", label="Runware base model", elem_id="playground-base")
        lora = gr.Textbox(label="LoRA AIR (source:id@version; empty = base model only)", elem_id="playground-lora")
        weight = gr.Slider(-4, 4, value=1.0, step=0.05, label="LoRA weight / strength", elem_id="playground-weight")
    prompt = gr.Textbox(label="Prompt ({trigger} is replaced by the run's trigger word)", lines=2,
                        elem_id="playground-prompt")
    with gr.Row():
        seed = gr.Number(7, label="Seed", precision=0, minimum=0, maximum=MAX_SEED, step=1, elem_id="playground-seed")
        size = gr.Dropdown(SIZES, value=SIZES[0], label="Size", elem_id="playground-size")
        steps = gr.Number(0, label="Steps (0 = model default)", precision=0, minimum=0, maximum=MAX_STEPS, step=1,
                          elem_id="playground-steps")
        cfg = gr.Number(0, label="CFG / guidance (0 = default)", minimum=0, maximum=MAX_CFG, step=0.1,
                        elem_id="playground-cfg")
        results = gr.Slider(1, 4, value=1, step=1, label="Number of results", elem_id="playground-results")
    with gr.Row():
        generate_btn = gr.Button("Generate on Runware", variant="primary", elem_id="playground-generate")
        compare_btn = gr.Button("Compare with local (same settings)", elem_id="playground-compare")
    cost = gr.Markdown("", elem_id="playground-cost")  # today's total, read from the workspace on load
    gallery = gr.Gallery(label="Runware images", columns=4, height=320, preview=False, object_fit="contain", fit_columns=False,
                         elem_id="playground-gallery")

    gr.Markdown("### Local vs Runware")
    slider = gr.ImageSlider(label="Drag: local (left) · Runware (right)", type="filepath", elem_id="playground-slider")
    with gr.Row():
        local_img = gr.Image(label="Local (mflux)", type="filepath", interactive=False, elem_id="playground-local")
        cloud_img = gr.Image(label="Runware", type="filepath", interactive=False, elem_id="playground-cloud")
    scores = gr.Markdown("", elem_id="playground-scores")

    gr.Markdown("### Test prompts on both sides (config/test_prompts.json)")
    with gr.Row():
        concurrency = gr.Slider(1, 16, value=8, step=1, label="Runware requests at once", elem_id="playground-concurrency")
        with_local = gr.Checkbox(True, label="Also generate locally (queued on the warm model)", elem_id="playground-with-local")
    with gr.Row():
        batch_btn = gr.Button("Run all test prompts", variant="primary", elem_id="playground-batch")
        stop_btn = gr.Button("Stop", variant="stop", elem_id="playground-stop")
    progress = gr.Markdown("", elem_id="playground-progress")
    table = gr.Dataframe(headers=TABLE_HEADERS, value=[], interactive=False, wrap=True, max_height=420,
                         column_widths=["4%", "28%", "17%", "17%", "9%", "9%", "8%", "8%"], elem_id="playground-table")
    with gr.Row():
        pair_pick = gr.Dropdown([], label="Show pair", elem_id="playground-pair")
        reports = gr.Dropdown([], label="Saved reports of this run", elem_id="playground-reports")
        open_btn = gr.Button("Open report", elem_id="playground-open", scale=0)
    report_link = gr.Markdown("", elem_id="playground-report-link")
    return Widgets(report_state, run, refresh, base, lora, weight, prompt, seed, size, steps,
                   cfg, results, generate_btn, compare_btn, cost, gallery, slider, local_img, cloud_img, scores,
                   concurrency, with_local, batch_btn, stop_btn, progress, table, pair_pick, reports, open_btn,
                   report_link)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def report_names(self, run_id):
        if not run_id:
            return []
        return [r.name for r in playground_report.list_reports(run_paths(self.ctx.workspace, run_id))]

    @user_errors
    def pick_run(self, run_id):
        if not run_id:
            return gr.update(), gr.update(), gr.update(choices=[], value=None)
        facts = playground.run_facts(self.ctx.workspace, run_id)
        names = self.report_names(run_id)
        return (facts.lora_air or "", facts.strength if facts.strength is not None else gr.update(),
                gr.update(choices=names, value=names[0] if names else None))

    @staticmethod
    def request_from(base_air, lora_air, weight_value, text, seed_value, size_text, steps_value, cfg_value, count):
        width, height = _size(size_text)
        loras = (LoraRef(lora_air.strip(), float(weight_value)),) if (lora_air or "").strip() else ()
        return CloudRequest(text, model=base_air, loras=loras, seed=int(seed_value) if seed_value not in (None, "") else None,
                            width=width, height=height, steps=_optional(steps_value, int), cfg=_optional(cfg_value, float),
                            number_results=int(count))

    @user_errors
    def generate(self, run_id, base_air, lora_air, weight_value, text, seed_value, size_text, steps_value, cfg_value, count):
        if run_id:
            text = playground.with_trigger(text, playground.run_facts(self.ctx.workspace, run_id).trigger)
        request = self.request_from(base_air, lora_air, weight_value, text, seed_value, size_text, steps_value, cfg_value, count)
        images = cloud_generate(self.ctx.settings, request)
        spent = total_cost(images)
        today = spend.add(self.ctx.workspace, spent)
        return [str(i.path) for i in images], _cost_text(today, spent)

    def today_text(self) -> str:
        return _cost_text(spend.today(self.ctx.workspace), what=None)

    @user_errors
    def cost_now(self):
        """Page load: today's total as it is on disk."""
        return self.today_text()

    def run_batch(self, run_id, base_air, lora_air, weight_value, prompts, seed_value, size_text, steps_value, cfg_value,
                  parallel, local_too, cancel):
        if not run_id:
            raise gr.Error("Pick a run first: its LoRA AIR, adapter and dataset are used.", print_exception=False)
        width, height = _size(size_text)
        report = None
        runner = playground.compare_stages(
            self.ctx.settings, run_id, prompts=prompts, lora_air=(lora_air or "").strip() or None,
            strength=float(weight_value), base_air=base_air, seed=int(seed_value or 0), width=width,
            height=height, steps=_optional(steps_value, int), guidance=_optional(cfg_value, float),
            local=bool(local_too), concurrency=int(parallel), cancel=cancel)
        first = True
        for event in runner:
            if event.result is not None:
                report = event.result
            current = playground.load_report(event.payload["report"]) if "report" in event.payload else None
            # The previous report's pair is not this one's: cleared when the new report starts.
            cleared = (None, None, None, "", gr.update(choices=[], value=None)) if first else (gr.update(),) * 5
            first = False
            yield (f"{event.message} ({event.step}/{event.total})", _rows(current) if current else gr.update(),
                   *cleared, gr.update(), gr.update(), self.today_text())
        names = self.report_names(run_id)
        view = _pair_view(report, 0)
        notes = "".join(f"\n\n⚠️ {n}" for n in report.notes if n.startswith("Likeness was not scored"))
        yield (f"Report {report.status}: {report.counts()['runware_done']}/{len(report.pairs)} on Runware, "
               f"{report.counts()['local_done']}/{len(report.pairs)} local.{notes}", _rows(report), *view,
               gr.update(choices=_pair_choices(report), value=0), gr.update(choices=names, value=report.name),
               str(report.folder), _cost_text(spend.today(self.ctx.workspace), report.total_cost, "This comparison"))

    @long_job(COMPARISON)
    def compare_one(self, run_id, base_air, lora_air, weight_value, text, seed_value, size_text, steps_value, cfg_value,
                    _count, parallel, local_too, *, cancel):
        if not (text or "").strip():
            raise gr.Error("Type a prompt to compare.", print_exception=False)
        yield from self.run_batch(run_id, base_air, lora_air, weight_value, [text], seed_value, size_text, steps_value,
                                  cfg_value, parallel, local_too, cancel)

    @long_job(COMPARISON)
    def batch(self, run_id, base_air, lora_air, weight_value, seed_value, size_text, steps_value, cfg_value, parallel,
              local_too, *, cancel):
        yield from self.run_batch(run_id, base_air, lora_air, weight_value, None, seed_value, size_text, steps_value,
                                  cfg_value, parallel, local_too, cancel)

    @user_errors
    def open_report(self, run_id, name):
        if not (run_id and name):
            raise gr.Error("Pick a run and one of its saved reports.", print_exception=False)
        report = playground.reopen(self.ctx.settings, run_id, name)
        return (_rows(report), *_pair_view(report, 0), gr.update(choices=_pair_choices(report), value=0),
                str(report.folder), f"Report {report.name} ({report.status}): open `{report.folder / 'report.html'}` "
                f"in a browser to share it.")

    @user_errors
    def show_pair(self, folder, index):
        if not folder or index is None:
            return None, None, None, ""
        return _pair_view(load_report(Path(folder)), int(index))

    @user_errors
    def runs(self, current=None):
        """The current runs, keeping the one shown while it exists, else the one with the checkpoint chosen for
        publishing, else the newest."""
        names = self.ctx.workspace.list_runs()
        if current in names:
            return gr.update(choices=names, value=current)
        return gr.update(choices=names, value=chosen_run(self.ctx.settings, names) or (names[0] if names else None))

    @user_errors
    def on_tab(self, run_id, typed_air, report_name):
        """Opening the tab: the LoRA published since the run was picked (a typed AIR is left alone), the run's
        saved reports as they are now (the one shown kept) and today's total."""
        if not run_id:
            return gr.update(), gr.update(), self.today_text()
        air = gr.update() if (typed_air or "").strip() else (playground.run_facts(self.ctx.workspace, run_id).lora_air
                                                             or gr.update())
        names = self.report_names(run_id)
        reports = gr.update(choices=names, value=report_name if report_name in names else (names[0] if names else None))
        return air, reports, self.today_text()

    @staticmethod
    def pick_row(evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return gr.update(value=int(row))


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    w.refresh.click(on.runs, inputs=w.run, outputs=w.run)
    w.run.change(on.pick_run, inputs=w.run, outputs=[w.lora, w.weight, w.reports])
    # Opening the tab or loading the page: the runs, the run's reports and today's total as they are on disk now.
    ctx.tab_items[TAB_ID].select(on.runs, inputs=w.run, outputs=w.run).then(
        on.on_tab, inputs=[w.run, w.lora, w.reports], outputs=[w.lora, w.reports, w.cost])
    if ctx.blocks is not None:
        ctx.blocks.load(on.runs, inputs=w.run, outputs=w.run).then(on.cost_now, outputs=w.cost)
    w.generate_btn.click(on.generate, inputs=w.request, outputs=[w.gallery, w.cost], concurrency_limit=4)
    w.compare_btn.click(on.compare_one, inputs=w.request + [w.concurrency, w.with_local],
                        outputs=w.batch_outputs, concurrency_id="playground-batch", concurrency_limit=1)
    w.batch_btn.click(on.batch, inputs=[w.run, w.base, w.lora, w.weight, w.seed, w.size, w.steps, w.cfg, w.concurrency,
                                        w.with_local],
                      outputs=w.batch_outputs, concurrency_id="playground-batch", concurrency_limit=1)
    w.stop_btn.click(COMPARISON.stop_handler())
    w.open_btn.click(on.open_report, inputs=[w.run, w.reports],
                     outputs=[w.table, w.slider, w.local_img, w.cloud_img, w.scores, w.pair_pick, w.report_state, w.report_link])
    w.pair_pick.change(on.show_pair, inputs=[w.report_state, w.pair_pick], outputs=[w.slider, w.local_img, w.cloud_img, w.scores])
    w.table.select(on.pick_row, outputs=w.pair_pick)
    # It does not follow the Train tab's run: that one is selected when the page loads (the running or newest run)
    # and would replace the run the person picked here, or the one with the chosen checkpoint (like Publish).
