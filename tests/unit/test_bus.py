"""PoolArbiter's hand-over queue: order, cancellation, broken links and close, with links that are plain
objects whose answers the test releases (no sockets, no timing)."""

from __future__ import annotations

import asyncio

import pytest

from agent.config.profile import Function
from agent.errors import DeviceError, ProtocolError, Unreachable
from agent.modbus.bus import Link, PoolArbiter
from agent.modbus.io import Registers


class GatedLink:
    """A link whose reads wait until the test answers them, in the order they were asked."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.asked: list[tuple[int, asyncio.Future[Registers]]] = []
        self.closed = False

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        answer: asyncio.Future[Registers] = asyncio.get_running_loop().create_future()
        self.asked.append((unit, answer))
        return await answer

    def close(self) -> None:
        self.closed = True

    def answer(self, error: DeviceError | None = None) -> int:
        """Answer the oldest unanswered read; returns its unit id."""
        unit, future = next((u, f) for u, f in self.asked if not f.done())
        if error is None:
            future.set_result([self.number])
        else:
            future.set_exception(error)
        return unit


class Factory:
    def __init__(self) -> None:
        self.links: list[GatedLink] = []
        self.refuse = False

    async def __call__(self) -> Link:
        if self.refuse:
            raise Unreachable("refused")
        self.links.append(GatedLink(len(self.links)))
        return self.links[-1]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiters_get_the_finished_requests_link_in_arrival_order() -> None:
    factory = Factory()
    pool = PoolArbiter("p", factory, max_connections=2)
    reads = [asyncio.create_task(pool.read(unit, Function.HOLDING, 0, 1)) for unit in range(1, 6)]
    await settle()
    for link in (0, 1, 0, 1, 0):  # each answer frees a link; the next queued unit gets it
        factory.links[link].answer()
        await settle()
    assert [await r for r in reads] == [[0], [1], [0], [1], [0]]
    assert [[u for u, _ in k.asked] for k in factory.links] == [[1, 3, 5], [2, 4]]
    assert (pool.open_links, pool.requests) == (2, 5)
    await pool.close()
    assert all(k.closed for k in factory.links)


async def test_a_cancelled_waiter_neither_loses_the_link_nor_blocks_the_queue() -> None:
    factory = Factory()
    pool = PoolArbiter("p", factory, max_connections=1)
    first = asyncio.create_task(pool.read(1, Function.HOLDING, 0, 1))
    queued = asyncio.create_task(pool.read(2, Function.HOLDING, 0, 1))
    handed = asyncio.create_task(pool.read(3, Function.HOLDING, 0, 1))
    last = asyncio.create_task(pool.read(4, Function.HOLDING, 0, 1))
    await settle()
    queued.cancel()  # cancelled while waiting: leaves the queue
    await settle()
    factory.links[0].answer()  # unit 1 done: the link goes to unit 3 ...
    handed.cancel()  # ... which is cancelled before it runs: the link moves on to unit 4
    await settle()
    assert factory.links[0].answer() == 4
    assert await first == [0]
    assert await last == [0]
    for task in (queued, handed):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (len(factory.links), pool.open_links) == (1, 1)
    assert await asyncio.gather(pool.read(5, Function.HOLDING, 0, 1), _answer_soon(factory.links[0])) == [
        [0],
        5,
    ]


async def _answer_soon(link: GatedLink) -> int:
    await settle()
    return link.answer()


async def test_a_broken_link_is_closed_and_the_waiters_fail_fast_during_the_backoff() -> None:
    factory = Factory()
    pool = PoolArbiter("p", factory, max_connections=1, reconnect_base_s=60.0)
    reads = [asyncio.create_task(pool.read(unit, Function.HOLDING, 0, 1)) for unit in (1, 2, 3)]
    await settle()
    factory.links[0].answer(Unreachable("connection lost"))
    results = await asyncio.gather(*reads, return_exceptions=True)
    assert factory.links[0].closed
    assert str(results[0]) == "connection lost"
    assert all(isinstance(r, Unreachable) and "reconnect backoff" in str(r) for r in results[1:])
    assert (len(factory.links), pool.open_links) == (1, 0)


async def test_a_bad_frame_closes_the_link_and_the_next_request_opens_a_new_one_at_once() -> None:
    factory = Factory()
    pool = PoolArbiter("p", factory, max_connections=1, reconnect_base_s=60.0)
    reads = [asyncio.create_task(pool.read(unit, Function.HOLDING, 0, 1)) for unit in (1, 2)]
    await settle()
    factory.links[0].answer(ProtocolError("unit_id", "reply from unit 9"))
    await settle()
    factory.links[1].answer()
    results = await asyncio.gather(*reads, return_exceptions=True)
    assert isinstance(results[0], ProtocolError)
    assert results[1] == [1]  # a new link, no 60 s reconnect backoff
    assert factory.links[0].closed
    assert not factory.links[1].closed


async def test_a_refused_connection_passes_the_place_on() -> None:
    factory = Factory()
    factory.refuse = True
    pool = PoolArbiter("p", factory, max_connections=1, reconnect_base_s=0.0)
    results = await asyncio.gather(
        *(pool.read(unit, Function.HOLDING, 0, 1) for unit in (1, 2, 3)), return_exceptions=True
    )
    assert all(isinstance(r, Unreachable) for r in results)
    factory.refuse = False
    read = asyncio.create_task(pool.read(4, Function.HOLDING, 0, 1))
    await settle()
    factory.links[0].answer()
    assert await read == [0]


async def test_closing_the_pool_closes_busy_links_when_their_request_ends() -> None:
    factory = Factory()
    pool = PoolArbiter("p", factory, max_connections=1)
    busy = asyncio.create_task(pool.read(1, Function.HOLDING, 0, 1))
    waiting = asyncio.create_task(pool.read(2, Function.HOLDING, 0, 1))
    await settle()
    await pool.close()
    assert not factory.links[0].closed
    factory.links[0].answer()
    assert await busy == [0]
    assert factory.links[0].closed
    with pytest.raises(Unreachable, match="closed"):
        await waiting
    with pytest.raises(Unreachable, match="closed"):
        await pool.read(3, Function.HOLDING, 0, 1)
    assert pool.open_links == 0
