"""The Runware Playground tab."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext


def build(ctx: UIContext) -> None:
    gr.Markdown("## Runware Playground\n\nGenerate on Runware beside the local image.\n\n_Not built yet (issue #7)._")
