"""The shadows of advise and dry-run, with plain values: a command that is not written stands in
for its read-back in the next cycles (so it is asked once, as in active), until the real read-back
changes on its own; active clears them, also when a reload switches the mode."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest

from agent.cli.control_cmd import decision_table
from agent.config.loader import LoadedConfig
from agent.config.site import SiteConfig
from agent.control.io import ControlBus, ControlLoop, Shadow
from agent.control.model import Decision
from agent.readings.model import PollResult
from agent.runtime.control import ControlRunner
from tests.unit.test_control_runtime import REGISTRY, T, config, machine, poll

CYCLE_S = 5.0  # the config's default cycle


class Bus:
    """Reads are a failure of the test (every point is in the polls); writes are kept."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, int, int]] = []

    async def read(self, unit: int, function: Any, address: int, count: int) -> Any:
        raise AssertionError(f"read unit {unit} {function} {address}")

    async def write_register(self, unit: int, address: int, value: int) -> None:
        self.writes.append((unit, address, value))


class Room:
    """The two machines' latest polls, one second old at each cycle, and the loop reading them."""

    def __init__(self, mode: str = "dry-run", cfg: SiteConfig | None = None, **c2: float) -> None:
        self.now = T
        # c1 loaded (10 m3/min), c2 trimming (3 m3/min) at 6.9 bar: demand 13, both run
        self.c1: dict[str, float] = machine(2, 10.0)
        self.c2: dict[str, float] = machine(2, 3.0, discharge_pressure_bar=6.9) | c2
        self.bus = Bus()
        cfg = cfg or config(mode)
        buses: dict[str, ControlBus] = {"air": self.bus}
        self.loop = ControlLoop(
            config=cfg,
            profiles={d.name: REGISTRY.get(d.profile) for d in cfg.devices},
            buses=buses,
            clock=lambda: self.now,
            latest=self.latest,
        )

    def latest(self, device: str) -> PollResult:
        return poll(device, self.now - 1.0, **(self.c1 if device == "c1" else self.c2))

    async def cycle(self) -> Decision:
        (decision,) = await self.loop.cycle()
        self.now += CYCLE_S
        return decision


def asked(decision: Decision) -> list[tuple[str, str, float]]:
    return [(c.device, c.point, c.value) for c in decision.commands if c.point != "heartbeat"]


TARGET = ("c2", "target_pressure_setpoint_bar", 6.9)


@pytest.mark.parametrize("mode", ["advise", "dry-run"])
async def test_a_command_not_written_is_asked_once_not_every_cycle(mode: str) -> None:
    room = Room(mode, target_pressure_setpoint_bar=7.2)  # the VSD's own target, not the room's
    first = await room.cycle()
    assert TARGET in asked(first)
    assert first.writes == ()
    for _ in range(20):  # more than a minute
        decision = await room.cycle()
        assert asked(decision) == [], decision.commands
        assert decision.deferred == ()
        assert any(c.point == "heartbeat" for c in decision.commands)  # it still decides every cycle
    assert room.loop.shadows["c2", "target_pressure_setpoint_bar"] == Shadow(6.9, 7.2)
    # the snapshot is the real look: the read-back the registers give, not the shadow
    assert room.loop.snapshots["main"].machines[1].target_bar == pytest.approx(7.2)
    assert room.bus.writes == []


async def test_the_command_limit_defers_the_first_burst_and_then_nothing() -> None:
    cfg = config("dry-run")
    cfg = cfg.model_copy(update={"control": cfg.control.model_copy(update={"max_commands_per_minute": 2})})
    # every setpoint of both machines off: more commands than a minute's limit
    off = {"load_pressure_setpoint_bar": 6.2, "unload_pressure_setpoint_bar": 7.8, "heartbeat_timeout_s": 60}
    room = Room(cfg=cfg, target_pressure_setpoint_bar=7.2, **off)
    room.c1 |= off
    decisions = [await room.cycle() for _ in range(60)]  # five minutes
    every = [c for d in decisions for c in asked(d)]
    assert len(every) > 2 * 2  # more than two minutes' worth
    assert len(every) == len(set(every))  # each once
    assert TARGET in every
    backlog = [len(d.deferred) for d in decisions]
    drained = backlog.index(0)
    assert backlog[0] == len(every) - 2  # all but the minute's two waited ...
    assert backlog[:drained] == sorted(backlog[:drained], reverse=True)  # ... went down, never up ...
    assert backlog[drained:] == [0] * (60 - drained)  # ... and once drained stayed empty
    assert all(not d.withdrawn for d in decisions)


