"""Every error a person can be told, and the one place that turns any exception into the sentence they read.

huggingface_hub's errors.py is the model: one module of exception classes with typed fields, grouped by where
they come from. Each is an AppError: `message` says what happened, `todo` what to do next, `str(error)` is both.
Failures with a standard sentence build it here from their fields (`RunwareTimeout(doing=..., seconds=...)`);
a raise site with something more precise to say passes its own message and todo.

Code tells failures apart by class, never by a string: `except RunwareAuthError`, `isinstance(e, HubRepoExists)`.
A library's exception is translated into one of these next to that library's client: huggingface_hub in
core.publishing.hub, runware-sdk in core.runware.session, mflux in core.training.worker.

    describe(error)   # the sentence for ANY exception: the UI, the CLI and the training worker show this
    as_app_error(error)   # the same as an AppError (an unexpected exception becomes UnexpectedError)

Secrets are not removed here (this kernel module sits below core.settings): show `redact(describe(error))`.
Tracebacks go to the log file only.
"""

from __future__ import annotations

from pathlib import Path

from core.constants import BASE_AIR, DISTILLED_AIR

LOG_HINT = "The details are in outputs/logs/app.log."


class AppError(Exception):
    """A failure a person can act on. `message` says what happened, `todo` what to do next.

    Subclasses with a standard sentence override `sentence()`; it is used when no message is given."""

    def __init__(self, message: str = "", todo: str = "") -> None:
        if not message:
            message, todo = self.sentence()
        self.message = message.strip()
        self.todo = todo.strip()
        super().__init__(self.__str__())

    def sentence(self) -> tuple[str, str]:
        """(message, todo) built from the error's fields, for errors raised without a message."""
        return "Something went wrong.", LOG_HINT

    def __str__(self) -> str:
        if not self.todo:
            return self.message
        return f"{self.message} {self.todo}"


def as_app_error(error: BaseException) -> AppError:
    """`error` itself when it is ours, else an UnexpectedError wrapping it."""
    return error if isinstance(error, AppError) else UnexpectedError(error)


def describe(error: BaseException) -> str:
    """The sentence a person reads for any exception: what happened, then what to do next."""
    return str(as_app_error(error))


