"""The Checkpoints tab."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext


def build(ctx: UIContext) -> None:
    gr.Markdown("## Checkpoints\n\nCompare every checkpoint on the same prompts, seeds and strengths; export the winner.\n\n_Not built yet (issue #5)._")