async def test_a_change_of_the_real_read_back_drops_the_shadow_and_the_sequencer_asks_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="energy_agent.control")
    room = Room(target_pressure_setpoint_bar=7.2)
    assert TARGET in asked(await room.cycle())
    assert TARGET not in asked(await room.cycle())
    room.c2["target_pressure_setpoint_bar"] = 7.3  # someone at the panel
    assert TARGET in asked(await room.cycle())  # asked again, once
    assert "c2 target_pressure_setpoint_bar reads 7.3, no longer 7.2" in caplog.text
    assert room.loop.shadows["c2", "target_pressure_setpoint_bar"] == Shadow(6.9, 7.3)
    assert asked(await room.cycle()) == []
    # the panel sets what the sequencer wants: the real value rules, nothing to ask, no shadow left
    room.c2["target_pressure_setpoint_bar"] = 6.9
    assert asked(await room.cycle()) == []
    assert ("c2", "target_pressure_setpoint_bar") not in room.loop.shadows
    room.c2["target_pressure_setpoint_bar"] = 7.0  # and a later change is seen at once
    assert TARGET in asked(await room.cycle())


async def test_a_would_be_start_reads_back_run_command_1_and_the_machine_stays_stopped() -> None:
    room = Room()
    # c2 at its full 8 m3/min alone: the room wants c1 too; c1 stopped, its run command 0
    room.c1 = machine(0, 0.0)
    room.c2 = machine(2, 8.0, discharge_pressure_bar=6.9)
    first = await room.cycle()
    assert ("c1", "run_command", 1) in asked(first)
    for _ in range(5):
        decision = await room.cycle()
        assert "c1" in decision.combination  # meant to run ...
        assert all(c[:2] != ("c1", "run_command") for c in asked(decision)), decision.commands
        c1 = room.loop.snapshots["main"].machines[0]
        assert (c1.running, c1.run_command) == (False, 0)  # ... and, really, stopped: state is not shadowed
    assert room.loop.shadows["c1", "run_command"] == Shadow(1, 0)


async def test_switching_to_active_clears_the_shadows_and_the_real_read_backs_rule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="energy_agent.control")
    room = Room(target_pressure_setpoint_bar=7.2)
    await room.cycle()
    assert TARGET not in asked(await room.cycle())
    room.loop.config = config("active")  # what ControlRunner does on a reload
    active = await room.cycle()
    assert TARGET in [(c.device, c.point, c.value) for c in active.writes]
    assert room.loop.shadows == {}
    assert (2, 2, 690) in room.bus.writes  # unit 2, holding 2 = 6.9 bar
    assert "assumed read-back(s) of the advise / dry-run cleared" in caplog.text


async def test_an_overrun_cycle_sets_no_shadow() -> None:
    room = Room(target_pressure_setpoint_bar=7.2)
    times = iter([T, T + 6.0])  # the decision 6 s after the look: longer than cycle_s 5
    room.loop.clock = lambda: next(times)
    decision = await room.cycle()
    assert TARGET in asked(decision)  # decided, not carried out (active would write nothing)
    assert room.loop.shadows == {}


class Agent:
    """What ControlRunner uses of the agent: the config in force, the arbiters, the clock, the polls."""

    def __init__(self, room: Room, mode: str) -> None:
        self.room = room
        self.loaded = LoadedConfig(Path("site.yaml"), config(mode), REGISTRY)
        self.clock = self
        self.latest = room.latest

    def time(self) -> float:
        return self.room.now

    def arbiters(self) -> dict[str, Bus]:
        return {"air": self.room.bus}


async def test_a_reload_that_switches_the_runner_to_active_clears_the_loops_shadows() -> None:
    room = Room(target_pressure_setpoint_bar=7.2)
    agent = Agent(room, "dry-run")
    runner = ControlRunner(agent)  # type: ignore[arg-type]
    for _ in range(3):
        await runner.step()
        room.now += CYCLE_S
    assert runner.loop is not None
    assert ("c2", "target_pressure_setpoint_bar") in runner.loop.shadows
    assert room.bus.writes == []
    agent.loaded = LoadedConfig(Path("site.yaml"), config("active"), REGISTRY)  # the reload
    (decision,) = await runner.step()
    assert TARGET in [(c.device, c.point, c.value) for c in decision.writes]
    assert runner.loop.shadows == {}
    assert (2, 2, 690) in room.bus.writes


async def test_the_decision_table_names_what_the_dry_run_takes_as_written() -> None:
    room = Room(target_pressure_setpoint_bar=7.2)
    first = io.StringIO()
    decision_table(room.loop.config, room.loop, [await room.cycle()], first)
    assert "target_pressure_setpoint_bar  690" in first.getvalue()  # asked this cycle: a row
    assert "assumed written" not in first.getvalue()
    later = io.StringIO()
    decision_table(room.loop.config, room.loop, [await room.cycle()], later)
    lines = later.getvalue().splitlines()
    assert not any("690" in line for line in lines)  # not asked again: no row
    assumed = next(line for line in lines if line.startswith("  assumed written c2 (not asked again): "))
    assert "target_pressure_setpoint_bar 6.9 (reads 7.2)" in assumed
