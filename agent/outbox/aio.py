"""The outbox for asyncio code: each call runs in a worker thread, forwarders are woken on put.

SQLite calls block (an fsync can take tens of milliseconds on an SD card); running them in
`asyncio.to_thread` keeps polling and publishing on time while the disk works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from agent.outbox.store import Outbox, OutboxRow, OutboxStats
from agent.readings.model import PollResult

__all__ = ["AsyncOutbox"]


class AsyncOutbox:
    """Async facade over `Outbox`; `put_many` wakes every forwarder that registered."""

    def __init__(self, outbox: Outbox) -> None:
        self.store = outbox
        self._wakers: list[Callable[[], None]] = []

    def register_waker(self, wake: Callable[[], None]) -> None:
        """`wake()` is called (on the event loop) after every accepted batch."""
        self._wakers.append(wake)

    async def put_many(self, results: Sequence[PollResult]) -> int:
        last = await asyncio.to_thread(self.store.put_many, results)
        for wake in self._wakers:
            wake()
        return last

    async def read_after(self, sink: str, limit: int) -> list[OutboxRow]:
        return await asyncio.to_thread(self.store.read_after, sink, limit)

    async def ack(self, sink: str, last_id: int) -> None:
        await asyncio.to_thread(self.store.ack, sink, last_id)

    async def count_dropped(self, sink: str, rows: int) -> None:
        await asyncio.to_thread(self.store.count_dropped, sink, rows)

    async def stats(self) -> OutboxStats:
        return await asyncio.to_thread(self.store.stats)

    async def close(self) -> None:
        await asyncio.to_thread(self.store.close)
