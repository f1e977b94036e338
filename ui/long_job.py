"""A tab's long job (an import, a grid, a generation, a publish…) in one decorator.

    GRID = LongJob("grid")

    @long_job(GRID)
    def render(run_id, prompts_text, *, cancel):      # the event's inputs, then the job's Cancellation
        for event in compare.run_grid(..., cancel=cancel):
            yield status, grid_html                   # the event's outputs

    render_btn.click(render, inputs=[run, prompts], outputs=[status, grid_html], concurrency_limit=1)
    stop_btn.click(GRID.stop_handler("Stopping after the current cell…", "Nothing is rendering."), outputs=status)

What it wraps:
- the background relay (ui/background.py): the handler's body runs in a thread of its own, so closing the page
  never leaves the machine's heavy slot held by a half-run generator;
- a Stop that belongs to the page that started the job (ui/stopping.py, keyed by the request's session hash):
  Stop in another browser tab or window finds nothing of its own and says so;
- the one-sentence errors (ui/feedback.py); a job ended by its own Stop (core's Cancelled) ends quietly.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Iterator, TypeVar

import gradio as gr

from core.progress import Cancellation, Cancelled
from ui.background import relay
from ui.feedback import user_errors
from ui.stopping import STOPS, StopRegistry

T = TypeVar("T")


def session_of(request: gr.Request | None) -> str | None:
    """The browser page an event came from (Gradio gives each page load its own session hash)."""
    return getattr(request, "session_hash", None) if request is not None else None


@dataclass(frozen=True)
class LongJob:
    key: str  # unique in the app: one job of this kind per page at a time
    registry: StopRegistry = field(default=STOPS, compare=False)

    def run(self, request: gr.Request | None, work: Callable[[Cancellation], Iterator[T]]) -> Iterator[T]:
        """Run `work(cancel)` in the background under this page's Stop, relaying what it yields."""
        session = session_of(request)

        def in_background() -> Iterator[T]:
            with self.registry.job(self.key, session) as cancel:
                try:
                    yield from work(cancel)
                except Cancelled:
                    return  # stopped by this page's Stop: what was kept is the job's own report

        return relay(in_background)

    def stop(self, request: gr.Request | None) -> bool:
        """Stop this page's job; False when this page runs none (another page's job is never touched)."""
        return self.registry.stop(self.key, session_of(request))

    def running(self, request: gr.Request | None) -> bool:
        return self.registry.running(self.key, session_of(request))

    def stop_handler(self, stopping: str | None = None, idle: str | None = None) -> Callable:
        """A Stop button's handler: `stopping` when this page's job was asked to stop, else `idle`."""

        def stop(request: gr.Request):
            return stopping if self.stop(request) else idle

        stop.__name__ = f"stop_{self.key}".replace("-", "_")
        return stop


def long_job(job: LongJob) -> Callable:
    """Turn `body(*inputs, cancel)` (a generator of the event's outputs) into a Gradio handler `(*inputs, request)`.

    Gradio reads a handler's signature to hand it the request; the body's own signature (less `cancel`) plus a
    `request: gr.Request` parameter is what it sees. Works on functions and on methods."""

    def decorate(body: Callable[..., Iterator]) -> Callable:
        signature = inspect.signature(body)
        inputs = [p for p in signature.parameters.values() if p.name != "cancel"]
        count = len(inputs)
        request_parameter = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                              annotation=gr.Request)

        def handler(*args, **kwargs):
            request = args[count] if len(args) > count else kwargs.get("request")
            values = args[:count]
            yield from job.run(request, lambda cancel: body(*values, cancel=cancel))

        handler.__signature__ = signature.replace(parameters=[*inputs, request_parameter])
        handler.__annotations__ = {"request": gr.Request}
        handler.__name__, handler.__qualname__, handler.__doc__ = body.__name__, body.__qualname__, body.__doc__
        handler.__module__ = body.__module__
        return user_errors(handler)

    return decorate
