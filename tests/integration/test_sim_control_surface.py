"""The simulated compressor controllers' Modbus control surface, written by a real pymodbus client.

Functions 6 and 16 on the `writable` holding registers (docs/profiles.md, "Control surface"): accepted
while the panel key is at remote and visible in the read-back; exception 04 with the key at local;
exception 02 for unknown or read-only registers; exception 03 for values the point rejects; every
request counted per device; a heartbeat that stops changing hands the machine back to local control.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.framer import FramerType

from agent.config.registry import ProfileRegistry, builtin_profiles_dir
from simulators.airroom import AirRoom, MachineParams
from simulators.clock import AcceleratedClock, FixedClock
from simulators.controls import EngineControls
from simulators.scenario import load_scenario
from simulators.server import SimulatedFactory, WriteCounts
from tests.integration.conftest import StartFactory

pytestmark = pytest.mark.integration

TINY = load_scenario("tiny")
NOON_DAY_2 = TINY.start.timestamp() + 86400 + 12 * 3600 + 7.5
C1, C2 = 10, 11  # unit ids of the load/unload and the VSD machine on the compressors bus


async def _client(factory: SimulatedFactory) -> AsyncModbusTcpClient:
    bus = factory.bus("compressors")
    client = AsyncModbusTcpClient(bus.host, port=bus.port, framer=FramerType.RTU, timeout=1, retries=0)
    await client.connect()
    return client


@pytest.fixture
async def tiny(start_factory: StartFactory) -> SimulatedFactory:
    factory = await start_factory(TINY, clock=FixedClock(NOON_DAY_2))
    for machine in ("c1", "c2"):  # tiny's panel keys start at local; a technician turns them
        factory.set_remote_enabled(machine, True)
    return factory


@pytest.fixture
async def client(tiny: SimulatedFactory) -> AsyncIterator[AsyncModbusTcpClient]:
    client = await _client(tiny)
    yield client
    client.close()


async def _holding(client: AsyncModbusTcpClient, unit: int, address: int, count: int) -> list[int]:
    response = await client.read_holding_registers(address, count=count, device_id=unit)
    assert not response.isError(), response
    return list(response.registers)


async def _inputs(client: AsyncModbusTcpClient, unit: int, address: int, count: int) -> list[int]:
    response = await client.read_input_registers(address, count=count, device_id=unit)
    assert not response.isError(), response
    return list(response.registers)


async def test_a_write_with_remote_enabled_is_accepted_and_read_back(
    tiny: SimulatedFactory, client: AsyncModbusTcpClient
) -> None:
    assert await _inputs(client, C1, 30, 3) == [1, 0, 0]  # remote key, local control, no starts counted
    physics_band = await _holding(client, C1, 0, 2)
    assert physics_band == [680, 760]  # tiny's band before the retrofit: 6.8 .. 7.6 bar
    response = await client.write_register(1, 705, device_id=C1)  # unload at 7.05 bar
    assert not response.isError(), response
    response = await client.write_registers(10, [1, 0, 17, 45], device_id=C1)  # run, unload, beat, 45 s
    assert not response.isError(), response
    assert await _holding(client, C1, 0, 2) == [680, 705]
    assert await _holding(client, C1, 10, 4) == [1, 0, 17, 45]
    assert await _inputs(client, C1, 31, 1) == [1]  # the heartbeat changed: remote control
    assert tiny.write_counts("c1") == WriteCounts(accepted=2, refused=0)
    assert tiny.write_counts("c2") == WriteCounts()  # counted per device
    response = await client.write_register(2, 690, device_id=C2)  # the VSD's target pressure
    assert not response.isError(), response
    assert (await _holding(client, C2, 2, 1)) == [690]


async def test_a_write_with_remote_disabled_is_refused_with_04_and_changes_nothing(
    tiny: SimulatedFactory, client: AsyncModbusTcpClient
) -> None:
    tiny.set_remote_enabled("c1", False)
    assert await _inputs(client, C1, 30, 1) == [0]
    before = await _holding(client, C1, 0, 14)
    for write in (
        client.write_register(1, 705, device_id=C1),
        client.write_registers(10, [0, 0], device_id=C1),
    ):
        response = await write
        assert response.isError()
        assert response.exception_code == 4
    assert await _holding(client, C1, 0, 14) == before
    assert tiny.write_counts("c1") == WriteCounts(accepted=0, refused=2)
    tiny.set_remote_enabled("c1", True)
    response = await client.write_register(10, 0, device_id=C1)
    assert not response.isError(), response
    assert tiny.write_counts("c1") == WriteCounts(accepted=1, refused=2)


REFUSED = [
    (5, [1], 2),  # a register the map does not have
    (2, [690], 2),  # the VSD's target setpoint: the load/unload machine has none
    (13, [30, 1], 2),  # the last writable register and one past the map
    (300, [1], 2),  # far outside the map
    (10, [2], 3),  # run_command is 0 or 1
]


async def test_writes_outside_the_control_surface_are_refused_and_counted(
    tiny: SimulatedFactory, client: AsyncModbusTcpClient
) -> None:
    before = await _holding(client, C1, 0, 14)
    for refused, (address, values, code) in enumerate(REFUSED, start=1):
        response = await client.write_registers(address, values, device_id=C1)
        assert response.isError(), address
        assert response.exception_code == code, address
        assert await _holding(client, C1, 0, 14) == before
        assert tiny.write_counts("c1") == WriteCounts(accepted=0, refused=refused)


async def test_a_write_to_a_read_only_holding_register_is_refused_with_02(
    start_factory: StartFactory, tmp_path: Path
) -> None:
    # A controller whose setpoints can be read but not written (writable removed from one point).
    shipped = builtin_profiles_dir() / "generic" / "compressor_load_unload.yaml"
    text = shipped.read_text(encoding="utf-8")
    read_only = text.replace("address: 1, dtype: uint16, writable: true,", "address: 1, dtype: uint16,")
    assert read_only != text
    (tmp_path / "generic").mkdir()
    (tmp_path / "generic" / "compressor_load_unload.yaml").write_text(read_only, encoding="utf-8")
    factory = await start_factory(TINY, clock=FixedClock(NOON_DAY_2), registry=ProfileRegistry([tmp_path]))
    client = await _client(factory)
    try:
        assert await _inputs(client, C1, 30, 1) == [0]  # the scenario's key: local
        factory.set_remote_enabled("c1", True)
        response = await client.write_register(1, 705, device_id=C1)
        assert response.isError()
        assert response.exception_code == 2
        assert await _holding(client, C1, 1, 1) == [760]
        response = await client.write_register(0, 650, device_id=C1)  # still writable
        assert not response.isError(), response
        assert factory.write_counts("c1") == WriteCounts(accepted=1, refused=1)
    finally:
        client.close()


async def test_reads_past_the_holding_map_are_still_refused(client: AsyncModbusTcpClient) -> None:
    response = await client.read_holding_registers(10, count=10, device_id=C1)
    assert response.isError()
    assert response.exception_code == 2


async def test_a_tripped_machine_reports_its_fault(
    tiny: SimulatedFactory, client: AsyncModbusTcpClient
) -> None:
    tiny.trip("c1")
    state, alarm = await _inputs(client, C1, 0, 2)
    assert (state, alarm & 1) == (3, 1)
    assert await _inputs(client, C1, 4, 2) == [0, 0]  # no power
    with pytest.raises(KeyError, match="not a compressor"):
        tiny.trip("main_meter")


async def test_a_heartbeat_that_stops_changing_hands_the_machine_back_to_local_control(
    start_factory: StartFactory,
) -> None:
    # 60 simulated seconds per real second: a 10 s heartbeat timeout passes in about 0.2 s.
    clock = AcceleratedClock(NOON_DAY_2, factor=60.0)
    factory = await start_factory(TINY, clock=clock)
    factory.set_remote_enabled("c1", True)
    client = await _client(factory)
    try:
        assert await _inputs(client, C1, 31, 1) == [0]  # no master yet: local
        response = await client.write_registers(12, [1, 10], device_id=C1)  # heartbeat 1, timeout 10 s
        assert not response.isError(), response
        response = await client.write_register(10, 0, device_id=C1)  # a stop command
        assert not response.isError(), response
        for beat in range(2, 6):  # the master keeps beating: remote control holds
            await asyncio.sleep(0.05)
            response = await client.write_register(12, beat, device_id=C1)
            assert not response.isError(), response
            assert await _inputs(client, C1, 31, 1) == [1]
        beat_stopped = clock.now()
        await asyncio.sleep(12.0 / clock.factor)  # 12 simulated seconds without a heartbeat change
        assert clock.now() - beat_stopped >= 12.0
        assert await _inputs(client, C1, 30, 2) == [1, 2]  # remote key still on, local fallback
        response = await client.write_register(12, 6, device_id=C1)  # the master is back
        assert not response.isError(), response
        assert await _inputs(client, C1, 31, 1) == [1]
    finally:
        client.close()


def _tiny_room(t0: float) -> AirRoom:
    """Tiny's two machines in a small receiver (1 m3): c1 load/unload, band 6.8 .. 7.6 bar; c2 a VSD
    holding 7.2 bar but too small for the demand alone, so c1 has to load now and then."""
    two = np.ones(2)
    machines = MachineParams(
        names=("c1", "c2"),
        is_vsd=np.array([False, True]),
        rated_kw=np.array([37.0, 37.0]),
        fad_m3min=np.array([6.2, 6.5]),
        rated_bar=7.5 * two,
        unload_fraction=0.22 * two,
        min_speed=np.array([1.0, 0.3]),
        vsd_fixed_fraction=np.array([0.0, 0.12]),
        run_on_s=300.0 * two,
        min_run_s=60.0 * two,
        max_starts_per_h=np.array([6, 6]),
        start_s=5.0 * two,
        sump_fill_s=2.0 * two,
        stop_delay_s=10.0 * two,
        remote_default=np.array([True, True]),
    )
    return AirRoom(
        machines,
        volume_m3=1.0,
        leak_ref_m3min=np.array([0.5]),
        leak_ref_bar=7.2,
        power_per_bar=0.07,
        local_load_bar=np.array([6.8, 6.8]),
        local_unload_bar=np.array([7.6, 7.6]),
        local_target_bar=np.array([7.2, 7.2]),
        start_pressure_bar=np.array([7.2]),
        t0=t0,
    )


async def _gauges(client: AsyncModbusTcpClient) -> tuple[int, float, int]:
    """c1's state, the header pressure it reads (bar) and its control source."""
    state, _, pressure = await _inputs(client, C1, 0, 3)
    (source,) = await _inputs(client, C1, 31, 1)
    return state, pressure / 100, source


