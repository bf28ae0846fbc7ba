"""Misbehaving Modbus servers on real sockets: one bad frame costs one poll, never the device.

`HostileTcpServer` answers Modbus TCP reads as a script says: a frame cut short, an MBAP length of
0xFFFF, 40 bytes of garbage, a reply from the wrong unit, with the wrong protocol id or transaction
id, or a correct answer. `HostileRtuServer` does the same for RTU over TCP (garbage, wrong unit).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import yaml

from agent.config.loader import load_config
from agent.config.profile import Function
from agent.config.site import RtuOverTcpBus, TcpBus
from agent.errors import DeviceError, ProtocolError
from agent.modbus.io import ModbusLink
from agent.runtime.app import Agent
from agent.runtime.output import MemoryOutput

pytestmark = pytest.mark.integration

UNIT = 1
VOLTS = (230.0, 231.0, 232.0)  # voltage_l1/l2/l3_n_v of an SDM630: input registers 0..5, float32 ABCD
WRONG_UNIT_VOLTS = 240.0  # in the points' valid range, so only the framing can tell it apart
BAD_REPLIES = ["truncated", "length_ffff", "garbage", "wrong_unit", "wrong_protocol", "wrong_tid"]
REASONS = {
    "truncated": "incomplete",
    "length_ffff": "length",
    "garbage": "protocol_id",
    "wrong_unit": "unit_id",
    "wrong_protocol": "protocol_id",
    "wrong_tid": "transaction_id",
}
GARBAGE = bytes((37 * i + 11) & 0xFF for i in range(40))


def float_words(value: float) -> list[int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


def meter_registers(address: int, count: int, volts: tuple[float, ...] = VOLTS) -> list[int]:
    words = [w for v in volts for w in float_words(v)]
    return [words[a] if a < len(words) else 0 for a in range(address, address + count)]


def tcp_reply(tid: int, unit: int, function: int, words: list[int], *, protocol: int = 0) -> bytes:
    pdu = bytes([function, 2 * len(words)]) + b"".join(w.to_bytes(2, "big") for w in words)
    return struct.pack(">HHHB", tid, protocol, 1 + len(pdu), unit) + pdu


class HostileTcpServer:
    """Modbus TCP on 127.0.0.1: each read request takes the next behaviour of `script` ("good" when
    the script is used up). Counts connections, records what it did."""

    def __init__(self, script: list[str]) -> None:
        self.script = deque(script)
        self.done: list[str] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await reader.readexactly(12)
                tid, _, _, unit, function, address, count = struct.unpack(">HHHBBHH", request)
                behaviour = self.script.popleft() if self.script else "good"
                self.done.append(behaviour)
                writer.write(self.answer(behaviour, tid, unit, function, address, count))
                await writer.drain()
                if behaviour == "good_then_garbage":
                    await asyncio.sleep(0.05)
                    writer.write(GARBAGE)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    def answer(behaviour: str, tid: int, unit: int, function: int, address: int, count: int) -> bytes:
        good = tcp_reply(tid, unit, function, meter_registers(address, count))
        match behaviour:
            case "good" | "good_then_garbage":
                return good
            case "truncated":
                return good[: len(good) // 2]
            case "length_ffff":
                return good[:4] + b"\xff\xff" + good[6:]
            case "garbage":
                return GARBAGE
            case "wrong_unit":
                volts = (WRONG_UNIT_VOLTS,) * 3
                return tcp_reply(tid, unit + 1, function, meter_registers(address, count, volts))
            case "wrong_protocol":
                return tcp_reply(tid, unit, function, meter_registers(address, count), protocol=1)
            case "wrong_tid":
                return tcp_reply((tid + 1) & 0xFFFF, unit, function, meter_registers(address, count))
        raise AssertionError(behaviour)


StartHostile = Callable[[list[str]], Awaitable[HostileTcpServer]]


@pytest.fixture
async def hostile() -> AsyncIterator[StartHostile]:
    servers: list[HostileTcpServer] = []

    async def start(script: list[str]) -> HostileTcpServer:
        server = HostileTcpServer(script)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def tcp_bus(port: int, timeout_s: float = 0.3) -> TcpBus:
    return TcpBus(name="meters", type="tcp", host="127.0.0.1", port=port, timeout_s=timeout_s, retries=0)


@pytest.mark.parametrize("behaviour", BAD_REPLIES)
async def test_one_bad_reply_fails_one_read_and_the_next_read_is_good(
    hostile: StartHostile, behaviour: str
) -> None:
    server = await hostile(["good", behaviour])
    async with ModbusLink(tcp_bus(server.port, timeout_s=1.0)) as link:
        assert await link.read(UNIT, Function.INPUT, 0, 6) == meter_registers(0, 6)
        started = time.monotonic()
        with pytest.raises(ProtocolError) as raised:
            await link.read(UNIT, Function.INPUT, 0, 6)
        assert raised.value.reason == REASONS[behaviour]
        assert f"127.0.0.1:{server.port}" in str(raised.value)
        # Refused at once, except the frame cut short: that one is only known at the timeout.
        waited = time.monotonic() - started
        assert waited >= 1.0 if behaviour == "truncated" else waited < 0.5
        assert not link.connected  # the connection was dropped with its half-read bytes
        assert await link.read(UNIT, Function.INPUT, 0, 6) == meter_registers(0, 6)
        assert await link.read(UNIT, Function.INPUT, 2, 2) == meter_registers(2, 2)
    assert server.done == ["good", behaviour, "good", "good"]
    assert server.connections == 2


async def test_garbage_between_polls_is_dropped_with_the_connection(
    hostile: StartHostile,
) -> None:
    server = await hostile(["good_then_garbage"])
    async with ModbusLink(tcp_bus(server.port)) as link:
        assert await link.read(UNIT, Function.INPUT, 0, 6) == meter_registers(0, 6)
        await asyncio.sleep(0.2)  # the garbage arrives while no request is in flight
        assert not link.connected
        assert await link.read(UNIT, Function.INPUT, 0, 6) == meter_registers(0, 6)
    assert server.connections == 2


def write_site(tmp_path: Path, port: int, interval_s: float) -> Path:
    bus = {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 0.4}
    bus |= {"retries": 0}
    device = {"name": "m1", "bus": "meters", "unit_id": UNIT, "profile": "eastron/sdm630"}
    device |= {"interval_s": interval_s, "points": ["voltage_l1_n_v", "voltage_l2_n_v", "voltage_l3_n_v"]}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"site": {"name": "test"}, "buses": [bus], "devices": [device]}))
    return path


async def test_every_bad_frame_costs_one_poll_and_the_device_is_back_at_the_next_probe(
    hostile: StartHostile, tmp_path: Path
) -> None:
    """The agent as it runs (schedule, poller, bus pool, TCP client): a good poll, then each bad
    reply once followed by good ones. Each bad poll is `failed` with reason protocol_error, the
    device goes offline once and is online again at the next probe (2 intervals later)."""
    interval_s = 0.5
    script = [step for behaviour in BAD_REPLIES for step in (behaviour, "good")]
    server = await hostile(["good", *script])
    output = MemoryOutput()
    agent = Agent(load_config(write_site(tmp_path, server.port, interval_s)), output)
    task = asyncio.create_task(agent.run())
    deadline = time.monotonic() + 30
    while len(server.done) < 1 + len(script) + 1:  # and one more good poll
        assert time.monotonic() < deadline, f"server saw only {server.done}"
        assert not task.done()
        await asyncio.sleep(0.05)
    agent.stop()
    await asyncio.wait_for(task, 10)

    results = output.of("m1")
    statuses = [r.status for r in results]
    assert statuses[: 2 + 2 * len(BAD_REPLIES)] == ["ok"] + ["failed", "ok"] * len(BAD_REPLIES) + ["ok"]
    for result in results:
        if result.status == "failed":
            assert {(r.quality, r.reason) for r in result.readings} == {("bad", "protocol_error")}
        else:
            assert [r.value for r in result.readings] == list(VOLTS)
    # No wrong-unit value was ever taken for good data.
    assert not any(
        r.value == WRONG_UNIT_VOLTS for res in results for r in res.readings if r.quality == "good"
    )
    events = [(e.state, e.reason) for e in output.events]
    assert events == [("online", None)] + [("offline", "protocol_error"), ("online", None)] * len(BAD_REPLIES)
    # Back at the next probe: the backoff did not grow (every failure was followed by a success).
    failed_at = [r.ts for r in results if r.status == "failed"]
    back_at = [results[i + 1].ts for i, r in enumerate(results[:-1]) if r.status == "failed"]
    assert [round(b - a, 6) for a, b in zip(failed_at, back_at, strict=True)] == [2 * interval_s] * 6
    assert server.connections == 1 + len(BAD_REPLIES)


# -- RTU over TCP: pymodbus frames it; garbage or another unit's reply must not wedge the line ------


def crc16(frame: bytes) -> bytes:
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def rtu_reply(unit: int, function: int, words: list[int]) -> bytes:
    body = bytes([unit, function, 2 * len(words)]) + b"".join(w.to_bytes(2, "big") for w in words)
    return body + crc16(body)


class HostileRtuServer(HostileTcpServer):
    """RTU frames over TCP (a serial-to-Ethernet converter) with the same scripted behaviours."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request = await reader.readexactly(8)
                assert crc16(request[:6]) == request[6:]
                unit, function, address, count = struct.unpack(">BBHH", request[:6])
                behaviour = self.script.popleft() if self.script else "good"
                self.done.append(behaviour)
                words = meter_registers(address, count)
                if behaviour == "garbage":
                    writer.write(GARBAGE)
                elif behaviour == "wrong_unit":
                    writer.write(rtu_reply(unit + 1, function, meter_registers(address, count, (240.0,) * 3)))
                else:
                    writer.write(rtu_reply(unit, function, words))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("behaviour", ["garbage", "wrong_unit"])
async def test_rtu_over_tcp_recovers_after_garbage_or_another_units_reply(behaviour: str) -> None:
    server = HostileRtuServer(["good", behaviour])
    await server.start()
    bus = RtuOverTcpBus(
        name="line", type="rtu_over_tcp", host="127.0.0.1", port=server.port, timeout_s=0.3, retries=0
    )
    try:
        async with ModbusLink(bus) as link:
            assert await link.read(UNIT, Function.INPUT, 0, 6) == meter_registers(0, 6)
            with pytest.raises(DeviceError):
                await link.read(UNIT, Function.INPUT, 0, 6)
            assert await link.read(UNIT, Function.INPUT, 0, 6) == meter_registers(0, 6)
            assert await link.read(UNIT, Function.INPUT, 2, 2) == meter_registers(2, 2)
    finally:
        await server.stop()
    assert server.done == ["good", behaviour, "good", "good"]
