"""Talking to Runware: the official runware-sdk on a private event loop, and one sentence per failure.

The SDK is asyncio. Our callers are plain threads (the CLI, Gradio handlers, a Playwright test whose
main thread already holds an event loop), so every SDK call runs on one long-lived background loop
thread owned by this module, and callers wait on it with a bound. Every wait is bounded: the SDK's
own defaults wait up to 20 minutes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import threading
import time
from typing import Any, Awaitable, Callable, Iterator

from core.errors import AppError
from core.progress import Cancellation, Cancelled, drain, relay
from core.settings import Settings, redact

DEFAULT_WS_URL = "wss://ws-api.runware.ai/v1"
CONNECT_SECONDS = 15.0
SIZE_HINT = "Use multiples of 64 between 128 and 2048, e.g. 1024x1024 or 768x1344 for 9:16."


class RunwareError(AppError):
    """A Runware failure told in one sentence; `kind` names it for code and tests:
    no_key, bad_key, no_credit, unknown_air, not_ready, invalid_size, timeout, dropped, unreachable,
    upload_failed, architecture, rate_limit, refused."""

    def __init__(self, message: str, todo: str = "", kind: str = "refused") -> None:
        self.kind = kind
        super().__init__(message, todo)


def explain(exc: BaseException, *, air: str | None = None, lora: str | None = None,
            size: tuple[int, int] | None = None, seconds: float | None = None,
            doing: str = "the request") -> RunwareError:
    """One sentence (and what to do next) for any failure of a Runware call."""
    if isinstance(exc, RunwareError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, concurrent.futures.TimeoutError)):
        return _timeout(seconds, doing)
    try:
        from runware import RunwareError as SdkError
    except ImportError:  # pragma: no cover - runware-sdk is a pinned requirement
        SdkError = ()  # type: ignore[assignment]
    if not isinstance(exc, SdkError):
        if isinstance(exc, OSError):
            return RunwareError(f"Could not reach Runware ({exc}).", "Check your internet connection and try again.",
                                kind="unreachable")
        return RunwareError(f"Runware call failed unexpectedly: {redact(exc)}.",
                            "Try again; the details are in outputs/logs/app.log.", kind="refused")
    code, parameter, message = exc.code, (exc.parameter or ""), redact(exc.message).rstrip(".")
    lowered = message.lower()
    if code == "auth":
        return RunwareError("Runware refused the API key (RUNWARE_API_KEY).",
                            "Copy a valid key from my.runware.ai (API Keys) into .env as RUNWARE_API_KEY and restart.",
                            kind="bad_key")
    if code == "quota":
        return RunwareError("Your Runware account has no credit left for this request.",
                            "Add credit at my.runware.ai (Billing), then run it again.", kind="no_credit")
    if code == "timeout" or "timed out" in lowered:
        return _timeout(seconds, doing)
    if code == "connection":
        if "connection failed" in lowered or "closed during authentication" in lowered:
            return RunwareError(f"Could not reach Runware ({message}).",
                                "Check your internet connection (and RUNWARE_WS_URL if you set it), then try again.",
                                kind="unreachable")
        return RunwareError(f"The connection to Runware dropped before {doing} finished.",
                            "Check your internet connection and run it again (a lost request may still be charged).",
                            kind="dropped")
    if re.search(r"\bnot ready\b|being processed|still processing", lowered):
        return RunwareError(f"The LoRA {lora or air or ''} is not ready on Runware yet.".replace("  ", " "),
                            "Wait until its registration says ready (Publish tab), then try again.", kind="not_ready")
    if parameter in ("width", "height") or "width" in lowered and "height" in lowered:
        shown = f" {size[0]}x{size[1]}" if size else ""
        return RunwareError(f"Runware does not accept the image size{shown} ({message}).", SIZE_HINT,
                            kind="invalid_size")
    if parameter == "lora" and "weight" not in lowered or (code == "notFound" and lora):
        return RunwareError(f"Runware does not know the LoRA {lora or 'you named'} (or it does not fit this base model).",
                            "Check the AIR (source:id@version) in the publish record, or register the LoRA first.",
                            kind="unknown_air")
    if parameter == "model" or code == "notFound":
        return RunwareError(f"Runware does not know the model {air or 'you named'}.",
                            "Use runware:400@5 (FLUX.2 klein 4B Base) or runware:400@4 (4B distilled).",
                            kind="unknown_air")
    if code == "rateLimit":
        return RunwareError("Runware is limiting how fast requests may be sent.",
                            "Wait a minute, or lower the batch concurrency, and try again.", kind="rate_limit")
    if code == "safety":
        return RunwareError(f"Runware blocked {doing} under its content policy ({message}).",
                            "Rephrase the prompt and try again.", kind="refused")
    if code in ("serverError", "provider"):
        return RunwareError(f"Runware failed to run {doing} ({message}).", "Try again in a minute.", kind="refused")
    return RunwareError(f"Runware refused {doing}: {message}.", "", kind="refused")


def _timeout(seconds: float | None, doing: str) -> RunwareError:
    within = f" within {seconds:.0f} s" if seconds else " in time"
    return RunwareError(f"Runware did not answer {doing}{within}.",
                        "Check your connection (and status.runware.ai), then try again.", kind="timeout")


# ---------------------------------------------------------------------- the loop thread


class _LoopThread:
    """One asyncio loop on a daemon thread, shared by every Runware call of the process."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def loop(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="runware-sdk", daemon=True).start()
                cls._loop = loop
            return cls._loop