class UnexpectedError(AppError):
    """An exception that is not ours (a bug, or a library failing in a way nobody translated); `error` is it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        super().__init__()

    def sentence(self) -> tuple[str, str]:
        text = str(self.error).strip().rstrip(".") or type(self.error).__name__
        return f"Something went wrong: {text}.", LOG_HINT


# --- the kernel: settings, names, files, models, the machine ---


class SettingsError(AppError):
    """A setting (from .env, the environment or a flag) is missing or malformed."""


class InvalidName(AppError):
    """A dataset or run name cannot be used as a folder name."""


class NotFound(AppError):
    """A dataset, run, checkpoint or file the person named does not exist."""


class ModelError(AppError):
    """A base model is unknown, missing or cannot be loaded."""


class ModelDownloadFailed(ModelError):
    """A model's files could not be fetched from the Hub this app uses: `host` is where it really asked (HF_ENDPOINT,
    else huggingface.co), so the sentence never blames a host that was not contacted. Used by likeness scoring in
    the Checkpoints and Playground tabs (core.checkpoints.likeness.fetch_model) and open to any model download."""

    def __init__(self, message: str = "", todo: str = "", *, what: str = "", repo: str = "", host: str = "",
                 detail: str = "", setting: str = "") -> None:
        self.what, self.repo, self.host, self.detail, self.setting = what, repo, host, detail, setting
        super().__init__(message, todo)

    def sentence(self) -> tuple[str, str]:
        why = f": {self.detail}" if self.detail else ""
        todo = f"Check that {self.host} can be reached and has {self.repo or 'the model'} (HF_ENDPOINT sets the host), then try again"
        if self.setting:
            todo += f", or set {self.setting} to a local folder that holds the model"
        return f"{self.what or 'The model'} ({self.repo}) could not be downloaded from {self.host}{why}.", todo + "."


class PlatformError(AppError):
    """The machine or Python cannot run what was asked (too old, port in use, no backend)."""


# --- the rooms: files, datasets, captions, adapters, training, checkpoints, publishing ---


class DiskFull(PlatformError):
    """A write that did not fit on the disk (or under the file-size limit); nothing was left behind."""

    def __init__(self, path: Path):
        super().__init__(f"The disk is full: {Path(path).name} could not be written and nothing was changed.",
                         f"Free some space on the disk holding {Path(path).parent}, then try again.")
        self.path = Path(path)


class Busy(AppError):
    """The heavy slot is taken and the caller did not want to wait (any longer)."""


class DatasetExists(AppError):
    """A dataset of that name is already there."""


class ImageRejected(AppError):
    """One file could not become a training image; the message names the file and the reason."""


class CaptionEncodingError(AppError):
    """A caption file is not UTF-8 text; it is left exactly as it is."""


class AdapterError(AppError):
    """An adapter file is unreadable, foreign, or does not fit the model."""


class ConfigError(AppError):
    """A training config cannot be read, built or saved."""


class AiToolkitImportError(AppError):
    """The file is not an ai-toolkit config this importer can read."""


class TrainingError(AppError):
    """A training cannot be started, stopped or resumed as asked."""


class CheckpointError(AppError):
    """A checkpoint zip is missing, corrupt or not one mflux wrote."""


class PublishError(AppError):
    """Publishing cannot start or continue (nothing chosen, bad repo name, AIR missing)."""


class PublicationError(AppError):
    """A file would leave the machine that must not (not allowlisted, holds a secret, unreadable)."""


# --- training (translated from mflux's and the system's exceptions by core.training.worker) ---


class TrainingFailed(AppError):
    """The training worker stopped on an error; `detail` is what the error said."""

    def __init__(self, message: str = "", todo: str = "", *, detail: str = "") -> None:
        self.detail = detail
        super().__init__(message, todo)

    def sentence(self) -> tuple[str, str]:
        return f"Training failed: {self.detail}", "See the log below; fix the setting it names and resume or start again."


class TrainingOutOfMemory(TrainingFailed):
    def sentence(self) -> tuple[str, str]:
        return ("Training ran out of memory.",
                "Pick a smaller memory preset (lower resolution, quantize, gradient checkpointing) and resume.")


class TrainingDiskFull(TrainingFailed):
    def sentence(self) -> tuple[str, str]:
        return ("The disk is full, so a checkpoint could not be written.",
                "Free some disk space, then resume from the last checkpoint.")


class TrainingDataChanged(TrainingFailed):
    def sentence(self) -> tuple[str, str]:
        return (f"The dataset changed since this run started ({self.detail}).",
                "Restore the images the run was trained on, or start a new run.")


# --- the model card ---


class ModelCardError(AppError):
    """The model card cannot be used as it is (broken front matter, missing base model)."""


# --- the Hugging Face Hub (translated from huggingface_hub's errors by core.publishing.hub) ---


class HubError(AppError):
    """A Hub request failed. `status`: the HTTP status when there was one; `action`: what was being done
    ("create the repo alice/mira"); `repo_id`: the repo, when there was one."""

    def __init__(self, message: str = "", todo: str = "", *, status: int | None = None, action: str = "",
                 repo_id: str = "") -> None:
        self.status, self.action, self.repo_id = status, action, repo_id
        super().__init__(message, todo)

    @property
    def _where(self) -> str:
        return f" {self.repo_id}" if self.repo_id else ""

    def sentence(self) -> tuple[str, str]:
        if self.status is not None and self.status >= 500:
            return (f"The Hub had a server error ({self.status}) while trying to {self.action}.",
                    "Publish again in a few minutes; finished steps are not repeated.")
        if self.status is not None:
            return (f"The Hub answered {self.status} while trying to {self.action}.",
                    "Check the repo name and publish again; details are in outputs/logs/app.log.")
        return f"The Hub call to {self.action} failed.", "Details are in outputs/logs/app.log."


class HubAuthError(HubError):
    """The Hub refused the token (401)."""

    def sentence(self) -> tuple[str, str]:
        return (f"The Hub refused HF_TOKEN while trying to {self.action} (invalid or expired token).",
                "Create a new token with write access at https://huggingface.co/settings/tokens and put it in .env "
                "as HF_TOKEN.")


class HubTokenMissing(HubAuthError):
    """HF_TOKEN is not set; nothing was sent."""

    def sentence(self) -> tuple[str, str]:
        return ("HF_TOKEN is not set, so nothing can be published to the Hugging Face Hub.",
                "Create a token with write access at https://huggingface.co/settings/tokens, put HF_TOKEN=... in .env "
                "and restart the app.")


class HubPermissionError(HubError):
    """The token may not do this (403, a gated or disabled repo, a read-only token)."""

    def sentence(self) -> tuple[str, str]:
        return (f"Your token may not write to{self._where or ' this repo'} on the Hub (trying to {self.action}).",
                "Use a token with the 'write' role, or a repo name under your own account.")


class HubRepoNotFound(HubError):
    """The repo (or the revision asked for) does not exist (404)."""

    def sentence(self) -> tuple[str, str]:
        return (f"The Hub repo{self._where} was not found (trying to {self.action}).",
                "Check the repo name, or let publishing create it.")


class HubRepoExists(HubError):
    """The repo name is already taken (409 on create)."""

    def sentence(self) -> tuple[str, str]:
        return (f"The repo name{self._where} is already taken on your account.",
                "Pick another repo name, or tick 'Add a new version to an existing repo' (CLI: --existing).")


class HubCommitConflict(HubError):
    """Someone committed since the head this commit builds on (412)."""

    def sentence(self) -> tuple[str, str]:
        return (f"Someone committed to{self._where} while this version was being prepared.",
                "Publish again: the new commit will build on the latest one.")


class HubRateLimited(HubError):
    """Too many requests (429)."""

    def sentence(self) -> tuple[str, str]:
        return (f"The Hub is rate-limiting this account (trying to {self.action}).",
                "Wait a few minutes and publish again; finished steps are not repeated.")


class HubTimeout(HubError):
    """The Hub did not answer within the bounds of core.publishing.hub.TIMEOUTS."""

    def sentence(self) -> tuple[str, str]:
        return (f"The Hub did not answer in time while trying to {self.action}.",
                "Check your internet connection and publish again; finished steps are not repeated.")


class HubConnectionError(HubError):
    """The Hub could not be reached at all."""

    def sentence(self) -> tuple[str, str]:
        return (f"Could not reach the Hub while trying to {self.action}.",
                "Check your internet connection and publish again.")


# --- Runware (translated from runware-sdk's errors by core.runware.session) ---

SIZE_HINT = "Use multiples of 64 between 128 and 2048, e.g. 1024x1024 or 768x1344 for 9:16."


class RunwareError(AppError):
    """A Runware failure. `code`: runware-sdk's stable code (auth, quota, notFound, ...) when the SDK raised it;
    `doing`: what was being done ("the image request")."""

    def __init__(self, message: str = "", todo: str = "", *, code: str | None = None,
                 doing: str = "the request") -> None:
        self.code, self.doing = code, doing
        super().__init__(message, todo)

    def sentence(self) -> tuple[str, str]:
        return f"Runware could not finish {self.doing}.", "Try again; the details are in outputs/logs/app.log."


class RunwareAuthError(RunwareError):
    """Runware refused the API key."""

    def sentence(self) -> tuple[str, str]:
        return ("Runware refused the API key (RUNWARE_API_KEY).",
                "Copy a valid key from my.runware.ai (API Keys) into .env as RUNWARE_API_KEY and restart.")


class RunwareKeyMissing(RunwareAuthError):
    """RUNWARE_API_KEY is not set; nothing was sent."""

    def sentence(self) -> tuple[str, str]:
        return ("RUNWARE_API_KEY is not set.",
                "Create a key at my.runware.ai (API Keys), put RUNWARE_API_KEY=... in .env and restart.")


class RunwareCreditError(RunwareError):
    """The account has no credit left."""

    def sentence(self) -> tuple[str, str]:
        return ("Your Runware account has no credit left for this request.",
                "Add credit at my.runware.ai (Billing), then run it again.")


class RunwareRateLimited(RunwareError):
    def sentence(self) -> tuple[str, str]:
        return ("Runware is limiting how fast requests may be sent.",
                "Wait a minute, or lower the batch concurrency, and try again.")


class RunwareTimeout(RunwareError):
    """Runware did not answer within `seconds` (None: within the bound of the call)."""

    def __init__(self, message: str = "", todo: str = "", *, seconds: float | None = None, code: str | None = None,
                 doing: str = "the request") -> None:
        self.seconds = seconds
        super().__init__(message, todo, code=code, doing=doing)

    def sentence(self) -> tuple[str, str]:
        within = f" within {self.seconds:.0f} s" if self.seconds else " in time"
        return (f"Runware did not answer {self.doing}{within}.",
                "Check your connection (and status.runware.ai), then try again.")


class RunwareConnectionError(RunwareError):
    """Runware could not be reached; `detail` is what the connection said."""

    def __init__(self, message: str = "", todo: str = "", *, detail: str = "", code: str | None = None,
                 doing: str = "the request") -> None:
        self.detail = detail
        super().__init__(message, todo, code=code, doing=doing)

    def sentence(self) -> tuple[str, str]:
        return (f"Could not reach Runware ({self.detail}).",
                "Check your internet connection (and RUNWARE_WS_URL if you set it), then try again.")


class RunwareDropped(RunwareConnectionError):
    """The connection dropped while a request was in flight (it may still have run, and be charged)."""

    def sentence(self) -> tuple[str, str]:
        return (f"The connection to Runware dropped before {self.doing} finished.",
                "Check your internet connection and run it again (a lost request may still be charged).")


class RunwareInvalidRequest(RunwareError):
    """The request itself cannot run (checked here before sending, or refused by Runware for what it asks)."""


class RunwareUnknownAir(RunwareInvalidRequest):
    """Runware does not know `air` (a LoRA when `lora`, else a base model), or it is not an AIR at all."""

    def __init__(self, message: str = "", todo: str = "", *, air: str = "", lora: bool = False,
                 code: str | None = None, doing: str = "the request") -> None:
        self.air, self.lora = air, lora
        super().__init__(message, todo, code=code, doing=doing)

    def sentence(self) -> tuple[str, str]:
        if self.lora:
            return (f"Runware does not know the LoRA {self.air or 'you named'} (or it does not fit this base model).",
                    "Check the AIR (source:id@version) in the publish record, or register the LoRA first.")
        return (f"Runware does not know the model {self.air or 'you named'}.",
                f"Use {BASE_AIR} (FLUX.2 klein 4B Base) or {DISTILLED_AIR} (4B distilled).")


class RunwareInvalidSize(RunwareInvalidRequest):
    """Runware refused the image size; `size` is (width, height) when known, `detail` what Runware said."""

    def __init__(self, message: str = "", todo: str = "", *, size: tuple[int, int] | None = None, detail: str = "",
                 code: str | None = None, doing: str = "the request") -> None:
        self.size, self.detail = size, detail
        super().__init__(message, todo, code=code, doing=doing)

    def sentence(self) -> tuple[str, str]:
        shown = f" {self.size[0]}x{self.size[1]}" if self.size else ""
        return f"Runware does not accept the image size{shown} ({self.detail}).", SIZE_HINT


class RunwareNotReady(RunwareError):
    """The LoRA `air` is registered but not deployed yet."""

    def __init__(self, message: str = "", todo: str = "", *, air: str = "", code: str | None = None,
                 doing: str = "the request") -> None:
        self.air = air
        super().__init__(message, todo, code=code, doing=doing)

    def sentence(self) -> tuple[str, str]:
        return (f"The LoRA {self.air} is not ready on Runware yet.".replace("  ", " "),
                "Wait until its registration says ready (Publish tab), then try again.")


class RunwareRefused(RunwareError):
    """Runware refused the request; `detail` is what it said."""

    def __init__(self, message: str = "", todo: str = "", *, detail: str = "", code: str | None = None,
                 doing: str = "the request") -> None:
        self.detail = detail
        super().__init__(message, todo, code=code, doing=doing)

    def sentence(self) -> tuple[str, str]:
        return f"Runware refused {self.doing}: {self.detail}.", ""


class RunwareContentBlocked(RunwareRefused):
    """Runware's content policy blocked the request."""

    def sentence(self) -> tuple[str, str]:
        return f"Runware blocked {self.doing} under its content policy ({self.detail}).", "Rephrase the prompt and try again."


class RunwareServerError(RunwareRefused):
    """Runware (or the provider behind it) failed to run the request."""

    def sentence(self) -> tuple[str, str]:
        return f"Runware failed to run {self.doing} ({self.detail}).", "Try again in a minute."


class RunwareUploadFailed(RunwareError):
    """Runware could not deploy the uploaded LoRA `air`; `reason` is what it said."""

    def __init__(self, message: str = "", todo: str = "", *, air: str = "", reason: str = "",
                 code: str | None = None, doing: str = "the request") -> None:
        self.air, self.reason = air, reason
        super().__init__(message, todo, code=code, doing=doing)

    def sentence(self) -> tuple[str, str]:
        reason = (self.reason or "no reason given").rstrip(".")
        return (f"Runware could not deploy {self.air}: {reason}.",
                "Check that the download URL is public and serves the exported adapter, then register again.")


class RunwareArchitectureError(RunwareError):
    """The architecture to register a LoRA with is unknown, or names a different network (`value`)."""

    def __init__(self, message: str = "", todo: str = "", *, value: str = "", code: str | None = None,
                 doing: str = "the request") -> None:
        self.value = value
        super().__init__(message, todo, code=code, doing=doing)
