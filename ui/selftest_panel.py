"""The header's Self-test panel: the same offline pipeline check as `python -m core selftest`, one click."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui.context import UIContext
from ui.long_job import LongJob, long_job
from core.selftest import runner as selftest

SELFTEST = LongJob("selftest")
HEADERS = ["Stage", "Result", "Seconds", "What was checked"]


@dataclass
class Widgets:
    start: gr.Button
    stop: gr.Button
    status: gr.Markdown
    table: gr.Dataframe


def layout(ctx: UIContext) -> Widgets:
    with gr.Accordion("Self-test: check this install offline (a few minutes)", open=False, elem_id="selftest-panel"):
        gr.Markdown(
            "Runs the whole pipeline on a tiny random model in a throwaway workspace: your datasets, runs and "
            "tokens are not touched, and nothing goes to the internet."
        )
        with gr.Row():
            start = gr.Button("Run self-test", variant="primary", elem_id="selftest-run")
            stop = gr.Button("Stop", elem_id="selftest-stop")
        status = gr.Markdown(elem_id="selftest-status")
        table = gr.Dataframe(headers=HEADERS, interactive=False, wrap=True, elem_id="selftest-table")
    return Widgets(start, stop, status, table)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    @long_job(SELFTEST)
    def run_selftest(self, *, cancel):
        rows: list[list] = []
        for event in selftest.run(self.ctx.settings, cancel=cancel):
            state = event.payload.get("state")
            if state == "running":
                yield f"⏳ {event.message} ({event.step + 1}/{event.total})", rows
            elif state:
                result = event.result
                rows = rows + [[result.title, state, round(result.seconds, 1), result.detail]]
                yield f"{event.step}/{event.total} stages done", rows
            elif event.result is not None:
                mark = "✅" if event.result.ok else "❌"
                yield f"{mark} {event.message}", rows


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    w.start.click(on.run_selftest, outputs=[w.status, w.table], api_name="selftest", concurrency_limit=1)
    w.stop.click(SELFTEST.stop_handler("Stopping after the current stage…", "Nothing is running."),
                 outputs=w.status, api_name="selftest_stop")
