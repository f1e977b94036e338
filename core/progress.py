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


class Cancelled(Exception):
    """Raised inside a long operation when its Cancellation was requested; callers report what was kept."""


class Cancellation:
    """A Stop button's token, handed into a long core operation, checked between units of work.

    Thread-safe; `request()` may come from any thread (a UI click, a signal handler)."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early when cancelled; returns True when cancelled."""
        return self._event.wait(seconds)
