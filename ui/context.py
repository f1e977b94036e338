"""What every tab gets when it is built: the settings, the workspace and the shared components."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.settings import Settings
from core.workspace import Workspace


@dataclass
class UIContext:
    settings: Settings
    # Components a tab offers to the tabs built after it, by a domain name: e.g. "dataset" (the
    # Dropdown of the current dataset), "run" (the current run), "chosen" (the chosen checkpoint).
    # Tabs are built in the order of the work, so a later tab may wire itself to an earlier one's.
    shared: dict[str, Any] = field(default_factory=dict)
    blocks: Any = None  # the gr.Blocks being built (for demo.load hooks)
    tabs: Any = None  # the gr.Tabs (to switch tab from code)

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.settings.workspace)
