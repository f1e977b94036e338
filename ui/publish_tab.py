"""The Publish tab."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext


def build(ctx: UIContext) -> None:
    gr.Markdown("## Publish\n\nPublish to the Hugging Face Hub and register on Runware.\n\n_Not built yet (issue #6)._")
