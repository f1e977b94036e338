"""The progress helpers every long operation shares: drain() for a result, relay() for events from threads."""

from __future__ import annotations

import threading

import pytest

from core.progress import Progress, drain, relay


def steps(n: int, result=None, returns=None):
    for i in range(n):
        yield Progress(i, n, f"step {i}")
    if result is not None:
        yield Progress(n, n, "done", result=result)
    return returns


def test_drain_gives_the_return_value_else_the_last_result_and_shows_every_event():
    seen = []
    assert drain(steps(3, result="grid"), seen.append) == "grid"
    assert [e.message for e in seen] == ["step 0", "step 1", "step 2", "done"]
    assert drain(steps(2, result="last", returns="returned")) == "returned"
    assert drain(steps(2)) is None
    assert drain(iter([Progress(0, 1, "a", result=1), Progress(1, 1, "b")])) == 1


def test_relay_yields_from_other_threads_in_order_and_returns_or_raises():
    names = []

    def work(emit):
        names.append(threading.current_thread().name)
        for i in range(5):
            emit(i)
        return "value"

    runner = relay(work, name="relay-test")
    assert list(runner) == [0, 1, 2, 3, 4] and names == ["relay-test"]
    assert drain(relay(work)) == "value"

    def fails(emit):
        emit("before")
        raise ValueError("broken")

    got = []
    with pytest.raises(ValueError, match="broken"):
        for item in relay(fails):
            got.append(item)
    assert got == ["before"]


def test_relay_waits_for_every_work_and_reports_its_error_after_the_others():
    release = threading.Event()

    def slow(emit):
        release.wait(5)
        emit("slow")
        return "first"

    def quick(emit):
        emit("quick")
        release.set()
        raise RuntimeError("quick failed")

    got = []
    with pytest.raises(RuntimeError, match="quick failed"):
        for item in relay(slow, quick):
            got.append(item)
    assert got == ["quick", "slow"]
