"""The agent's own Modbus TCP client (`ModbusLink` on a `TcpBus`) against the pymodbus simulator server.

pymodbus's client, reading the same server, is the independent reference for values and exceptions.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import numpy as np
import pytest
from pymodbus.client import AsyncModbusTcpClient

from agent.config.profile import Function, NumericPoint, register_count
from agent.config.registry import ProfileRegistry
from agent.config.site import TcpBus
from agent.errors import DeviceTimeout, ExceptionResponse, Unreachable
from agent.modbus.decode import decode_point
from agent.modbus.io import ModbusLink
from simulators.clock import FixedClock
from simulators.faults import Fault, FaultKind
from simulators.server import SimulatedFactory
from tests.integration.conftest import StartFactory
from tests.scenarios import shipped_scenario

pytestmark = pytest.mark.integration

TINY = shipped_scenario("tiny")
NOON_DAY_2 = TINY.start.timestamp() + 86400 + 12 * 3600 + 7.5
MAIN, LINE = 1, 2
SDM630 = ProfileRegistry().get("eastron/sdm630")


def _bus(port: int, timeout_s: float = 0.3, retries: int = 0) -> TcpBus:
    return TcpBus(
        name="meters", type="tcp", host="127.0.0.1", port=port, timeout_s=timeout_s, retries=retries
    )


@pytest.fixture
async def tiny(start_factory: StartFactory) -> SimulatedFactory:
    return await start_factory(TINY, clock=FixedClock(NOON_DAY_2))


@pytest.fixture
async def link(tiny: SimulatedFactory) -> AsyncIterator[ModbusLink]:
    async with ModbusLink(_bus(tiny.bus("meters").port)) as opened:
        yield opened


@pytest.fixture
async def reference(tiny: SimulatedFactory) -> AsyncIterator[AsyncModbusTcpClient]:
    client = AsyncModbusTcpClient("127.0.0.1", port=tiny.bus("meters").port, timeout=0.3, retries=0)
    await client.connect()
    yield client
    client.close()


async def _reference_read(
    client: AsyncModbusTcpClient, function: Function, address: int, count: int
) -> list[int] | list[bool] | int:
    """Values as pymodbus reads them, or the exception code the server answered with."""
    call = {
        Function.COIL: client.read_coils,
        Function.DISCRETE: client.read_discrete_inputs,
        Function.HOLDING: client.read_holding_registers,
        Function.INPUT: client.read_input_registers,
    }[function]
    response = await call(address, count=count, device_id=MAIN)
    if response.isError():
        return int(response.exception_code)
    if function.is_bit:
        return [bool(b) for b in response.bits[:count]]
    return list(response.registers)


async def _agent_read(
    link: ModbusLink, function: Function, address: int, count: int
) -> list[int] | list[bool] | int:
    try:
        return await link.read(MAIN, function, address, count)
    except ExceptionResponse as exc:
        return exc.code


@pytest.mark.parametrize("function", list(Function))
@pytest.mark.parametrize(("address", "count"), [(0, 2), (0, 60), (342, 4), (9000, 2)])
async def test_every_read_function_agrees_with_pymodbus(
    link: ModbusLink, reference: AsyncModbusTcpClient, function: Function, address: int, count: int
) -> None:
    expected = await _reference_read(reference, function, address, count)
    assert await _agent_read(link, function, address, count) == expected


async def test_values_decode_to_what_the_simulated_meter_measures(
    tiny: SimulatedFactory, link: ModbusLink
) -> None:
    point = SDM630.point("voltage_l1_n_v")
    assert isinstance(point, NumericPoint)
    registers = await link.read(MAIN, point.function, point.address, register_count(point))
    value = decode_point(point, registers, SDM630.order_of(point)).value
    expected = tiny.model.values("main_meter", NOON_DAY_2)["voltage_l1_n_v"]
    assert value == pytest.approx(float(np.float32(expected)), rel=1e-6)


async def test_an_exception_response_carries_its_code(tiny: SimulatedFactory, link: ModbusLink) -> None:
    tiny.set_fault("line_meter", Fault(FaultKind.EXCEPTION, code=6))
    with pytest.raises(ExceptionResponse) as raised:
        await link.read(LINE, Function.INPUT, 0, 2)
    assert raised.value.code == 6
    assert await link.read(MAIN, Function.INPUT, 0, 2)


async def test_no_answer_is_a_timeout_and_retries_resend(tiny: SimulatedFactory) -> None:
    async with ModbusLink(_bus(tiny.bus("meters").port, timeout_s=0.1, retries=2)) as link:
        # Connected first (a timeout with nothing part-read keeps the connection): on a loaded machine a
        # connect can take longer than 0.1 s, and this test is about the device not answering.
        assert await link.read(MAIN, Function.INPUT, 0, 2)
        tiny.set_fault("main_meter", Fault(FaultKind.TIMEOUT))
        before = len(tiny.bus("meters").request_log)
        with pytest.raises(DeviceTimeout, match="unit 1"):
            await link.read(MAIN, Function.INPUT, 0, 2)
        assert len(tiny.bus("meters").request_log) - before == 3
        tiny.clear_fault("main_meter")
        assert await link.read(MAIN, Function.INPUT, 0, 2)


async def test_a_late_answer_is_never_taken_for_the_next_one(
    tiny: SimulatedFactory, reference: AsyncModbusTcpClient
) -> None:
    async with ModbusLink(_bus(tiny.bus("meters").port, timeout_s=0.1)) as link:
        assert await link.read(MAIN, Function.INPUT, 0, 2)  # connected first, as above
        tiny.set_fault("main_meter", Fault(FaultKind.SLOW, delay_s=0.25))
        with pytest.raises(DeviceTimeout):
            await link.read(MAIN, Function.INPUT, 0, 2)
        tiny.clear_fault("main_meter")
        await asyncio.sleep(0.3)  # the late answer to address 0 arrives in the meantime
        expected = await _reference_read(reference, Function.INPUT, 342, 4)
        assert await link.read(MAIN, Function.INPUT, 342, 4) == expected


async def test_concurrent_reads_on_one_connection_each_get_their_own_answer(
    link: ModbusLink, reference: AsyncModbusTcpClient
) -> None:
    spans = [(address, 2) for address in range(0, 40, 2)]
    expected = [await _reference_read(reference, Function.INPUT, a, n) for a, n in spans]
    got = await asyncio.gather(*(link.read(MAIN, Function.INPUT, a, n) for a, n in spans))
    assert list(got) == expected


async def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unreachable, match=f"127.0.0.1:{port}"):
        await ModbusLink(_bus(port)).connect()


async def test_a_server_going_away_is_unreachable_then_reconnects(tiny: SimulatedFactory) -> None:
    server = tiny.bus("meters")
    async with ModbusLink(_bus(server.port)) as link:
        assert await link.read(MAIN, Function.INPUT, 0, 2)
        await tiny.stop()
        await asyncio.sleep(0.05)
        assert not link.connected
        with pytest.raises(Unreachable):
            await link.read(MAIN, Function.INPUT, 0, 2)


async def test_cancelled_reads_waiting_for_the_link_do_not_wedge_it(
    link: ModbusLink, reference: AsyncModbusTcpClient
) -> None:
    spans = [(address, 2) for address in range(0, 12, 2)]
    expected = [await _reference_read(reference, Function.INPUT, a, n) for a, n in spans]
    reads = [asyncio.create_task(link.read(MAIN, Function.INPUT, a, n)) for a, n in spans]
    await asyncio.sleep(0)  # the first is on the wire, the others queue for the window
    reads[2].cancel()
    reads[4].cancel()
    done = await asyncio.gather(*reads, return_exceptions=True)
    assert [isinstance(r, asyncio.CancelledError) for r in done] == [False, False, True, False, True, False]
    assert [r for i, r in enumerate(done) if i not in (2, 4)] == [
        e for i, e in enumerate(expected) if i not in (2, 4)
    ]
    assert await link.read(MAIN, Function.INPUT, 0, 2) == expected[0]
