"""Stop buttons that really stop: Gradio's `cancels=` does not reliably end a running generator, so each
long job registers a core Cancellation under a key and its Stop button requests it.

    STOPS = StopRegistry()
    def run(...):
        with STOPS.job("import") as cancel:
            for event in core_call(..., cancel=cancel): yield ...
    stop_button.click(lambda: STOPS.stop("import"))
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from core.progress import Cancellation


class StopRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Cancellation] = {}

    @contextlib.contextmanager
    def job(self, key: str) -> Iterator[Cancellation]:
        cancel = Cancellation()
        with self._lock:
            self._jobs[key] = cancel
        try:
            yield cancel
        finally:
            with self._lock:
                if self._jobs.get(key) is cancel:
                    del self._jobs[key]

    def stop(self, key: str) -> bool:
        """Request a stop; False when nothing under that key is running."""
        with self._lock:
            cancel = self._jobs.get(key)
        if cancel is None:
            return False
        cancel.request()
        return True

    def running(self, key: str) -> bool:
        with self._lock:
            return key in self._jobs
