"""The only module that imports pymodbus: one connection to one bus, library errors translated.

Everything else talks to the `RegisterReader` protocol, so a unit test can hand the poller a plain
async function and an integration test a real server on a socket.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from agent.config.profile import Function
from agent.config.site import RtuOverTcpBus, SerialBus, TcpBus
from agent.errors import DeviceError, DeviceTimeout, ExceptionResponse, Unreachable

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
    """One connection (a socket or a serial port) to a bus. Not shared between tasks concurrently:
    the bus arbiter serialises requests on a line; a TCP bus may hold several links."""

    def __init__(self, bus: TcpBus | RtuOverTcpBus | SerialBus) -> None:
        self.bus = bus
        self._client = _make_client(bus)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(self) -> None:
        try:
            ok = await self._client.connect()
        except (OSError, ModbusException) as exc:
            raise Unreachable(f"{describe_bus(self.bus)}: {exc}") from exc
        if not ok:
            raise Unreachable(f"{describe_bus(self.bus)}: cannot connect")

    def close(self) -> None:
        self._client.close()

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers:
        if not self._client.connected:
            await self.connect()
        call = _READS[function]
        try:
            response = await getattr(self._client, call)(address, count=count, device_id=unit)
        except ModbusIOException as exc:
            raise DeviceTimeout(f"unit {unit} {function} {address}+{count}: no response") from exc
        except ConnectionException as exc:
            raise Unreachable(f"{describe_bus(self.bus)}: {exc}") from exc
        except TimeoutError as exc:
            raise DeviceTimeout(f"unit {unit} {function} {address}+{count}: timeout") from exc
        except ModbusException as exc:
            raise DeviceError(f"unit {unit} {function} {address}+{count}: {exc}") from exc
        return _values(response, function, count)


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


def _make_client(bus: TcpBus | RtuOverTcpBus | SerialBus) -> Any:
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
    framer = FramerType.RTU if isinstance(bus, RtuOverTcpBus) else FramerType.SOCKET
    return AsyncModbusTcpClient(bus.host, port=bus.port, framer=framer, **common)
