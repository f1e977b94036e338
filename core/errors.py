"""One exception family for everything a person can be told.

Each error carries one sentence of what happened and, where there is one, what to do next.
The UI shows `str(error)`; the CLI prints it; tracebacks go to the log file only.
"""

from __future__ import annotations


class AppError(Exception):
    """A failure a person can act on. `message` says what happened, `todo` what to do next."""

    def __init__(self, message: str, todo: str = "") -> None:
        self.message = message.strip()
        self.todo = todo.strip()
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if not self.todo:
            return self.message
        return f"{self.message} {self.todo}"


class SettingsError(AppError):
    """A setting (from .env, the environment or a flag) is missing or malformed."""


class InvalidName(AppError):
    """A dataset or run name cannot be used as a folder name."""


class NotFound(AppError):
    """A dataset, run, checkpoint or file the person named does not exist."""


class ModelError(AppError):
    """A base model is unknown, missing or cannot be loaded."""


class PlatformError(AppError):
    """The machine or Python cannot run what was asked (too old, port in use, no backend)."""

