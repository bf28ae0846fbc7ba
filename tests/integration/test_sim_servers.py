"""The simulated factory on real sockets and a real pseudo-terminal, read by independent clients."""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import time

import numpy as np
import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from agent.config.profile import NumericPoint
from agent.config.registry import ProfileRegistry
from agent.modbus.decode import decode_point
from simulators.clock import FixedClock
from simulators.faults import Fault, FaultKind
from simulators.server import SimulatedFactory, wire_seconds
from tests.integration.conftest import StartFactory
from tests.scenarios import shipped_scenario

pytestmark = pytest.mark.integration

TINY = shipped_scenario("tiny")
NOON_DAY_2 = TINY.start.timestamp() + 86400 + 12 * 3600 + 7.5
SDM630 = ProfileRegistry().get("eastron/sdm630")
COMPRESSOR = ProfileRegistry().get("generic/compressor_load_unload")


def _point_value(profile_id: str, name: str, registers: list[int]) -> float:
    profile = ProfileRegistry().get(profile_id)
    point = profile.point(name)
    assert isinstance(point, NumericPoint)
    value = decode_point(point, registers, profile.order_of(point)).value
    assert isinstance(value, float | int)
    return float(value)


async def _read(
    client: AsyncModbusTcpClient | AsyncModbusSerialClient, unit: int, address: int, count: int
) -> list[int]:
    response = await client.read_input_registers(address, count=count, device_id=unit)
    assert not response.isError(), response
    return list(response.registers)


@pytest.fixture
async def tiny(start_factory: StartFactory) -> SimulatedFactory:
    return await start_factory(TINY, clock=FixedClock(NOON_DAY_2))


@pytest.fixture
async def meters(tiny: SimulatedFactory) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=tiny.bus("meters").port, timeout=0.3, retries=0)
    await client.connect()
    yield client
    client.close()


