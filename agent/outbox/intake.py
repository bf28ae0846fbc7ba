"""Acceptance into the outbox: polls wait in a bounded memory buffer and are committed in batches
(of at most `max_batch` polls and half the outbox's WAL budget in estimated bytes).

While the outbox cannot write (a full disk: `StoreFull`; any other store failure the same way),
acceptance *pauses* instead of failing: one ERROR line (`event=outbox_paused`), the polls stay in
memory in poll order, and the commit is retried with capped, jittered backoff (0.5 s doubling to
30 s). The first commit that succeeds logs `event=outbox_resumed` and the held polls are committed
in order, in batches, before anything newer.

The buffer is bounded by a count and by estimated bytes. When it is full the **oldest** held polls
are dropped: the newest readings are what the dashboard and the control loop need, and a counter's
next reading still carries the energy of the gap. Drops are counted (`dropped`) and logged on
transitions only: one WARNING `event=polls_dropping where=memory` when dropping starts, one
`event=polls_dropped where=memory count=N` when acceptance resumes.

The outbox's own size and age bounds drop rows too (see `agent.outbox.store`); those are logged the
same way (`where=outbox`), the episode ending after `drop_quiet_s` without a drop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from agent.errors import SinkError
from agent.outbox.aio import AsyncOutbox
from agent.outbox.forwarder import Backoff
from agent.readings.model import PollResult
from agent.runtime.logfmt import log_event

__all__ = ["DropEpisode", "Intake", "IntakeStats", "estimated_bytes"]

log = logging.getLogger(__name__)

# What a held poll costs in memory, roughly: the PollResult and its value list (names and units
# are shared by every poll of a device). Only used to bound the buffer, not to bill.
_POLL_BYTES = 400
_READING_BYTES = 48


def estimated_bytes(result: PollResult) -> int:
    return _POLL_BYTES + _READING_BYTES * len(result.readings)


@dataclass(frozen=True, slots=True)
class IntakeStats:
    accepted: int  # polls committed to the outbox
    held: int  # polls waiting in memory
    held_bytes: int  # their estimated size
    paused: bool  # acceptance paused: the outbox cannot write
    paused_s: float  # for how long (0 when not paused)
    dropped: int  # polls dropped from the full memory buffer
    last_error: str | None


class DropEpisode:
    """Logs one WARNING when dropping starts and one line with the count when it stops."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.count = 0  # in the current episode
        self.last_drop = 0.0

    @property
    def active(self) -> bool:
        return self.count > 0

    def add(self, count: int, now: float, **context: object) -> None:
        if count <= 0:
            return
        if not self.count:
            log_event(log, logging.WARNING, "polls_dropping", where=self.where, **context)
        self.count += count
        self.last_drop = now

    def end(self) -> None:
        if self.count:
            log_event(log, logging.WARNING, "polls_dropped", where=self.where, count=self.count)
        self.count = 0


