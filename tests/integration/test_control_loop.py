"""The sequencer's I/O layer against the simulated compressor room, over a real Modbus socket.

Tiny's compressors bus (RTU over TCP, c1 load/unload unit 10, c2 VSD unit 11) with the air-room engine
behind the controllers (`simulators.controls.EngineControls`), the agent reading and writing through
its own bus arbiter; the simulator counts every write request it receives (`write_counts`).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from agent.config.registry import ProfileRegistry
from agent.config.site import SiteConfig
from agent.control.io import ControlLoop
from agent.modbus.bus import arbiter_for
from simulators.clock import FixedClock
from simulators.controls import EngineControls
from simulators.faults import Fault, FaultKind
from simulators.server import SimulatedFactory, WriteCounts
from tests.integration.conftest import StartFactory
from tests.integration.test_sim_control_surface import NOON_DAY_2, TINY, _tiny_room

pytestmark = pytest.mark.integration

CYCLE_S = 5.0


def site(factory: SimulatedFactory, mode: str, writes_enabled: bool, **bus_options: float) -> SiteConfig:
    bus = factory.bus("compressors")
    machine: dict[str, Any] = {"min_run_s": 60, "min_stop_s": 30}
    return SiteConfig.model_validate(
        {
            "site": {"name": "tiny"},
            "buses": [
                {
                    "name": "compressors",
                    "type": "rtu_over_tcp",
                    "host": bus.host,
                    "port": bus.port,
                    **bus_options,
                }
            ],
            "devices": [
                {
                    "name": name,
                    "bus": "compressors",
                    "unit_id": unit,
                    "profile": profile,
                    "writes_enabled": writes_enabled,
                }
                for name, unit, profile in (
                    ("c1", 10, "generic/compressor_load_unload"),
                    ("c2", 11, "generic/compressor_vsd"),
                )
            ],
            "control": {
                "mode": mode,
                "cycle_s": CYCLE_S,
                "rooms": [
                    {
                        "name": "room",
                        "pressure_device": "c2",
                        "minimum_bar": 6.0,
                        "target_bar": 6.9,
                        "band_bar": 0.4,
                        "receiver_m3": 1.0,
                        "machines": [
                            {
                                "device": "c1",
                                "kind": "load_unload",
                                "rated_fad_m3_min": 6.2,
                                "rated_power_kw": 37,
                                **machine,
                            },
                            {
                                "device": "c2",
                                "kind": "vsd",
                                "rated_fad_m3_min": 6.5,
                                "rated_power_kw": 37,
                                "min_flow_share": 0.3,
                                **machine,
                            },
                        ],
                    }
                ],
            },
        }
    )


async def run_cycles(
    start_factory: StartFactory, mode: str, writes_enabled: bool, cycles: int
) -> tuple[SimulatedFactory, EngineControls, list[dict[str, float]], ControlLoop]:
    clock = FixedClock(NOON_DAY_2)
    engine = EngineControls(_tiny_room(NOON_DAY_2), demand_m3min=lambda t: 9.0)
    factory = await start_factory(TINY, clock=clock, controls=engine)
    config = site(factory, mode, writes_enabled)
    registry = ProfileRegistry()
    profiles = {d.name: registry.get(d.profile) for d in config.devices}
    arbiter = arbiter_for(config.buses[0])
    loop = ControlLoop(config, profiles, {"compressors": arbiter}, clock=clock.now)
    sources = []
    try:
        for _ in range(cycles):
            decisions = await loop.cycle()
            assert all(d.commands for d in decisions), decisions  # every mode decides
            assert all(r.error is None for r in loop.results), loop.results
            clock.advance(CYCLE_S)
            sources.append({m: engine.control_values(m, clock.now())["control_source"] for m in ("c1", "c2")})
    finally:
        await arbiter.close()
    return factory, engine, sources, loop


async def test_dry_run_makes_zero_writes_and_logs_each_it_would_make(
    start_factory: StartFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="energy_agent.control")
    factory, _, sources, _ = await run_cycles(start_factory, "dry-run", writes_enabled=True, cycles=6)
    assert factory.write_counts("c1") == WriteCounts()
    assert factory.write_counts("c2") == WriteCounts()
    assert all(1.0 not in s.values() for s in sources), sources  # never remote: on their own band
    assert "would write c2 holding 2 (target_pressure_setpoint_bar) = 690" in caplog.text


async def test_dry_run_asks_each_setpoint_once_and_again_after_a_change_at_the_panel(
    start_factory: StartFactory,
) -> None:
    """The read-backs never follow in dry-run: the loop's shadows stand in for them, so each
    command appears once, as it would in active, and the command limit defers only the first burst."""
    clock = FixedClock(NOON_DAY_2)
    engine = EngineControls(_tiny_room(NOON_DAY_2), demand_m3min=lambda t: 9.0)  # both machines needed
    factory = await start_factory(TINY, clock=clock, controls=engine)
    config = site(factory, "dry-run", writes_enabled=True)
    # a tight limit: the first look's setpoints are more than a minute's commands
    control = config.control.model_copy(update={"max_commands_per_minute": 4})
    config = config.model_copy(update={"control": control})
    registry = ProfileRegistry()
    profiles = {d.name: registry.get(d.profile) for d in config.devices}
    arbiter = arbiter_for(config.buses[0])
    loop = ControlLoop(config, profiles, {"compressors": arbiter}, clock=clock.now)
    sent: list[list[tuple[str, str, float]]] = []
    deferred: list[int] = []

    async def cycles(n: int) -> None:
        for _ in range(n):
            (decision,) = await loop.cycle()
            assert decision.writes == ()
            sent.append([(c.device, c.point, c.value) for c in decision.commands if c.point != "heartbeat"])
            deferred.append(len(decision.deferred))
            clock.advance(CYCLE_S)

    try:
        await cycles(36)  # three simulated minutes
        assert max(deferred) > 0  # the first burst met the limit ...
        burst = max(i for i, n in enumerate(deferred) if n) + 1
        assert burst <= 60 / CYCLE_S + 2, deferred  # ... was sent within about a minute ...
        assert deferred[burst:] == [0] * (36 - burst)  # ... and no backlog built up after it
        every = [c for cycle in sent for c in cycle]
        assert len(every) == len(set(every)), sent  # each command once, not every cycle
        points = {(d, p) for d, p, _ in every}
        assert ("c2", "target_pressure_setpoint_bar") in points
        assert {"load_pressure_setpoint_bar", "unload_pressure_setpoint_bar"} <= {p for _, p in points}
        assert sent[-12:] == [[]] * 12  # the last minute: nothing left to ask
        # nothing was written: the real read-back is still the machine's own, the shadow the agent's
        assert engine.control_values("c2", clock.now())["target_pressure_setpoint_bar"] == pytest.approx(7.2)
        assert loop.snapshots["room"].machines[1].target_bar == pytest.approx(7.2)
        assert loop.shadows["c2", "target_pressure_setpoint_bar"].value == pytest.approx(6.9)

        # someone sets the VSD's target at the panel: the sequencer sees it and asks again, once
        engine.write("c2", "target_bar", 7.4, clock.now())
        await cycles(6)
        assert ("c2", "target_pressure_setpoint_bar", 6.9) in sent[-6]
        assert all(c[1] != "target_pressure_setpoint_bar" for cycle in sent[-5:] for c in cycle), sent[-5:]
        assert deferred[-6:] == [0] * 6
    finally:
        await arbiter.close()
    assert factory.write_counts("c1") == WriteCounts()
    assert factory.write_counts("c2") == WriteCounts()


@pytest.mark.parametrize("mode", ["advise", "dry-run", "active"])
async def test_without_writes_enabled_nothing_is_written_in_any_mode(
    start_factory: StartFactory, mode: str
) -> None:
    factory, _, _, _ = await run_cycles(start_factory, mode, writes_enabled=False, cycles=3)
    assert factory.write_counts("c1") == WriteCounts()
    assert factory.write_counts("c2") == WriteCounts()


async def test_active_heartbeat_keeps_the_machines_under_remote_control(start_factory: StartFactory) -> None:
    cycles = 24  # two simulated minutes: four times the 30 s heartbeat timeout
    factory, engine, sources, loop = await run_cycles(
        start_factory, "active", writes_enabled=True, cycles=cycles
    )
    assert all(s == {"c1": 1.0, "c2": 1.0} for s in sources), sources
    for machine in ("c1", "c2"):
        counts = factory.write_counts(machine)
        assert counts.refused == 0
        assert counts.accepted >= cycles  # a heartbeat each cycle, and the commands
    values = engine.control_values("c2", NOON_DAY_2 + cycles * CYCLE_S)
    assert values["target_pressure_setpoint_bar"] == pytest.approx(6.9)
    assert values["heartbeat_timeout_s"] == 30
    assert loop.memory["room"].heartbeat == cycles


# ---- faults on the simulator (issue 19, "What it must show")


async def start_active(
    start_factory: StartFactory, demand_m3min: float, timeout_s: float = 0.2
) -> tuple[SimulatedFactory, EngineControls, FixedClock, ControlLoop, Any]:
    clock = FixedClock(NOON_DAY_2)
    engine = EngineControls(_tiny_room(NOON_DAY_2), demand_m3min=lambda t: demand_m3min)
    factory = await start_factory(TINY, clock=clock, controls=engine)
    config = site(factory, "active", writes_enabled=True, timeout_s=timeout_s, retries=0)
    registry = ProfileRegistry()
    profiles = {d.name: registry.get(d.profile) for d in config.devices}
    arbiter = arbiter_for(config.buses[0])
    return (
        factory,
        engine,
        clock,
        ControlLoop(config, profiles, {"compressors": arbiter}, clock=clock.now),
        arbiter,
    )


async def test_a_machine_switched_to_local_is_never_commanded_again(start_factory: StartFactory) -> None:
    factory, _, clock, loop, arbiter = await start_active(start_factory, 9.0)
    try:
        for _ in range(3):
            await loop.cycle()
            clock.advance(CYCLE_S)
        factory.set_remote_enabled("c1", False)
        before = factory.write_counts("c1")
        alarms = []
        for _ in range(6):
            decisions = await loop.cycle()
            alarms += [a.code for d in decisions for a in d.alarms if a.device == "c1"]
            clock.advance(CYCLE_S)
        assert factory.write_counts("c1") == before  # not even a refused write
        assert alarms == ["machine_local"] * 6
        assert factory.write_counts("c2").accepted > 0
    finally:
        await arbiter.close()


async def test_a_bad_pressure_sensor_holds_alarms_and_writes_nothing(start_factory: StartFactory) -> None:
    factory, engine, clock, loop, arbiter = await start_active(start_factory, 9.0)
    try:
        for _ in range(3):
            await loop.cycle()
            clock.advance(CYCLE_S)
        factory.bus("compressors").faults.set(11, Fault(FaultKind.TIMEOUT))  # c2 carries the pressure
        before = factory.write_counts("c1")
        codes = set()
        for _ in range(8):  # 40 simulated seconds: longer than the 30 s heartbeat timeout
            decisions = await loop.cycle()
            assert all(d.writes == () for d in decisions)
            codes |= {a.code for d in decisions for a in d.alarms}
            clock.advance(CYCLE_S)
        assert factory.write_counts("c1") == before
        assert "pressure_bad" in codes
        # no heartbeat: c1 is back on its own band (control source 2), holding the pressure itself
        assert engine.control_values("c1", clock.now())["control_source"] == 2
    finally:
        await arbiter.close()


async def test_a_trip_brings_the_next_machine_in_before_the_minimum(start_factory: StartFactory) -> None:
    factory, engine, clock, loop, arbiter = await start_active(start_factory, 4.0)  # the VSD alone serves
    try:
        for _ in range(40):  # c1 is unloaded and stopped; c2 trims alone
            decisions = await loop.cycle()
            clock.advance(CYCLE_S)
        assert decisions[0].combination == ("c2",)
        assert engine.control_values("c1", clock.now())["state"] == 0
        factory.trip("c2")
        first = await loop.cycle()
        assert ("c1", "run_command", 1) in [(c.device, c.point, c.value) for c in first[0].writes]
        pressures = []
        for _ in range(12):  # a simulated minute, the pressure looked at every second
            for _ in range(5):
                clock.advance(1.0)
                pressures.append(engine.control_values("c1", clock.now())["discharge_pressure_bar"])
            await loop.cycle()
        assert min(pressures) >= 6.0, min(pressures)  # the room's configured minimum
        assert engine.control_values("c1", clock.now())["state"] in (1, 2)
    finally:
        await arbiter.close()


async def test_when_the_agent_stops_every_machine_goes_back_to_its_own_band(
    start_factory: StartFactory,
) -> None:
    _, engine, clock, loop, arbiter = await start_active(start_factory, 9.0)
    try:
        for _ in range(6):
            await loop.cycle()
            clock.advance(CYCLE_S)
        assert {engine.control_values(m, clock.now())["control_source"] for m in ("c1", "c2")} == {1.0}
        # the agent is killed: no more cycles, no more heartbeats
        pressures, sources = [], []
        for _ in range(120):  # two simulated minutes
            clock.advance(1.0)
            values = {m: engine.control_values(m, clock.now()) for m in ("c1", "c2")}
            pressures.append(values["c1"]["discharge_pressure_bar"])
            sources.append({m: v["control_source"] for m, v in values.items()})
        assert all(s == {"c1": 2.0, "c2": 2.0} for s in sources[31:]), sources  # within the 30 s timeout
        assert min(pressures) >= 6.0, min(pressures)
    finally:
        await arbiter.close()
