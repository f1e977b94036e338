"""The Train tab."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext


def build(ctx: UIContext) -> None:
    gr.Markdown("## Train\n\nPick a preset, train with live loss and previews, stop, resume.\n\n_Not built yet (issue #4)._")