class Intake:
    """The outbox's front door for the runtime: `hold()` on every poll, `commit()` periodically."""

    def __init__(
        self,
        outbox: AsyncOutbox,
        *,
        max_batch: int = 2000,
        max_batch_bytes: int | None = None,
        max_held: int = 200_000,
        max_held_bytes: int = 64 * 1024**2,
        backoff: Backoff | None = None,
        drop_quiet_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox
        self.max_batch = max_batch
        # One transaction stays well inside the WAL's share of the size bound: a backlog held
        # through a long pause is committed in many small batches, never one that cannot fit.
        self.max_batch_bytes = max_batch_bytes or max(outbox.store.wal_budget // 2, 1)
        self.max_held = max_held
        self.max_held_bytes = max_held_bytes
        self.backoff = backoff or Backoff()
        self.drop_quiet_s = drop_quiet_s
        self._clock = clock
        self._held: deque[PollResult] = deque()
        self._held_bytes = 0
        self._lock = asyncio.Lock()  # one commit at a time: batches reach the outbox in order
        self._retry_at = 0.0
        self._paused_since: float | None = None
        self._memory_drops = DropEpisode("memory")
        self._outbox_drops = DropEpisode("outbox")
        self._outbox_dropped_seen = outbox.store.dropped_by_bounds
        self.accepted = 0
        self.dropped = 0
        self.last_error: str | None = None

    @property
    def paused(self) -> bool:
        return self._paused_since is not None

    def hold(self, result: PollResult) -> bool:
        """Buffer one poll; True when a full batch waits and acceptance is not paused (commit now)."""
        self._held.append(result)
        self._held_bytes += estimated_bytes(result)
        if len(self._held) > self.max_held or self._held_bytes > self.max_held_bytes:
            self._drop_oldest()
        full = len(self._held) >= self.max_batch or self._held_bytes >= self.max_batch_bytes
        return full and self._paused_since is None

    def _drop_oldest(self) -> None:
        dropped = 0
        while self._held and (len(self._held) > self.max_held or self._held_bytes > self.max_held_bytes):
            self._held_bytes -= estimated_bytes(self._held.popleft())
            dropped += 1
        self.dropped += dropped
        self._memory_drops.add(
            dropped,
            self._clock(),
            reason="memory buffer full while the outbox is paused",
            held=len(self._held),
            max_held=self.max_held,
            max_held_bytes=self.max_held_bytes,
        )

    async def commit(self, *, force: bool = False) -> None:
        """Commit every held poll, in order, in batches of `max_batch`.

        While paused this only tries once the backoff delay has passed, or when `force` is set
        (flush on stop). A failing commit pauses acceptance and keeps the batch held; it never raises.
        """
        async with self._lock:
            if self._paused_since is not None and not force and self._clock() < self._retry_at:
                return
            while self._held:
                if not await self._commit_batch():
                    return
            self._end_quiet_outbox_drops()

    def _next_batch(self) -> tuple[list[PollResult], int]:
        """The oldest held polls, up to `max_batch` polls and `max_batch_bytes` (at least one)."""
        batch: list[PollResult] = []
        size = 0
        held = self._held
        while held and len(batch) < self.max_batch:
            cost = estimated_bytes(held[0])
            if batch and size + cost > self.max_batch_bytes:
                break
            batch.append(held.popleft())
            size += cost
        self._held_bytes -= size
        return batch, size

    async def _commit_batch(self) -> bool:
        batch, size = self._next_batch()
        try:
            await self.outbox.put_many(batch)
        except SinkError as exc:
            self._held.extendleft(reversed(batch))  # back in front: order is kept
            self._held_bytes += size
            if len(self._held) > self.max_held or self._held_bytes > self.max_held_bytes:
                self._drop_oldest()
            self._pause(exc)
            return False
        self.accepted += len(batch)
        self._resume(committed=len(batch))
        self._note_outbox_drops()
        return True

    def _pause(self, exc: SinkError) -> None:
        now = self._clock()
        self.last_error = str(exc)
        self._retry_at = now + self.backoff.next_delay()
        if self._paused_since is None:
            self._paused_since = now
            log_event(
                log,
                logging.ERROR,
                "outbox_paused",
                reason=str(exc),
                held=len(self._held),
                detail="polls are held in memory; retrying with backoff",
            )

    def _resume(self, committed: int) -> None:
        if self._paused_since is None:
            return
        log_event(
            log,
            logging.INFO,
            "outbox_resumed",
            paused_s=round(self._clock() - self._paused_since, 1),
            held=committed + len(self._held),  # what was held when the disk took writes again
            dropped=self._memory_drops.count,
        )
        self._paused_since = None
        self.last_error = None
        self.backoff.reset()
        self._memory_drops.end()

    def _note_outbox_drops(self) -> None:
        seen = self.outbox.store.dropped_by_bounds
        if seen > self._outbox_dropped_seen:
            self._outbox_drops.add(
                seen - self._outbox_dropped_seen,
                self._clock(),
                reason="outbox size or age bound",
                max_bytes=self.outbox.store.max_bytes,
            )
        self._outbox_dropped_seen = seen

    def _end_quiet_outbox_drops(self) -> None:
        if self._outbox_drops.active and self._clock() - self._outbox_drops.last_drop >= self.drop_quiet_s:
            self._outbox_drops.end()

    def abandon(self) -> int:
        """At stop: close the drop episodes (their count lines), and when the outbox still cannot
        write, log what is lost (one ERROR line); returns that count."""
        self._outbox_drops.end()
        lost = len(self._held)
        if lost:
            log_event(log, logging.ERROR, "polls_lost_on_stop", count=lost, reason=self.last_error)
        self._held.clear()
        self._held_bytes = 0
        return lost

    def stats(self) -> IntakeStats:
        paused_since = self._paused_since
        return IntakeStats(
            accepted=self.accepted,
            held=len(self._held),
            held_bytes=self._held_bytes,
            paused=paused_since is not None,
            paused_s=0.0 if paused_since is None else self._clock() - paused_since,
            dropped=self.dropped,
            last_error=self.last_error,
        )
