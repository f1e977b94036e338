"""How a tab tells the person that something failed: one sentence on the page, the traceback in the log."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from core.errors import AppError, describe
from core.settings import redact

log = logging.getLogger("ui")


def _as_gradio_error(error: BaseException) -> gr.Error:
    if not isinstance(error, AppError):
        log.exception("unexpected error in a UI handler")
    return gr.Error(redact(describe(error)), print_exception=False)


def user_errors(handler):
    """Wrap a Gradio handler (function or generator) so errors reach the page as one clear sentence."""
    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def generator(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:
                raise _as_gradio_error(error) from None

        return generator

    @functools.wraps(handler)
    def function(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:
            raise _as_gradio_error(error) from None

    return function
