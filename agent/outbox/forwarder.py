"""One forwarder per sink: read after the sink's cursor, send, advance on confirm, back off on failure.

The forwarder never loses its place: the cursor lives in the outbox and moves only to the highest
row the far side confirmed without a gap, so a crash or a cancelled task resends the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.errors import SinkError
from agent.outbox.aio import AsyncOutbox
from agent.outbox.store import OutboxRow

__all__ = ["Backoff", "Delivery", "Forwarder", "ForwarderStats", "Sink"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a sink achieved with one batch.

    `acked_through`: the highest row id such that it and every row before it in the batch were
    confirmed (or rejected for good). `rejected`: rows the far side refused as bad data (skipped and
    counted). `error`: why the batch stopped early (the forwarder backs off and resends the rest).
    """

    acked_through: int | None
    rejected: int = 0
    error: str | None = None
    retry_after_s: float | None = None


class Sink(Protocol):
    """Anything that can deliver outbox rows and say how far the far side confirmed them."""

    @property
    def name(self) -> str: ...

    async def deliver(self, rows: Sequence[OutboxRow]) -> Delivery: ...


class Backoff:
    """Exponential, capped, jittered delays (jitter between 50 and 100 % of the step)."""

    def __init__(
        self, initial_s: float = 0.5, max_s: float = 30.0, rand: Callable[[], float] = random.random
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._rand = rand
        self.failures = 0

    def next_delay(self) -> float:
        step = min(self.max_s, self.initial_s * 2.0**self.failures)
        self.failures += 1
        return step * (0.5 + 0.5 * self._rand())

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True, slots=True)
class ForwarderStats:
    sink: str
    sent: int
    acked: int
    retried: int
    dropped: int
    lag_rows: int
    lag_s: float
    last_error: str | None


class Forwarder:
    """Drives one sink from the outbox until cancelled."""

    def __init__(
        self,
        outbox: AsyncOutbox,
        sink: Sink,
        *,
        batch_rows: int = 1000,
        backoff: Backoff | None = None,
        idle_recheck_s: float = 5.0,
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.batch_rows = batch_rows
        self.backoff = backoff or Backoff()
        self.idle_recheck_s = idle_recheck_s
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._wakes = 0
        self.sent = 0
        self.acked = 0
        self.retried = 0
        self.rejected = 0
        self.last_error: str | None = None
        outbox.register_waker(self.wake)

    def wake(self) -> None:
        """New rows are in the outbox (the runtime may call this; AsyncOutbox.put_many does)."""
        self._wakes += 1
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once every row stored so far has been confirmed (for tests and shutdown)."""
        await self._idle.wait()

    async def run(self) -> None:
        while True:
            try:
                await self._step()
            except SinkError as exc:  # the outbox itself failed (not the sink): back off, read again
                await self._fail(Delivery(acked_through=None, error=f"outbox: {exc}"))

    async def _step(self) -> None:
        self._wake.clear()
        wakes_before_read = self._wakes
        rows = await self.outbox.read_after(self.sink.name, self.batch_rows)
        if not rows:
            # A put that finished while we read may not be in `rows`: then we are not idle.
            if self._wakes == wakes_before_read:
                self._idle.set()
            await self._sleep_until_woken()
            return
        await self._send(rows)

    async def _sleep_until_woken(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self.idle_recheck_s)

    async def _send(self, rows: Sequence[OutboxRow]) -> None:
        self.sent += len(rows)
        try:
            delivery = await self.sink.deliver(rows)
        except SinkError as exc:
            delivery = Delivery(acked_through=None, error=str(exc))
        if delivery.acked_through is not None:
            await self.outbox.ack(self.sink.name, delivery.acked_through)
            self.acked += sum(1 for r in rows if r.id <= delivery.acked_through) - delivery.rejected
        if delivery.rejected:
            self.rejected += delivery.rejected
            await self.outbox.count_dropped(self.sink.name, delivery.rejected)
        if delivery.error is None:
            self._recovered()
            return
        await self._fail(delivery)

    def _recovered(self) -> None:
        if self.last_error is not None:
            log.info("sink %s: delivering again after: %s", self.sink.name, self.last_error)
        self.last_error = None
        self.backoff.reset()

    async def _fail(self, delivery: Delivery) -> None:
        if self.last_error is None:
            log.warning("sink %s: delivery failing, will retry: %s", self.sink.name, delivery.error)
        self.last_error = delivery.error
        self.retried += 1
        delay = self.backoff.next_delay()
        if delivery.retry_after_s is not None:
            delay = max(delay, delivery.retry_after_s)
        await asyncio.sleep(delay)

    async def stats(self) -> ForwarderStats:
        outbox_stats = await self.outbox.stats()
        mine = next(s for s in outbox_stats.sinks if s.sink == self.sink.name)
        return ForwarderStats(
            sink=self.sink.name,
            sent=self.sent,
            acked=self.acked,
            retried=self.retried,
            dropped=mine.dropped,
            lag_rows=mine.lag_rows,
            lag_s=mine.lag_s,
            last_error=self.last_error,
        )