async def test_after_heartbeat_loss_the_engine_runs_the_machine_on_its_own_band(
    start_factory: StartFactory,
) -> None:
    clock = AcceleratedClock(NOON_DAY_2, factor=100.0)  # 100 simulated seconds per real second
    engine = EngineControls(_tiny_room(NOON_DAY_2), demand_m3min=lambda t: 9.0)
    factory = await start_factory(TINY, clock=clock, controls=engine)
    client = await _client(factory)
    try:
        # A master takes c1: heartbeat with a 20 s timeout, then "never load".
        for address, value in ((13, 20), (12, 1), (11, 0)):
            response = await client.write_register(address, value, device_id=C1)
            assert not response.isError(), response
        beat, taken = 1, clock.now()
        remote = []
        while clock.now() < taken + 60:  # one simulated minute under remote control
            beat += 1
            assert not (await client.write_register(12, beat, device_id=C1)).isError()
            remote.append((clock.now() - taken, *await _gauges(client)))
            await asyncio.sleep(0.02)
        # the command acts within a few engine steps: from then on c1 stays unloaded
        assert all(source == 1 for _, _, _, source in remote), remote
        assert all(state != 2 for t, state, _, _ in remote if t > 3), remote
        assert remote[-1][2] < 6.5  # c1 never loads: pressure sinks below its own band
        # The master falls silent: after 20 s c1 is back on local control and refills the header.
        await asyncio.sleep(0.4)  # 40 simulated seconds
        local = []
        while clock.now() < taken + 220:
            local.append(await _gauges(client))
            await asyncio.sleep(0.02)
        assert {source for _, _, source in local} == {2}
        assert any(state == 2 for state, _, _ in local)  # c1 loads again ...
        assert max(pressure for _, pressure, _ in local) >= 7.4  # ... up to its unload pressure
        assert await _holding(client, C1, 11, 1) == [0]  # the master's last command is still shown
        assert factory.write_counts("c1").accepted == beat + 2
    finally:
        client.close()


async def test_the_scenarios_own_room_behind_the_controllers(start_factory: StartFactory) -> None:
    clock = FixedClock(NOON_DAY_2)
    engine = EngineControls.for_scenario(TINY, clock.now())
    factory = await start_factory(TINY, clock=clock, controls=engine)
    client = await _client(factory)
    try:
        pressures = []
        for _ in range(20):  # ten simulated minutes, read every 30 s
            clock.advance(30.0)
            state, pressure, source = await _gauges(client)
            assert state in (0, 1, 2)
            assert source == 0
            pressures.append(pressure)
        assert 5.5 < min(pressures) < max(pressures) < 8.0  # the room's pressure moves, near its band
        assert TINY.air is not None
        assert not TINY.air.compressors[0].remote_enabled  # the scenario's panel key is at local ...
        assert (await client.write_register(1, 740, device_id=C1)).exception_code == 4
        factory.set_remote_enabled("c1", True)  # ... until someone turns it
        assert not (await client.write_register(1, 740, device_id=C1)).isError()
        assert await _holding(client, C1, 1, 1) == [740]
        assert engine.room.controls.unload_bar[0, 0] == pytest.approx(7.40)
    finally:
        client.close()