async def _mbpoll(*args: str) -> list[float]:
    mbpoll = shutil.which("mbpoll")
    assert mbpoll, "mbpoll is installed by scripts/setup-services.sh"
    process = await asyncio.create_subprocess_exec(
        mbpoll, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0, err.decode()
    return [float(v) for v in re.findall(r"^\[\d+\]:\s+(\S+)", out.decode(), re.MULTILINE)]


def _as_mbpoll_prints(value: float) -> float:
    # The register holds a float32; mbpoll prints it with %g (six significant digits).
    return float(f"{float(np.float32(value)):g}")


async def test_mbpoll_reads_the_physics_at_the_published_sdm630_addresses(tiny: SimulatedFactory) -> None:
    port = str(tiny.bus("meters").port)
    expected = tiny.model.values("main_meter", NOON_DAY_2)
    # 30001.. : three phase voltages then three currents; 30073: import kWh (1-based references).
    first = await _mbpoll(
        "-m", "tcp", "-p", port, "-a", "1", "-r", "1", "-c", "6", "-t", "3:float", "-B", "-1", "127.0.0.1"
    )
    energy = await _mbpoll(
        "-m", "tcp", "-p", port, "-a", "1", "-r", "73", "-c", "1", "-t", "3:float", "-B", "-1", "127.0.0.1"
    )
    names = [
        "voltage_l1_n_v",
        "voltage_l2_n_v",
        "voltage_l3_n_v",
        "current_l1_a",
        "current_l2_a",
        "current_l3_a",
    ]
    assert first == [_as_mbpoll_prints(expected[n]) for n in names]
    assert energy == [_as_mbpoll_prints(expected["total_import_kwh"])]
    assert 200 < first[0] < 240
    assert first[3] > 10


async def test_a_timeout_fault_gives_no_answer_until_cleared(
    tiny: SimulatedFactory, meters: AsyncModbusTcpClient
) -> None:
    tiny.set_fault("main_meter", Fault(FaultKind.TIMEOUT))
    with pytest.raises(ModbusIOException):
        await meters.read_input_registers(0, count=2, device_id=1)
    tiny.clear_fault("main_meter")
    assert await _read(meters, 1, 0, 2)
    assert tiny.bus("meters").request_log[-2].outcome == "no_answer"


async def test_an_exception_fault_answers_with_its_code(
    tiny: SimulatedFactory, meters: AsyncModbusTcpClient
) -> None:
    tiny.set_fault("line_meter", Fault(FaultKind.EXCEPTION, code=6))
    response = await meters.read_input_registers(0, count=2, device_id=2)
    assert response.isError()
    assert response.exception_code == 6


async def test_an_offline_device_comes_back_by_itself(
    tiny: SimulatedFactory, meters: AsyncModbusTcpClient
) -> None:
    tiny.set_fault("main_meter", Fault(FaultKind.OFFLINE, duration_s=0.4))
    with pytest.raises(ModbusIOException):
        await meters.read_input_registers(0, count=2, device_id=1)
    await asyncio.sleep(0.4)
    assert await _read(meters, 1, 0, 2)


async def test_a_slow_device_answers_late(tiny: SimulatedFactory, meters: AsyncModbusTcpClient) -> None:
    tiny.set_fault("main_meter", Fault(FaultKind.SLOW, delay_s=0.15))
    started = time.monotonic()
    assert await _read(meters, 1, 0, 2)
    assert time.monotonic() - started >= 0.15


async def test_a_corrupt_rtu_frame_is_rejected_by_the_client(tiny: SimulatedFactory) -> None:
    bus = tiny.bus("compressors")
    client = AsyncModbusTcpClient("127.0.0.1", port=bus.port, framer=FramerType.RTU, timeout=0.3, retries=0)
    await client.connect()
    try:
        tiny.set_fault("c1", Fault(FaultKind.CORRUPT))
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(0, count=4, device_id=10)
        tiny.clear_fault("c1")
        await asyncio.sleep(0.05)  # let the client drop the rest of the bad frame
        assert await _read(client, 10, 0, 4)
    finally:
        client.close()


async def test_counter_rollover_wraps_while_the_true_energy_runs_on(tiny: SimulatedFactory) -> None:
    clock = tiny.clock
    assert isinstance(clock, FixedClock)
    bus = tiny.bus("compressors")
    client = AsyncModbusTcpClient("127.0.0.1", port=bus.port, framer=FramerType.RTU, timeout=0.3, retries=0)
    await client.connect()
    try:
        tiny.set_fault("c1", Fault(FaultKind.ROLLOVER, point="energy_kwh", margin=0.5))
        true_before = tiny.true_counters("c1")["energy_kwh"]
        near = _point_value(COMPRESSOR.id, "energy_kwh", await _read(client, 10, 12, 2))
        clock.advance(600)
        wrapped = _point_value(COMPRESSOR.id, "energy_kwh", await _read(client, 10, 12, 2))
        true_after = tiny.true_counters("c1")["energy_kwh"]
    finally:
        client.close()
    assert near == pytest.approx(1_000_000 - 0.5, abs=0.1)
    assert wrapped < near
    assert wrapped + 1_000_000 - near == pytest.approx(true_after - true_before, abs=0.2)


async def test_meter_reset_and_glitch_show_on_the_wire_not_in_the_truth(
    tiny: SimulatedFactory, meters: AsyncModbusTcpClient
) -> None:
    true_kwh = tiny.true_counters("main_meter")["import_kwh"]
    tiny.set_fault("main_meter", Fault(FaultKind.RESET))
    assert _point_value(SDM630.id, "total_import_kwh", await _read(meters, 1, 72, 2)) == 0.0
    tiny.clear_fault("main_meter")
    tiny.set_fault("main_meter", Fault(FaultKind.GLITCH, point="total_import_kwh", value=9.9e6))
    assert _point_value(SDM630.id, "total_import_kwh", await _read(meters, 1, 72, 2)) == pytest.approx(9.9e6)
    assert _point_value(SDM630.id, "total_import_kwh", await _read(meters, 1, 72, 2)) == pytest.approx(
        true_kwh, rel=1e-6
    )
    assert tiny.true_counters("main_meter")["import_kwh"] == true_kwh


async def test_serial_line_answers_at_wire_speed_and_requests_never_overlap(tiny: SimulatedFactory) -> None:
    bus = tiny.bus("line")
    client = AsyncModbusSerialClient(
        bus.client_port, framer=FramerType.RTU, baudrate=9600, timeout=1, retries=0
    )
    await client.connect()
    try:
        started = time.monotonic()
        for _ in range(3):
            units = _point_value("generic/production_counter", "units_total", await _read(client, 20, 2, 2))
            await _read(client, 21, 0, 12)
        elapsed = time.monotonic() - started
    finally:
        client.close()
    assert units == int(tiny.true_counters("counter")["units"])
    assert elapsed >= 3 * (wire_seconds(9600, 8, 9) + wire_seconds(9600, 8, 29))
    log = sorted(bus.request_log, key=lambda r: r.start)
    assert len(log) == 6
    assert all(earlier.end <= later.start for earlier, later in itertools.pairwise(log))


async def test_an_absent_unit_id_is_silent(tiny: SimulatedFactory, meters: AsyncModbusTcpClient) -> None:
    with pytest.raises(ModbusIOException):
        await meters.read_input_registers(0, count=2, device_id=99)
