"""Talking to Runware: the official runware-sdk on a private event loop, and its failures as our typed errors.

The SDK is asyncio. Our callers are plain threads (the CLI, Gradio handlers, a Playwright test whose
main thread already holds an event loop), so every SDK call runs on one long-lived background loop
thread owned by this module, and callers wait on it with a bound. Every wait is bounded: the SDK's
own defaults wait up to 20 minutes. `translate` turns whatever a call raised into a core.errors.RunwareError
subclass (RunwareAuthError, RunwareTimeout, RunwareUnknownAir, ...), which carries the sentence a person reads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import threading
import time
from typing import Any, Awaitable, Callable, Iterator

from core.errors import (RunwareAuthError, RunwareConnectionError, RunwareContentBlocked, RunwareCreditError,
                         RunwareDropped, RunwareError, RunwareInvalidSize, RunwareKeyMissing, RunwareNotReady,
                         RunwareRateLimited, RunwareRefused, RunwareServerError, RunwareTimeout, RunwareUnknownAir)
from core.progress import Cancellation, Cancelled, drain, relay
from core.settings import Settings, redact

DEFAULT_WS_URL = "wss://ws-api.runware.ai/v1"
CONNECT_SECONDS = 15.0


def translate(exc: BaseException, *, air: str | None = None, lora: str | None = None,
              size: tuple[int, int] | None = None, seconds: float | None = None,
              doing: str = "the request") -> RunwareError:
    """Our typed RunwareError for any failure of a Runware call (runware-sdk's errors, timeouts, sockets).

    The sentence a person reads is the error class's own (core.errors); this only picks the class and its fields."""
    if isinstance(exc, RunwareError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, concurrent.futures.TimeoutError)):
        return RunwareTimeout(seconds=seconds, doing=doing)
    try:
        from runware import RunwareError as SdkError
    except ImportError:  # pragma: no cover - runware-sdk is a pinned requirement
        SdkError = ()  # type: ignore[assignment]
    if not isinstance(exc, SdkError):
        if isinstance(exc, OSError):
            return RunwareConnectionError(detail=str(exc), doing=doing)
        return RunwareError(f"Runware call failed unexpectedly: {redact(exc)}.",
                            "Try again; the details are in outputs/logs/app.log.", doing=doing)
    code, parameter, message = exc.code, (exc.parameter or ""), redact(exc.message).rstrip(".")
    lowered = message.lower()
    fields = {"code": code, "doing": doing}
    if code == "auth":
        return RunwareAuthError(**fields)
    if code == "quota":
        return RunwareCreditError(**fields)
    if code == "timeout" or "timed out" in lowered:
        return RunwareTimeout(seconds=seconds, **fields)
    if code == "connection":
        if "connection failed" in lowered or "closed during authentication" in lowered:
            return RunwareConnectionError(detail=message, **fields)
        return RunwareDropped(detail=message, **fields)
    if re.search(r"\bnot ready\b|being processed|still processing", lowered):
        return RunwareNotReady(air=lora or air or "", **fields)
    if parameter in ("width", "height") or "width" in lowered and "height" in lowered:
        return RunwareInvalidSize(size=size, detail=message, **fields)
    if parameter == "lora" and "weight" not in lowered or (code == "notFound" and lora):
        return RunwareUnknownAir(air=lora or "", lora=True, **fields)
    if parameter == "model" or code == "notFound":
        return RunwareUnknownAir(air=air or "", **fields)
    if code == "rateLimit":
        return RunwareRateLimited(**fields)
    if code == "safety":
        return RunwareContentBlocked(detail=message, **fields)
    if code in ("serverError", "provider"):
        return RunwareServerError(detail=message, **fields)
    return RunwareRefused(detail=message, **fields)


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
        raise RunwareKeyMissing()
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
        raise RunwareTimeout(f"Runware did not answer the login within {CONNECT_SECONDS + 5:.0f} s.",
                             "Check your internet connection (and RUNWARE_WS_URL if you set it).",
                             seconds=CONNECT_SECONDS + 5, doing="the login") from None
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
           translate_with: dict[str, Any] | None = None) -> Iterator[Any]:
    """Run `work(client, emit)` on the loop thread; yield whatever it emits, in this thread, as it comes.

    The generator's return value (use `yield from`) is work's result. Waits at most `timeout` seconds
    overall; a requested `cancel` (or closing this generator) stops the work and raises Cancelled. SDK errors
    come out translated."""
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
                    raise RunwareTimeout(seconds=timeout, doing=(translate_with or {}).get("doing", "the request"))
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
        raise translate(exc, seconds=timeout, **(translate_with or {})) from exc
    finally:
        closed.set()


def call(settings: Settings, work: Callable[[Any], Awaitable[Any]], *, timeout: float,
         cancel: Cancellation | None = None, translate_with: dict[str, Any] | None = None) -> Any:
    """Run `work(client)` on the loop thread and return its result (bounded, cancellable, translated)."""
    return drain(stream(settings, lambda client, _emit: work(client), timeout=timeout, cancel=cancel,
                        translate_with=translate_with))
