"""The header's Self-test panel: the same offline pipeline check as `python -m core selftest`, one click."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext
from ui.feedback import user_errors
from ui.stopping import StopRegistry

STOPS = StopRegistry()
HEADERS = ["Stage", "Result", "Seconds", "What was checked"]


def build(ctx: UIContext) -> None:
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

    @user_errors
    def run_selftest():
        from core.selftest import runner as selftest

        rows: list[list] = []
        with STOPS.job("selftest") as cancel:
            for event in selftest.run(ctx.settings, cancel=cancel):
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

    start.click(run_selftest, outputs=[status, table], api_name="selftest", concurrency_limit=1)
    stop.click(lambda: STOPS.stop("selftest") and "Stopping after the current stage…" or "Nothing is running.",
               outputs=status, api_name="selftest_stop")