def submit(coro: Awaitable[Any]) -> concurrent.futures.Future:
    """Schedule a coroutine on the Runware loop thread."""
    return asyncio.run_coroutine_threadsafe(coro, _LoopThread.loop())  # type: ignore[arg-type]


def make_client(settings: Settings, *, reconnect_attempts: int = 2):
    """The SDK client for these settings (not yet connected)."""
    if not settings.runware_api_key:
        raise RunwareError("RUNWARE_API_KEY is not set.",
                           "Create a key at my.runware.ai (API Keys), put RUNWARE_API_KEY=... in .env and restart.",
                           kind="no_key")
    from runware import Runware

    return Runware(
        api_key=settings.runware_api_key,
        ws_base_url=settings.runware_ws_url or DEFAULT_WS_URL,
        auth_timeout=int(CONNECT_SECONDS * 1000),
        max_reconnect_attempts=reconnect_attempts,
        retry_delay=250,
        user_agent_prefix="story-shorts-lora",
    )


@contextlib.asynccontextmanager
async def connected(settings: Settings):
    """An authenticated SDK client, closed on exit (runs on the loop thread)."""
    client = make_client(settings)
    try:
        await asyncio.wait_for(client.connect(), CONNECT_SECONDS + 5)
    except asyncio.TimeoutError:
        await client.close()
        raise RunwareError(f"Runware did not answer the login within {CONNECT_SECONDS + 5:.0f} s.",
                           "Check your internet connection (and RUNWARE_WS_URL if you set it).", kind="timeout") from None
    except BaseException:
        await client.close()
        raise
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.close()


Work = Callable[[Any, Callable[[Any], None]], Awaitable[Any]]


def stream(settings: Settings, work: Work, *, timeout: float, cancel: Cancellation | None = None,
           explain_with: dict[str, Any] | None = None) -> Iterator[Any]:
    """Run `work(client, emit)` on the loop thread; yield whatever it emits, in this thread, as it comes.

    The generator's return value (use `yield from`) is work's result. Waits at most `timeout` seconds
    overall; a requested `cancel` (or closing this generator) stops the work and raises Cancelled. SDK errors
    come out explained."""
    closed = threading.Event()

    def wait(emit: Callable[[Any], None]) -> Any:
        async def main():
            async with connected(settings) as client:
                return await work(client, emit)

        future = submit(main())
        deadline = time.monotonic() + timeout
        try:
            while True:
                finished, _ = concurrent.futures.wait([future], timeout=0.05)
                if finished:
                    return future.result()
                if closed.is_set() or (cancel is not None and cancel.requested):
                    raise Cancelled()
                if time.monotonic() > deadline:
                    raise _timeout(timeout, (explain_with or {}).get("doing", "the request"))
        finally:
            if not future.done():
                future.cancel()

    try:
        return (yield from relay(wait, name="runware-wait"))
    except (Cancelled, RunwareError):
        raise
    except concurrent.futures.CancelledError:
        raise Cancelled() from None
    except Exception as exc:
        raise explain(exc, seconds=timeout, **(explain_with or {})) from exc
    finally:
        closed.set()


def call(settings: Settings, work: Callable[[Any], Awaitable[Any]], *, timeout: float,
         cancel: Cancellation | None = None, explain_with: dict[str, Any] | None = None) -> Any:
    """Run `work(client)` on the loop thread and return its result (bounded, cancellable, explained)."""
    return drain(stream(settings, lambda client, _emit: work(client), timeout=timeout, cancel=cancel,
                        explain_with=explain_with))
