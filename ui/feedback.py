"""How a tab tells the person that something failed: one sentence on the page, the traceback in the log.

A failed handler does not raise to Gradio: a raised error paints a red "Error" box over every output widget of the
event, hiding what the person was working on (the Name box they must fix, the gallery, the viewer) until each box
is closed. Instead, for an event from the app's page, the sentence appears once, in a toast titled "Error" that
closes by itself, and the event's outputs are left as they were (`gr.skip()`), so every widget stays usable. A
handler that wants its own status line to carry the sentence catches the error itself. A call through the API
(gradio_client) still fails with the sentence, so scripts see the error.
"""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from core.errors import AppError, describe
from core.settings import redact

log = logging.getLogger("ui")

ERROR_TITLE = "Error"  # Gradio 6.31 labels a warning toast "Warning" whatever the title
ERROR_SECONDS = 15  # long enough to read two sentences; a toast never covers a widget for good


def error_sentence(error: BaseException) -> str:
    """The one sentence (with what to do next) that the page shows for `error`; secrets redacted."""
    if isinstance(error, gr.Error):
        return redact(str(error.message))
    if not isinstance(error, AppError):
        log.exception("unexpected error in a UI handler")
    return redact(describe(error))


def from_the_page() -> bool:
    """True when the running event came from the app's own page (its requests carry `x-gradio-user: app`)."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    headers = getattr(request, "headers", None) or {}
    return headers.get("x-gradio-user") == "app"


def show_error(error: BaseException) -> None:
    """Show `error` to the page that sent the event, as one sentence, without touching any widget."""
    sentence = error_sentence(error)
    log.info("shown to the person: %s", sentence)
    gr.Warning(sentence, duration=ERROR_SECONDS, title=ERROR_TITLE)


def user_errors(handler):
    """Wrap a Gradio handler (function or generator) so errors reach the page as one clear sentence and the
    event's outputs stay as they were."""
    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def generator(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Exception as error:
                if not from_the_page():
                    raise gr.Error(error_sentence(error), print_exception=False) from None
                show_error(error)
                yield gr.skip()

        return generator

    @functools.wraps(handler)
    def function(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            if not from_the_page():
                raise gr.Error(error_sentence(error), print_exception=False) from None
            show_error(error)
            return gr.skip()

    return function
