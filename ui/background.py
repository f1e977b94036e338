"""Run a core generator in a thread of its own, so closing the page never leaves it half-run.

Gradio stops iterating a handler's generator when the browser goes away; a core operation suspended
inside `jobs.heavy_slot` would then hold the machine until garbage collection. Here the operation runs to
its end (or to its Cancellation) in a worker thread, and the handler only relays its events.
Tabs use it through ui/long_job.py.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def relay(start: Callable[[], Iterator[T]]) -> Iterator[T]:
    events: "queue.Queue" = queue.Queue()

    def work() -> None:
        try:
            for event in start():
                events.put(event)
        except BaseException as error:  # handed to the handler, which shows it as one sentence
            events.put(error)
        finally:
            events.put(_DONE)

    threading.Thread(target=work, daemon=True, name="ui-background").start()
    while True:
        item = events.get()
        if item is _DONE:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
