"""The typed progress event every long operation yields; the UI renders it, the CLI prints it.

    for event in operation(...):          # Progress events; the one that finishes a piece of work carries
        event.result                      # it (a CaptionRun, an ImportReport, a Grid, ...), else None
    result = drain(operation(...))        # run to the end: the generator's return value or the last result
    value = yield from relay(work)        # work(emit) in a thread of its own, its emits yielded here
"""

from __future__ import annotations

import queue
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Generator, Generic, Iterable, Iterator, TypeVar

R = TypeVar("R")
T = TypeVar("T")


@dataclass
class Progress(Generic[R]):
    """One step of a long operation. `payload` holds small live data (a loss value, the stage's name);
    `result` is what a finished piece of work produced (the operation's docstring names its type)."""

    step: int
    total: int
    message: str
    payload: dict[str, Any] = field(default_factory=dict)
    result: R | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def drain(events: Iterable[Any], on_event: Callable[[Any], None] | None = None) -> Any:
    """Run `events` to its end, handing each item to `on_event`; return the generator's return value, or
    when it returns None, the `result` of the last Progress that carried one (None when none did)."""
    iterator: Iterator[Any] = iter(events)
    result = None
    while True:
        try:
            event = next(iterator)
        except StopIteration as done:
            return done.value if done.value is not None else result
        if isinstance(event, Progress) and event.result is not None:
            result = event.result
        if on_event is not None:
            on_event(event)


_DONE = object()


def relay(*works: Callable[[Callable[[T], None]], Any], name: str = "relay") -> Generator[T, None, Any]:
    """Run each `work(emit)` in a thread of its own and yield here, in this thread, whatever they emit, as it
    comes, until all have ended. Returns (use `yield from`) the first work's return value; raises the first
    exception a work raised, once all have ended.

    The threads run to their end even when this generator is dropped (a closed page never leaves a job
    half-run); a work that should stop early watches a Cancellation of its own."""
    events: queue.SimpleQueue = queue.SimpleQueue()
    outcomes: list[dict[str, Any]] = [{} for _ in works]

    def run(work: Callable[[Callable[[T], None]], Any], outcome: dict[str, Any]) -> None:
        try:
            outcome["value"] = work(events.put)
        except BaseException as error:  # handed to the reader, which raises it
            outcome["error"] = error
        finally:
            events.put(_DONE)

    for work, outcome in zip(works, outcomes):
        threading.Thread(target=run, args=(work, outcome), daemon=True, name=name).start()
    running = len(works)
    while running:
        item = events.get()
        if item is _DONE:
            running -= 1
        else:
            yield item
    for outcome in outcomes:
        if "error" in outcome:
            raise outcome["error"]
    return outcomes[0].get("value") if outcomes else None


class Cancelled(Exception):
    """Raised inside a long operation when its Cancellation was requested; callers report what was kept."""


class Cancellation:
    """A Stop button's token, handed into a long core operation, checked between units of work.

    Thread-safe; `request()` may come from any thread (a UI click, a signal handler)."""

    def __init__(self) -> None:
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
