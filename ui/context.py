"""What every tab gets when it is built: the settings and the workspace."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from core.workspace import Workspace


@dataclass
class UIContext:
    settings: Settings

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.settings.workspace)
