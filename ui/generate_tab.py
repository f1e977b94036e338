"""The Local Generate tab."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext


def build(ctx: UIContext) -> None:
    gr.Markdown("## Local Generate\n\nGenerate locally with one warm model and your LoRAs.\n\n_Not built yet (issue #5)._")
