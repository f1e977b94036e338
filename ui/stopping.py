"""Stop buttons that really stop, and only their own page's job: Gradio's `cancels=` does not reliably end a
running generator, so each long job registers a core Cancellation under (browser session, job key) and the
Stop button of that same session requests it. A Stop pressed in another browser tab finds nothing of its own.

    with STOPS.job("import", session) as cancel:
        for event in core_call(..., cancel=cancel): ...
    STOPS.stop("import", session)

ui/long_job.py wraps this for the tabs; the session is the Gradio request's session hash (one per page load).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from core.progress import Cancellation


class StopRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str | None, str], Cancellation] = {}

    @contextlib.contextmanager
    def job(self, key: str, session: str | None) -> Iterator[Cancellation]:
        cancel = Cancellation()
        with self._lock:
            self._jobs[(session, key)] = cancel
        try:
            yield cancel
        finally:
            with self._lock:
                if self._jobs.get((session, key)) is cancel:
                    del self._jobs[(session, key)]

    def stop(self, key: str, session: str | None) -> bool:
        """Request a stop; False when this session runs nothing under that key."""
        with self._lock:
            cancel = self._jobs.get((session, key))
        if cancel is None:
            return False
        cancel.request()
        return True

    def running(self, key: str, session: str | None) -> bool:
        with self._lock:
            return (session, key) in self._jobs


STOPS = StopRegistry()  # the app's one registry: keys are per tab ("grid", "generate", ...), sessions per page
