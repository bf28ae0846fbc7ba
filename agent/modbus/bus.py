"""Bus arbitration: who may talk on a physical line, and when.

An RS-485 line carries one request at a time, whoever the unit id: two requests in flight collide and
both devices answer into noise. So a serial port and an RTU-over-TCP gateway (one RS-485 line behind a
socket) get a `LineArbiter`: one link, one FIFO lock (asyncio.Lock wakes waiters in order, so devices
interleave fairly), and the bus's inter-frame delay kept between the end of one exchange and the
start of the next. A Modbus TCP bus gets a `PoolArbiter`: up to `max_connections` links, a request
takes a free one.

Links are opened lazily, reused, and re-opened after a connection failure only after an exponential,
capped backoff; while the backoff runs, requests fail at once with `Unreachable` instead of hammering
a dead gateway. A link that received a bad frame (`ProtocolError`) is closed too, but the next request
opens a new one at once: the gateway is there, and the other devices behind it must not wait.
`close()` closes every link, so nothing leaks on shutdown or reload.

The arbiters take a `link_factory` (an async function returning a connected `Link`), so a unit test
can put a plain function behind them; `arbiter_for(bus)` wires the real `ModbusLink`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from agent.config.profile import Function
from agent.config.site import RtuOverTcpBus, SerialBus, TcpBus
from agent.errors import DeviceError, DeviceTimeout, ExceptionResponse, ProtocolError, Unreachable
from agent.modbus.io import ModbusLink, Registers, describe_bus

__all__ = [
    "Arbiter",
    "LineArbiter",
    "Link",
    "LinkFactory",
    "PoolArbiter",
    "arbiter_for",
]


class Link(Protocol):
    """One open connection: a ModbusLink, or a test double."""

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers: ...

    async def write_register(self, unit: int, address: int, value: int) -> None: ...

    def close(self) -> None: ...


LinkFactory = Callable[[], Awaitable[Link]]


class Arbiter(Protocol):
    """A bus as the poller sees it: reads, and a close for shutdown."""

    name: str

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers: ...

    async def close(self) -> None: ...


class _Reopen:
    """When a link may be opened again after connection failures (exponential, capped)."""

    def __init__(self, base_s: float, cap_s: float) -> None:
        self.base_s, self.cap_s = base_s, cap_s
        self.failures = 0
        self.not_before = 0.0

    def check(self, name: str) -> None:
        wait = self.not_before - time.monotonic()
        if wait > 0:
            raise Unreachable(f"bus {name}: reconnect backoff, next attempt in {wait:.1f} s")

    def failed(self) -> None:
        self.failures += 1
        delay = min(self.cap_s, self.base_s * 2 ** min(self.failures - 1, 20))
        self.not_before = time.monotonic() + delay

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = 0.0


def _link_is_broken(exc: DeviceError) -> bool:
    """A timeout or exception response leaves the connection usable; anything else does not."""
    return not isinstance(exc, DeviceTimeout | ExceptionResponse)


def _reopen_waits(exc: DeviceError) -> bool:
    """Whether a broken link is re-opened only after the backoff (not after a bad frame)."""
    return not isinstance(exc, ProtocolError)


class LineArbiter:
    """One physical line: requests never overlap, `inter_frame_delay_s` of silence between them."""

    def __init__(
        self,
        name: str,
        link_factory: LinkFactory,
        *,
        inter_frame_delay_s: float = 0.0,
        reconnect_base_s: float = 0.5,
        reconnect_cap_s: float = 30.0,
    ) -> None:
        self.name = name
        self._factory = link_factory
        self._delay_s = inter_frame_delay_s
        self._lock = asyncio.Lock()
        self._link: Link | None = None
        self._last_end = 0.0
        self._reopen = _Reopen(reconnect_base_s, reconnect_cap_s)
        self.requests = 0

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        async with self._lock:
            link = await self._open()
            quiet = self._last_end + self._delay_s - time.monotonic()
            if quiet > 0:
                await asyncio.sleep(quiet)
            self.requests += 1
            try:
                return await link.read(unit, function, address, count)
            except DeviceError as exc:
                if _link_is_broken(exc):
                    self._drop(backoff=_reopen_waits(exc))
                raise
            finally:
                self._last_end = time.monotonic()

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """One holding-register write in the line's turn, like a read (agent.control's only way out)."""
        async with self._lock:
            link = await self._open()
            quiet = self._last_end + self._delay_s - time.monotonic()
            if quiet > 0:
                await asyncio.sleep(quiet)
            self.requests += 1
            try:
                await link.write_register(unit, address, value)
            except DeviceError as exc:
                if _link_is_broken(exc):
                    self._drop(backoff=_reopen_waits(exc))
                raise
            finally:
                self._last_end = time.monotonic()

    async def _open(self) -> Link:
        if self._link is not None:
            return self._link
        self._reopen.check(self.name)
        try:
            self._link = await self._factory()
        except DeviceError:
            self._reopen.failed()
            raise
        self._reopen.succeeded()
        return self._link

    def _drop(self, *, backoff: bool) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None
        if backoff:
            self._reopen.failed()

    async def close(self) -> None:
        async with self._lock:
            if self._link is not None:
                self._link.close()
                self._link = None

    @property
    def open_links(self) -> int:
        return 0 if self._link is None else 1


class PoolArbiter:
    """A Modbus TCP bus: up to `max_connections` links used concurrently, reused when free.

    A request takes a free link without awaiting anything; when every link is busy it queues (FIFO)
    and the request that finishes hands its link straight to the first in the queue. So a waiter costs
    one future, and a request that finds a free link none (an asyncio.Semaphore, an awaited `_take`
    and a set of busy links cost ~15 % of a request's CPU)."""

    def __init__(
        self,
        name: str,
        link_factory: LinkFactory,
        *,
        max_connections: int,
        reconnect_base_s: float = 0.5,
        reconnect_cap_s: float = 30.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"bus {name}: max_connections must be >= 1, got {max_connections}")
        self.name = name
        self._factory = link_factory
        self._max = max_connections
        self._held = 0  # requests holding a place: using a link or opening one (<= max_connections)
        self._queue: deque[asyncio.Future[Link | None]] = deque()  # only while every place is held
        self._idle: list[Link] = []
        self._busy = 0
        self._reopen = _Reopen(reconnect_base_s, reconnect_cap_s)
        self._closed = False
        self.requests = 0

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        if self._closed:
            raise Unreachable(f"bus {self.name}: closed")
        if self._held < self._max and not self._queue:
            self._held += 1
            link = self._idle.pop() if self._idle else None
        else:
            link = await self._wait_turn()
        if link is None:
            try:
                link = await self._open()
            except BaseException:
                self._pass_on(None)
                raise
        self._busy += 1
        self.requests += 1
        broken = backoff = False
        try:
            return await link.read(unit, function, address, count)
        except DeviceError as exc:
            broken = _link_is_broken(exc)
            backoff = broken and _reopen_waits(exc)
            raise
        finally:
            self._busy -= 1
            self._give_back(link, broken, backoff)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """One holding-register write through the pool, like a read; `read` keeps its own copy of
        these lines because it is the hot path (a shared helper cost a coroutine per read)."""
        if self._closed:
            raise Unreachable(f"bus {self.name}: closed")
        if self._held < self._max and not self._queue:
            self._held += 1
            link = self._idle.pop() if self._idle else None
        else:
            link = await self._wait_turn()
        if link is None:
            try:
                link = await self._open()
            except BaseException:
                self._pass_on(None)
                raise
        self._busy += 1
        self.requests += 1
        broken = backoff = False
        try:
            await link.write_register(unit, address, value)
        except DeviceError as exc:
            broken = _link_is_broken(exc)
            backoff = broken and _reopen_waits(exc)
            raise
        finally:
            self._busy -= 1
            self._give_back(link, broken, backoff)

    async def _wait_turn(self) -> Link | None:
        """Queue for a place; the place comes with the finished request's link (None: open one)."""
        waiter: asyncio.Future[Link | None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._pass_on(waiter.result())  # handed a place, cancelled before using it
            elif waiter in self._queue:  # not yet dropped as cancelled by a hand-over
                self._queue.remove(waiter)
            raise

    async def _open(self) -> Link:
        if self._closed:
            raise Unreachable(f"bus {self.name}: closed")
        self._reopen.check(self.name)
        try:
            link = await self._factory()
        except DeviceError:
            self._reopen.failed()
            raise
        self._reopen.succeeded()
        return link

    def _give_back(self, link: Link, broken: bool, backoff: bool) -> None:
        if broken or self._closed:
            link.close()
            if backoff:
                self._reopen.failed()
            self._pass_on(None)
        else:
            self._pass_on(link)

    def _pass_on(self, link: Link | None) -> None:
        """Hand the place (and a healthy link) to the first waiter, or free it."""
        queue = self._queue
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(link)
                return
        self._held -= 1
        if link is not None:
            self._idle.append(link)

    async def close(self) -> None:
        self._closed = True
        for link in self._idle:
            link.close()
        self._idle.clear()
        # Links in use are closed by their request as it finishes (see _give_back).

    @property
    def open_links(self) -> int:
        return len(self._idle) + self._busy


def _modbus_factory(bus: TcpBus | RtuOverTcpBus | SerialBus) -> LinkFactory:
    async def open_link() -> Link:
        link = ModbusLink(bus)
        try:
            await link.connect()
        except DeviceError:
            link.close()
            raise
        return link

    return open_link


def arbiter_for(
    bus: TcpBus | RtuOverTcpBus | SerialBus, link_factory: LinkFactory | None = None
) -> LineArbiter | PoolArbiter:
    """The arbiter a configured bus needs: a pool for Modbus TCP, one FIFO line otherwise."""
    factory = link_factory or _modbus_factory(bus)
    name = f"{bus.name} ({describe_bus(bus)})"
    if isinstance(bus, TcpBus):
        return PoolArbiter(name, factory, max_connections=bus.max_connections)
    return LineArbiter(name, factory, inter_frame_delay_s=bus.inter_frame_delay_ms / 1000.0)
