"""What every tab gets when it is built: the settings, the workspace, the shared components and the tab items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.settings import Settings
from core.workspace import Workspace


@dataclass
class UIContext:
    settings: Settings
    # Components a tab offers to the other tabs, by a domain name: "dataset" (the Dropdown of the current
    # dataset), "run" (the Train tab's run), "checkpoints_run", "chosen" (the chosen checkpoint's line).
    # Every tab's layout() runs before any wire(), so a tab may wire itself to any other tab's components.
    shared: dict[str, Any] = field(default_factory=dict)
    blocks: Any = None  # the gr.Blocks being built (for demo.load hooks)
    tabs: Any = None  # the gr.Tabs (to switch tab from code, and its select event)
    tab_items: dict[str, Any] = field(default_factory=dict)  # each gr.Tab by its id (ui/shell.py TABS)

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.settings.workspace)


def follow(component, fn, inputs=None, outputs=None, **options):
    """Listen to `.change` of a component that several listeners watch (the dataset picker, the run, the chosen
    checkpoint). Gradio 6.31 with its default for change events (trigger_mode "always_last") re-dispatches the
    whole event to every listener whenever a deferred one finishes, and while another is still running that one
    is deferred in turn: the listeners chase each other for ever (the dataset picker's endless loop after an
    early Create). Each change runs each listener once instead, in order (one at a time per listener)."""
    options.setdefault("concurrency_limit", 1)
    return component.change(fn, inputs, outputs, trigger_mode="multiple", **options)
