"""The polling runtime against the simulated factory over real sockets and a real pty."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config.loader import load_config
from agent.modbus.plan import DEFAULT_COST, PlanCost
from agent.runtime.app import Agent
from agent.runtime.output import MemoryOutput
from agent.runtime.poller import PollerSettings
from simulators.clock import AcceleratedClock
from simulators.faults import Fault, FaultKind
from simulators.scenario import Scenario
from tests.integration.conftest import StartFactory
from tests.scenarios import live_scenario

pytestmark = pytest.mark.integration

TINY = live_scenario("tiny")


async def wait_until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    """Wait for a condition the system under test will reach; fail with `what` after `within_s`."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def scenario_with(buses: list[dict[str, Any]]) -> Scenario:
    data = TINY.model_dump(mode="json")
    data["buses"] = buses
    data["retrofit"] = None
    return Scenario.model_validate(data)


def write_config(tmp_path: Path, buses: list[dict[str, Any]], devices: list[dict[str, Any]]) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"site": {"name": "test"}, "buses": buses, "devices": devices}))
    return path


async def run_agent(agent: Agent) -> asyncio.Task[None]:
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.started.wait(), timeout=5)
    return task


async def test_one_dead_slave_of_ten_costs_one_timeout_per_backoff_period(
    start_factory: StartFactory, tmp_path: Path
) -> None:
    meters = [
        {"name": f"m{u}", "unit_id": u, "profile": "eastron/sdm630", "kind": "meter", "measures": ["site"]}
        for u in range(1, 11)
    ]
    factory = await start_factory(
        scenario_with([{"name": "line", "transport": "rtu_over_tcp", "baudrate": 115200, "devices": meters}])
    )
    server = factory.bus("line")
    server.faults.set(7, Fault(FaultKind.TIMEOUT))
    bus = {"name": "line", "type": "rtu_over_tcp", "host": "127.0.0.1", "port": server.port}
    bus |= {"timeout_s": 0.3, "retries": 0}
    devices = [
        {"name": f"m{u}", "bus": "line", "unit_id": u, "profile": "eastron/sdm630", "interval_s": 1.0}
        | {"points": ["active_power_total_kw", "total_import_kwh"]}
        for u in range(1, 11)
    ]
    output = MemoryOutput()
    agent = Agent(load_config(write_config(tmp_path, [bus], devices)), output, settings=PollerSettings(8.0))
    task = await run_agent(agent)
    await wait_until(lambda: len(output.of("m1")) >= 14, 30, "14 polls of m1")
    # The gateway's serial speed is not configured: reads are planned as for TCP.
    assert {p.plan_cost for p in agent.pollers().values()} == {DEFAULT_COST}
    assert agent.health()["m7"].state == "offline"
    agent.stop()
    await asyncio.wait_for(task, 10)

    for name in (f"m{u}" for u in range(1, 11) if u != 7):
        results = output.of(name)
        assert all(r.status == "ok" for r in results), name
        slots = [r.ts for r in results]
        assert all(b - a == pytest.approx(1.0) for a, b in itertools.pairwise(slots)), (name, slots)
        assert agent.health()[name].missed_slots == 0
    dead = [r.start for r in server.request_log if r.unit_id == 7]
    gaps = [b - a for a, b in itertools.pairwise(dead)]
    backoffs = [2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert len(dead) >= 3
    assert all(gap >= want - 0.35 for gap, want in zip(gaps, backoffs, strict=False)), gaps
    assert [(e.device, e.state) for e in output.events if e.device == "m7"] == [("m7", "offline")]


async def test_two_devices_on_one_serial_line_never_overlap(
    start_factory: StartFactory, tmp_path: Path
) -> None:
    factory = await start_factory(TINY)
    server = factory.bus("line")
    bus = {"name": "line", "type": "rtu", "port": server.client_port, "baudrate": 9600, "timeout_s": 0.5}
    bus |= {"inter_frame_delay_ms": 5}
    devices = [
        {"name": "counter", "bus": "line", "unit_id": 20, "profile": "generic/production_counter"}
        | {"interval_s": 1.0},
        {"name": "air_meter", "bus": "line", "unit_id": 21, "profile": "eastron/sdm630", "interval_s": 1.0}
        | {"points": ["active_power_total_kw", "total_import_kwh", "voltage_l1_n_v"]},
    ]
    output = MemoryOutput()
    agent = Agent(load_config(write_config(tmp_path, [bus], devices)), output)
    task = await run_agent(agent)
    await wait_until(
        lambda: min(len(output.of(d)) for d in ("counter", "air_meter")) >= 5, 30, "5 polls each"
    )
    # On a serial line every register is wire time: the plan weighs reads with the RTU cost model, in
    # the line's framing (8N1: 10 bits a character) with its inter-frame delay on top of the turnaround.
    want = PlanCost.rtu(9600, turnaround_s=0.005 + 0.005, char_bits=10)
    assert {p.plan_cost for p in agent.pollers().values()} == {want}
    agent.stop()
    await asyncio.wait_for(task, 10)

    log = sorted(server.request_log, key=lambda r: r.start)
    assert {r.unit_id for r in log} == {20, 21}
    assert all(a.end <= b.start for a, b in itertools.pairwise(log))
    assert all(r.status == "ok" for r in output.results)


async def test_rollover_glitch_and_reset_on_the_wire_keep_the_true_energy(
    start_factory: StartFactory, tmp_path: Path
) -> None:
    speed = 60.0  # one real second = one simulated minute
    clock = AcceleratedClock(TINY.start.timestamp() + 86400 + 9 * 3600, factor=speed)
    factory = await start_factory(TINY, clock=clock)
    server = factory.bus("compressors")
    bus = {"name": "air", "type": "rtu_over_tcp", "host": "127.0.0.1", "port": server.port, "timeout_s": 0.3}
    # Rated power bounds a plausible increment per real second: the simulated plant runs 60x faster.
    device = {"name": "c1", "bus": "air", "unit_id": 10, "profile": "generic/compressor_load_unload"}
    device |= {"interval_s": 0.5, "rated_power_kw": 45 * speed, "points": ["energy_kwh", "active_power_kw"]}
    output = MemoryOutput()
    agent = Agent(load_config(write_config(tmp_path, [bus], [device])), output)
    task = await run_agent(agent)

    def seen(reason: str) -> Callable[[], bool]:
        return lambda: any(
            r.point == "energy_kwh" and r.reason == reason for res in output.of("c1") for r in res.readings
        )

    faults = {
        "counter_rollover": Fault(FaultKind.ROLLOVER, margin=1.0),
        "counter_drop": Fault(FaultKind.GLITCH, value=0.0),
        "counter_reset": Fault(FaultKind.RESET),
    }
    for reason, fault in faults.items():
        server.faults.set(10, fault)
        await wait_until(seen(reason), 30, f"{reason} after a {fault.kind} fault")
    await wait_until(lambda: output.of("c1")[-1].readings[0].reason is None, 10, "a plain reading")
    agent.stop()
    await asyncio.wait_for(task, 10)

    reads = [r for r in server.request_log if r.unit_id == 10 and r.outcome == "ok"]
    true_first = factory.true_counters("c1", reads[0].sim_time)["energy_kwh"]
    true_last = factory.true_counters("c1", reads[-1].sim_time)["energy_kwh"]
    tracked = agent.pollers()["c1"].state.counters["energy_kwh"].total
    # Two intervals are unknowable: what the meter counted between the last good read and its reset,
    # and between the last good read and the jump to the rollover point (a new segment). Each is at most
    # one 0.5 s poll of a 45 kW machine at 60x; the counter's 0.1 kWh steps add quantisation.
    one_interval_kwh = 45 * speed * 0.5 / 3600
    missing = true_last - true_first - tracked
    assert -0.2 <= missing <= 2 * one_interval_kwh + 0.2, (missing, true_last - true_first)
