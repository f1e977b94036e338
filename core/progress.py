"""The typed progress event every long operation yields; the UI renders it, the CLI prints it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Progress:
    step: int
    total: int
    message: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
