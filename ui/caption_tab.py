"""The Caption Editor tab."""

from __future__ import annotations

import gradio as gr

from ui.context import UIContext


def build(ctx: UIContext) -> None:
    gr.Markdown("## Caption Editor\n\nAuto-caption with Florence-2 and edit every caption by keyboard, with history and undo.\n\n_Not built yet (issue #3)._")
