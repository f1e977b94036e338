"""The app window: a header with the machine's summary and the seven tabs, in the order of the work."""

from __future__ import annotations

import importlib

import gradio as gr

from ui.context import UIContext

# (label, module, elem_id): each module has build(ctx) and fills its own tab.
TABS = (
    ("Dataset", "ui.dataset_tab", "tab-dataset"),
    ("Caption Editor", "ui.caption_tab", "tab-captions"),
    ("Train", "ui.train_tab", "tab-train"),
    ("Checkpoints", "ui.checkpoints_tab", "tab-checkpoints"),
    ("Local Generate", "ui.generate_tab", "tab-generate"),
    ("Publish", "ui.publish_tab", "tab-publish"),
    ("Runware Playground", "ui.playground_tab", "tab-playground"),
)

TITLE = "Story Shorts · Character LoRA"

# HTML snippets (scripts, styles) put in the page's <head>: one file per concern under ui/, e.g. keyboard shortcuts.
HEAD_PATHS: list[str] = []


def header_text(ctx: UIContext) -> str:
    from core.system import diagnose

    diagnosis = diagnose(ctx.settings)
    notes = "".join(f"\n\n⚠️ {note}" for note in diagnosis.problems + diagnosis.warnings)
    return f"**{TITLE}** — {diagnosis.summary()}{notes}"


def build_app(ctx: UIContext) -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        # Filled after the page loads, so start-up does not wait for MLX and disk checks.
        header = gr.Markdown(f"**{TITLE}** — checking this machine…", elem_id="app-header")
        importlib.import_module("ui.selftest_panel").build(ctx)
        ctx.blocks = demo
        with gr.Tabs(elem_id="main-tabs") as tabs:
            ctx.tabs = tabs
            for label, module_name, elem_id in TABS:
                with gr.Tab(label, id=elem_id, elem_id=elem_id):
                    importlib.import_module(module_name).build(ctx)
        demo.load(lambda: header_text(ctx), outputs=header, api_name="doctor")
    return demo
