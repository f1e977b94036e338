"""Run a core generator in a thread of its own, so closing the page never leaves it half-run.

Gradio stops iterating a handler's generator when the browser goes away; a core operation suspended
inside `jobs.heavy_slot` would then hold the machine until garbage collection. Here the operation runs to
its end (or to its Cancellation) in a worker thread (core.progress.relay), and the handler only relays its events.
Tabs use it through ui/long_job.py.
"""

from __future__ import annotations

from typing import Callable, Iterator, TypeVar

from core.progress import drain, relay as relay_from_thread

T = TypeVar("T")


def relay(start: Callable[[], Iterator[T]]) -> Iterator[T]:
    return relay_from_thread(lambda emit: drain(start(), emit), name="ui-background")
