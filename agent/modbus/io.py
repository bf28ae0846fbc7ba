"""The Modbus I/O module: one connection to one bus, library errors translated.

Modbus TCP goes through `_TcpClient`, which keeps one future per transaction id and leaves framing
and every check of a reply to the pure `MbapSession` (agent/modbus/mbap.py): pymodbus's transaction
layer cost ~175 µs per request, which capped one connection at 12 % of a C client. RTU framing and
CRC (RTU over TCP, serial) stay with pymodbus, which only this module imports. Everything else
talks to the `RegisterReader` protocol, so a unit test can hand the poller a plain async function
and an integration test a real server on a socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, Protocol, Self, cast

from agent.config.profile import Function
from agent.config.site import RtuOverTcpBus, SerialBus, TcpBus
from agent.errors import DeviceError, DeviceTimeout, ExceptionResponse, ProtocolError, Unreachable
from agent.modbus.mbap import MbapSession

__all__ = ["ModbusLink", "RegisterReader", "describe_bus"]

# pymodbus logs every timeout at ERROR; the agent logs availability on transitions instead.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

Registers = list[int] | list[bool]


class RegisterReader(Protocol):
    """What the poller needs from a bus: read `count` registers/bits of `function` at `address`."""

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers: ...


def describe_bus(bus: TcpBus | RtuOverTcpBus | SerialBus) -> str:
    if isinstance(bus, SerialBus):
        return f"rtu {bus.port} {bus.baudrate} {bus.bytesize}{bus.parity}{bus.stopbits}"
    return f"{bus.type} {bus.host}:{bus.port}"


class ModbusLink:
    """One connection (a socket or a serial port) to a bus. The bus arbiter serialises requests on a
    line; a TCP bus may hold several links, and a TCP link also accepts a few concurrent reads."""

    def __init__(self, bus: TcpBus | RtuOverTcpBus | SerialBus) -> None:
        self.bus = bus
        self._client: _TcpClient | _RtuClient = (
            _TcpClient(bus) if isinstance(bus, TcpBus) else _RtuClient(bus)
        )

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._client.connected

    async def connect(self) -> None:
        try:
            await self._client.connect()
        except OSError as exc:
            raise Unreachable(f"{describe_bus(self.bus)}: {exc}") from exc

    def close(self) -> None:
        self._client.close()

    def read(self, unit: int, function: Function, address: int, count: int) -> Coroutine[Any, Any, Registers]:
        # The client's own coroutine when connected: no coroutine of ours around every request.
        if self._client.connected:
            return self._client.read(unit, function, address, count)
        return self._connect_and_read(unit, function, address, count)

    async def _connect_and_read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        await self.connect()
        return await self._client.read(unit, function, address, count)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """Write one holding register (function 6). Only `agent.control` calls this, and only for a
        device with `writes_enabled: true` (docs/control.md)."""
        if not self._client.connected:
            await self.connect()
        await self._client.write_register(unit, address, value)


class _RtuClient:
    """RTU framing and CRC through pymodbus, imported only once such a bus exists: a TCP-only agent
    saves its ~2 MB of RSS."""

    def __init__(self, bus: RtuOverTcpBus | SerialBus) -> None:
        from pymodbus import exceptions

        self.bus = bus
        self._errors = exceptions
        self._client = _make_client(bus)

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(self) -> None:
        try:
            ok = await self._client.connect()
        except self._errors.ModbusException as exc:
            raise Unreachable(f"{describe_bus(self.bus)}: {exc}") from exc
        if not ok:
            raise Unreachable(f"{describe_bus(self.bus)}: cannot connect")

    def close(self) -> None:
        self._client.close()

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        errors = self._errors
        try:
            response = await getattr(self._client, _READS[function])(address, count=count, device_id=unit)
        except errors.ModbusIOException as exc:
            raise DeviceTimeout(f"unit {unit} {function} {address}+{count}: no response") from exc
        except errors.ConnectionException as exc:
            raise Unreachable(f"{describe_bus(self.bus)}: {exc}") from exc
        except TimeoutError as exc:
            raise DeviceTimeout(f"unit {unit} {function} {address}+{count}: timeout") from exc
        except errors.ModbusException as exc:
            raise DeviceError(f"unit {unit} {function} {address}+{count}: {exc}") from exc
        return _values(response, function, count)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        errors = self._errors
        what = f"unit {unit} fc6 {address} = {value}"
        try:
            response = await self._client.write_register(address, value, device_id=unit)
        except errors.ModbusIOException as exc:
            raise DeviceTimeout(f"{what}: no response") from exc
        except errors.ConnectionException as exc:
            raise Unreachable(f"{describe_bus(self.bus)}: {exc}") from exc
        except TimeoutError as exc:
            raise DeviceTimeout(f"{what}: timeout") from exc
        except errors.ModbusException as exc:
            raise DeviceError(f"{what}: {exc}") from exc
        if response.isError():
            raise ExceptionResponse(int(getattr(response, "exception_code", 0)))


_READS = {
    Function.COIL: "read_coils",
    Function.DISCRETE: "read_discrete_inputs",
    Function.HOLDING: "read_holding_registers",
    Function.INPUT: "read_input_registers",
}


def _values(response: Any, function: Function, count: int) -> Registers:
    if response.isError():
        raise ExceptionResponse(int(getattr(response, "exception_code", 0)))
    if function.is_bit:
        bits: Sequence[bool] = response.bits
        return [bool(b) for b in bits[:count]]
    registers: list[int] = list(response.registers)
    if len(registers) != count:
        raise DeviceError(f"asked for {count} registers, got {len(registers)}")
    return registers


def _make_client(bus: RtuOverTcpBus | SerialBus) -> Any:
    from pymodbus import FramerType
    from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

    # pymodbus retries inside one request; the agent's own retry and backoff policy sits above it.
    common: dict[str, Any] = {"timeout": bus.timeout_s, "retries": bus.retries, "reconnect_delay": 0}
    if isinstance(bus, SerialBus):
        return AsyncModbusSerialClient(
            bus.port,
            framer=FramerType.RTU,
            baudrate=bus.baudrate,
            parity=bus.parity,
            stopbits=bus.stopbits,
            bytesize=bus.bytesize,
            **common,
        )
    return AsyncModbusTcpClient(bus.host, port=bus.port, framer=FramerType.RTU, **common)


_FUNCTION_CODES = {Function.COIL: 1, Function.DISCRETE: 2, Function.HOLDING: 3, Function.INPUT: 4}
# Requests one TCP link keeps in flight at once. 1: the pymodbus server (our simulator) and many
# gateways answer only the first of several requests that arrive in one segment and drop the rest,
# so concurrent reads on a link queue here; a larger window is for servers known to pipeline.
PIPELINE_WINDOW = 1

# A request in flight: its future, deadline (loop time), and what it asked for (for the timeout error).
_Request = tuple["asyncio.Future[Registers]", float, int, int, int, int]


class _TcpClient:
    """Modbus TCP client: one socket, a future per transaction id, the bytes framed and checked by
    `MbapSession` (agent/modbus/mbap.py).

    A reply that fails the session's checks (wrong protocol, unit or transaction id, function code,
    byte count, length) is a `ProtocolError`: the connection is dropped at once, every request on it
    fails with that error, and the next read opens a new connection. So is a timeout while part of a
    frame sits in the buffer (a frame cut short, or a length that lies): those bytes would otherwise
    be taken for the start of the next reply. A timeout with nothing part-read keeps the connection;
    the session remembers the transaction, and its late answer is checked and skipped, never taken
    for the answer to a later request.

    Per request: one future, one dict entry, one write. The pipeline window is a counter with a FIFO
    of waiters that only exist while the window is full (an asyncio.Semaphore cost two coroutines and
    a scan of its waiters per request even when free), and one watchdog timer per link covers every
    deadline."""

    def __init__(self, bus: TcpBus) -> None:
        self.bus = bus
        self._timeout_s = bus.timeout_s
        self._retries = bus.retries
        self.transport: asyncio.Transport | None = None  # the open connection
        self._session = MbapSession()
        self._pending: dict[int, _Request] = {}
        self._watchdog: asyncio.TimerHandle | None = None
        self._in_flight = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def connected(self) -> bool:
        return self.transport is not None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.bus.timeout_s):
                await loop.create_connection(lambda: _Wire(self), self.bus.host, self.bus.port)
        except TimeoutError as exc:
            raise Unreachable(f"{describe_bus(self.bus)}: connect timed out") from exc

    def close(self) -> None:
        self._drop(lambda: Unreachable(f"{describe_bus(self.bus)}: connection closed"))

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        code = _FUNCTION_CODES[function]
        if self._in_flight < PIPELINE_WINDOW and not self._queue:
            self._in_flight += 1
        else:
            await self._wait_turn()
        try:
            attempt = 0
            while True:
                tid, future = self._send(unit, code, address, count)
                try:
                    return await future
                except DeviceTimeout:
                    if attempt >= self._retries:
                        raise
                    attempt += 1
                finally:
                    self._pending.pop(tid, None)
                    self._session.expire(tid)  # no-op once answered; a late answer is skipped
        finally:
            self._pass_turn()

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """Function 6; retried on a timeout like a read (writing the same value twice is harmless)."""
        if self._in_flight < PIPELINE_WINDOW and not self._queue:
            self._in_flight += 1
        else:
            await self._wait_turn()
        try:
            attempt = 0
            while True:
                tid, future = self._send(unit, 6, address, value, write=True)
                try:
                    await future
                except DeviceTimeout:
                    if attempt >= self._retries:
                        raise
                    attempt += 1
                else:
                    return
                finally:
                    self._pending.pop(tid, None)
                    self._session.expire(tid)
        finally:
            self._pass_turn()

    async def _wait_turn(self) -> None:
        """Queue until a request in flight hands its place in the window over (FIFO)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._pass_turn()  # handed the place, cancelled before using it: hand it on
            elif waiter in self._queue:  # not yet dropped as cancelled by a hand-over
                self._queue.remove(waiter)
            raise

    def _pass_turn(self) -> None:
        queue = self._queue
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place in the window moves to the waiter
                return
        self._in_flight -= 1

    def _send(
        self, unit: int, code: int, address: int, count: int, write: bool = False
    ) -> tuple[int, asyncio.Future[Registers]]:
        transport = self.transport
        if transport is None:
            raise Unreachable(f"{describe_bus(self.bus)}: not connected")
        loop = asyncio.get_running_loop()
        session = self._session
        tid, frame = (
            session.write_request(unit, address, count)
            if write
            else session.request(unit, code, address, count)
        )
        future: asyncio.Future[Registers] = loop.create_future()
        self._pending[tid] = (future, loop.time() + self._timeout_s, unit, code, address, count)
        transport.write(frame)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._timeout_s, self._expire_overdue)
        return tid, future

    def _expire_overdue(self) -> None:
        """One timer per link, not one per request: a timer handle per request was ~7 % of a read."""
        self._watchdog = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        overdue = [entry for entry in self._pending.values() if entry[1] <= now and not entry[0].done()]
        if overdue and self._session.buffered:
            where = f"{describe_bus(self.bus)}: {self._session.buffered} bytes of a frame"
            self._drop(lambda: ProtocolError("incomplete", f"{where} that never completed"))
            return
        for future, _, unit, code, address, count in overdue:
            future.set_exception(DeviceTimeout(f"unit {unit} fc{code} {address}+{count}: timeout"))
        if self._pending:
            first = min(entry[1] for entry in self._pending.values())
            self._watchdog = loop.call_at(max(first, now + 0.001), self._expire_overdue)

    def _drop(self, error: Callable[[], DeviceError]) -> None:
        """Close the connection, forget its bytes, and fail every request on it with `error()`."""
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._session.reset()
        pending = list(self._pending.values())
        self._pending.clear()
        for entry in pending:
            if not entry[0].done():
                entry[0].set_exception(error())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport implements asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self._session.reset()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"{describe_bus(self.bus)}: connection lost{f' ({exc})' if exc else ''}"
        self._drop(lambda: Unreachable(reason))

    def data_received(self, data: bytes) -> None:
        session = self._session
        session.feed(data)
        try:
            reply = session.next_reply()
            while reply is not None:
                tid, values, exception = reply
                entry = self._pending.get(tid)
                if entry is not None and not entry[0].done():
                    if values is None:
                        entry[0].set_exception(ExceptionResponse(exception))
                    else:
                        entry[0].set_result(values)
                reply = session.next_reply()
        except ProtocolError as exc:
            reason, detail = exc.reason, f"{describe_bus(self.bus)}: {exc}"
            self._drop(lambda: ProtocolError(reason, detail))


class _Wire(asyncio.Protocol):
    """The protocol object of one connection. One per connection, so that the closing notice of a
    connection the client already dropped cannot reach (and close) the one it opened since."""

    def __init__(self, client: _TcpClient) -> None:
        self._client = client
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._client.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._client.transport is self._transport:
            self._client.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._client.transport is self._transport:
            self._client.connection_lost(exc)
