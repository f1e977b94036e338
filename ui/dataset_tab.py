"""The Dataset tab."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext


def build(ctx: UIContext) -> None:
    gr.Markdown("## Dataset\n\nImport a folder of images, check it before training, and keep it in mflux's layout.\n\n_Not built yet (issue #3)._")
