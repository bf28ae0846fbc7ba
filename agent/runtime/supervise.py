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
from dataclasses import dataclass

from agent.runtime.logfmt import log_event

__all__ = ["Backoff", "periodic", "supervise"]

log = logging.getLogger("agent.runtime")


@dataclass(frozen=True)
class Backoff:
    """Wait `first_s` after a failure, times `factor` after each further one, at most `max_s`."""

    first_s: float = 1.0
    max_s: float = 300.0
    factor: float = 2.0

    def after(self, delay: float) -> float:
        return min(delay * self.factor, self.max_s)


class _Streak:
    """Failed / recovered transitions of one task, and the backoff of the current streak."""

    def __init__(self, name: str, backoff: Backoff) -> None:
        self.name = name
        self.backoff = backoff
        self.failures = 0
        self.delay = backoff.first_s

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
        wait, self.delay = self.delay, self.backoff.after(self.delay)
        return wait

    def succeeded(self) -> None:
        if self.failures:
            log_event(log, logging.INFO, "task_recovered", task=self.name, failures=self.failures)
        self.failures = 0
        self.delay = self.backoff.first_s


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    backoff: Backoff | None = None,
    healthy_after_s: float = 60.0,
) -> None:
    """Run `run()` until it returns; when it raises, wait and run it again.

    A restarted run counts as recovered once it has lasted `healthy_after_s` (or returned)."""
    streak = _Streak(name, backoff or Backoff())
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
    backoff = backoff or Backoff()
    streak = _Streak(name, Backoff(backoff.first_s, min(backoff.max_s, every_s), backoff.factor))
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
