"""Background tasks under supervision: one log line when a streak of failures starts, one when it
ends, retries with growing waits, and cancellation never swallowed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent.runtime.supervise import Backoff, periodic, supervise

FAST = Backoff(base_s=0.001, cap_s=0.004)


def events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" error=")[0] for r in caplog.records if "event=task_" in r.getMessage()]


async def test_periodic_logs_a_failure_streak_once_and_its_recovery_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[type[Exception] | None] = [ValueError, RuntimeError, KeyError, None, None, OSError, None]
    done = asyncio.Event()

    async def step() -> None:
        if not outcomes:
            done.set()
            return
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome("boom")

    caplog.set_level(logging.INFO, logger="agent.runtime")
    task = asyncio.create_task(periodic("rating", step, 0.001, backoff=FAST))
    async with asyncio.timeout(5):
        await done.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events(caplog) == [
        "event=task_failed task=rating",
        "event=task_recovered task=rating failures=3",
        "event=task_failed task=rating",
        "event=task_recovered task=rating failures=1",
    ]


async def test_supervise_restarts_a_crashed_task_until_it_returns(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def run() -> None:
        runs.append(len(runs))
        if len(runs) < 4:
            raise RuntimeError("crashed")

    caplog.set_level(logging.INFO, logger="agent.runtime")
    async with asyncio.timeout(5):
        await supervise("delivery", run, backoff=FAST)
    assert runs == [0, 1, 2, 3]
    assert events(caplog) == [
        "event=task_failed task=delivery",
        "event=task_recovered task=delivery failures=3",
    ]


async def test_a_restarted_task_that_keeps_running_counts_as_recovered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    forever = asyncio.Event()

    async def run() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise OSError("port in use")
        await forever.wait()

    recovered = asyncio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "event=task_recovered" in record.getMessage():
                recovered.set()

    caplog.set_level(logging.INFO, logger="agent.runtime")
    watch = Watch()
    logging.getLogger("agent.runtime").addHandler(watch)
    try:
        task = asyncio.create_task(supervise("dashboard", run, backoff=FAST, healthy_after_s=0.01))
        async with asyncio.timeout(5):
            await recovered.wait()
    finally:
        logging.getLogger("agent.runtime").removeHandler(watch)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events(caplog) == [
        "event=task_failed task=dashboard",
        "event=task_recovered task=dashboard failures=1",
    ]


def test_backoff_grows_to_its_limit() -> None:
    waits = [Backoff(base_s=1, cap_s=10).delay(failures) for failures in range(1, 7)]
    assert waits == [1, 2, 4, 8, 10, 10]
