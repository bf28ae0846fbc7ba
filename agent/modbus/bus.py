"""Bus arbitration: who may talk on a physical line, and when.

An RS-485 line carries one request at a time, whoever the unit id: two requests in flight collide and
both devices answer into noise. So a serial port and an RTU-over-TCP gateway (one RS-485 line behind a
socket) get a `LineArbiter`: one link, one FIFO lock (asyncio.Lock wakes waiters in order, so devices
interleave fairly), and the bus's inter-frame delay kept between the end of one exchange and the
start of the next. A Modbus TCP bus gets a `PoolArbiter`: up to `max_connections` links, a request
takes a free one.

Links are opened lazily, reused, and re-opened after a connection failure only after an exponential,
capped backoff; while the backoff runs, requests fail at once with `Unreachable` instead of hammering
a dead gateway. `close()` closes every link, so nothing leaks on shutdown or reload.

The arbiters take a `link_factory` (an async function returning a connected `Link`), so a unit test
can put a plain function behind them; `arbiter_for(bus)` wires the real `ModbusLink`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from agent.config.profile import Function
from agent.config.site import RtuOverTcpBus, SerialBus, TcpBus
from agent.errors import DeviceError, DeviceTimeout, ExceptionResponse, Unreachable
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
                    self._drop()
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

    def _drop(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None
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
    """A Modbus TCP bus: up to `max_connections` links used concurrently, reused when free."""

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
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[Link] = []
        self._busy: set[Link] = set()
        self._reopen = _Reopen(reconnect_base_s, reconnect_cap_s)
        self._closed = False
        self.requests = 0

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        async with self._slots:
            link = await self._take()
            self.requests += 1
            broken = False
            try:
                return await link.read(unit, function, address, count)
            except DeviceError as exc:
                broken = _link_is_broken(exc)
                raise
            finally:
                self._give_back(link, broken)

    async def _take(self) -> Link:
        if self._closed:
            raise Unreachable(f"bus {self.name}: closed")
        if self._idle:
            link = self._idle.pop()
        else:
            self._reopen.check(self.name)
            try:
                link = await self._factory()
            except DeviceError:
                self._reopen.failed()
                raise
            self._reopen.succeeded()
        self._busy.add(link)
        return link

    def _give_back(self, link: Link, broken: bool) -> None:
        self._busy.discard(link)
        if broken or self._closed:
            link.close()
            if broken:
                self._reopen.failed()
        else:
            self._idle.append(link)

    async def close(self) -> None:
        self._closed = True
        for link in self._idle:
            link.close()
        self._idle.clear()
        # Links in use are closed by their request as it finishes (see _give_back).

    @property
    def open_links(self) -> int:
        return len(self._idle) + len(self._busy)


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
