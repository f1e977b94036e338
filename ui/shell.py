"""The app window: a header with the machine's summary and the seven tabs, in the order of the work.

Every tab module has layout(ctx) (builds its widgets, returns them in a small typed holder) and wire(ctx, widgets)
(connects their events). All layouts run first, then all wires, so any tab may listen to any other tab's widgets.
"""

from __future__ import annotations

import importlib

import gradio as gr

from ui.context import UIContext
from core.system import diagnose

# (label, module, id): the tab's id is also its elem_id; a tab knows it was opened by its id, never by its label.
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


def selected_tab(event: gr.SelectData) -> str | None:
    """The id of the tab that a gr.Tabs select event opened (Gradio sends the tab's position in TABS)."""
    index = event.index
    if isinstance(index, str):
        return index
    if isinstance(index, int) and 0 <= index < len(TABS):
        return TABS[index][2]
    return None


def header_text(ctx: UIContext) -> str:
    diagnosis = diagnose(ctx.settings)
    notes = "".join(f"\n\n⚠️ {note}" for note in diagnosis.problems + diagnosis.warnings)
    return f"**{TITLE}** — {diagnosis.summary()}{notes}"


def build_app(ctx: UIContext) -> gr.Blocks:
    selftest_panel = importlib.import_module("ui.selftest_panel")
    modules = [(importlib.import_module(module_name), elem_id) for _, module_name, elem_id in TABS]
    with gr.Blocks(title=TITLE) as demo:
        # Filled after the page loads, so start-up does not wait for MLX and disk checks.
        header = gr.Markdown(f"**{TITLE}** — checking this machine…", elem_id="app-header")
        panel = selftest_panel.layout(ctx)
        ctx.blocks = demo
        laid_out = []
        with gr.Tabs(elem_id="main-tabs") as tabs:
            ctx.tabs = tabs
            for (label, _, elem_id), (module, _) in zip(TABS, modules):
                with gr.Tab(label, id=elem_id, elem_id=elem_id) as item:
                    ctx.tab_items[elem_id] = item
                    laid_out.append((module, module.layout(ctx)))
        selftest_panel.wire(ctx, panel)
        for module, widgets in laid_out:
            module.wire(ctx, widgets)
        demo.load(lambda: header_text(ctx), outputs=header, api_name="doctor")
    return demo
