"""Supervision of the agent's background tasks: an error is logged once per transition and retried.

Polling and delivery must outlive everything around them (the rating publisher, the dashboard and
its warm-up, the sinks' forwarder): a bug or a bad month in one of those is a background failure,
not a reason to stop reading meters. So each runs under `supervise` (a long-running task, restarted
when it raises) or `periodic` (a step repeated on a timer). The first failure logs
`event=task_failed` with the error; further failures of the same streak log nothing; the first
success after them logs `event=task_recovered` (the log-on-transition rule, docs/operations.md).
Retries wait with exponential backoff. Cancellation is never swallowed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agent.runtime.logfmt import log_event
from agent.runtime.schedule import Backoff

__all__ = ["RETRY", "Backoff", "periodic", "supervise"]

log = logging.getLogger("agent.runtime")

# 1 s after the first failure of a streak, doubling, at most 5 minutes
RETRY = Backoff(base_s=1.0, cap_s=300.0)


class _Streak:
    """Failed / recovered transitions of one task, and the backoff of the current streak."""

    def __init__(self, name: str, backoff: Backoff) -> None:
        self.name = name
        self.backoff = backoff
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        """Log on the first failure of a streak; return how long to wait before the retry."""
        if self.failures == 0:
            log_event(
                log,
                logging.ERROR,
                "task_failed",
                task=self.name,
                error=f"{type(exc).__name__}: {exc}",
                detail="retrying with backoff; polling and delivery go on",
            )
        self.failures += 1
        return self.backoff.delay(self.failures)

    def succeeded(self) -> None:
        if self.failures:
            log_event(log, logging.INFO, "task_recovered", task=self.name, failures=self.failures)
        self.failures = 0


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    backoff: Backoff | None = None,
    healthy_after_s: float = 60.0,
) -> None:
    """Run `run()` until it returns; when it raises, wait and run it again.

    A restarted run counts as recovered once it has lasted `healthy_after_s` (or returned)."""
    streak = _Streak(name, backoff or RETRY)
    while True:
        task = asyncio.ensure_future(run())
        try:
            if streak.failures:
                done, _ = await asyncio.wait({task}, timeout=healthy_after_s)
                if not done:
                    streak.succeeded()
            await task
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the supervision boundary: every error is retried
            await asyncio.sleep(streak.failed(exc))
            continue
        streak.succeeded()
        return


async def periodic(
    name: str, step: Callable[[], Awaitable[None]], every_s: float, *, backoff: Backoff | None = None
) -> None:
    """`await step()` every `every_s` seconds, forever; a failed step is retried with backoff
    (never waiting longer than `every_s`)."""
    backoff = backoff or RETRY
    streak = _Streak(name, Backoff(backoff.base_s, min(backoff.cap_s, every_s)))
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the supervision boundary: every error is retried
            await asyncio.sleep(streak.failed(exc))
            continue
        streak.succeeded()
        await asyncio.sleep(every_s)
