"""Every interlock of the sequencer, each its own rule with plain values (agent.control.decide).

Room: minimum 6.0 bar, target 6.8 bar, band 0.4 (load 6.6, unload 7.0); c1, c2 load/unload 10 m3/min,
v1 a VSD of 8 m3/min (the machines of test_control_strategy).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.config.control import ControlConfig, ControlRoom
from agent.control import Command, Decision, MachineSnapshot, MachineState, Memory, Pressure, RoomSnapshot
from agent.control.decide import decide, keep_last_machine, limit_commands, writes_for_mode
from tests.unit.test_control_strategy import C1, C2, V1, running, stopped

ROOM = ControlRoom(
    name="main", pressure_device="c1", minimum_bar=6.0, target_bar=6.8, band_bar=0.4, machines=(C1, C2, V1)
)
ALL = {"c1", "c2", "v1"}


def config(**kw: object) -> ControlConfig:
    return ControlConfig.model_validate({"mode": "active", "rooms": [ROOM.model_dump()], **kw})


def snapshot(
    *machines: MachineSnapshot,
    bar: float | None = 6.8,
    good: bool = True,
    age_s: float = 1.0,
    demand: float = 5.0,
) -> RoomSnapshot:
    seen = {m.device: m for m in machines}
    full = tuple(seen.get(d, stopped(d)) for d in ("c1", "c2", "v1"))
    return RoomSnapshot("main", 1000.0, Pressure(bar, good, age_s), full, demand)


def run(snap: RoomSnapshot, memory: Memory | None = None, writable: set[str] = ALL, **kw: object) -> Decision:
    return decide(snap, ROOM, config(**kw), memory or Memory(), writable)


def points(decision: Decision, device: str) -> dict[str, float]:
    return {c.point: c.value for c in decision.commands if c.device == device}


# ---- bad or stale pressure: hold, alarm, no write


@pytest.mark.parametrize(
    ("bar", "good", "age_s", "code"),
    [
        (None, True, 1.0, "pressure_bad"),
        (6.8, False, 1.0, "pressure_bad"),
        (6.8, True, 60.0, "pressure_stale"),
    ],
)
def test_bad_or_stale_pressure_holds_alarms_and_writes_nothing(
    bar: float | None, good: bool, age_s: float, code: str
) -> None:
    memory = Memory(heartbeat=41)
    decision = run(snapshot(running("c1"), bar=bar, good=good, age_s=age_s, demand=15), memory)
    assert decision.commands == ()
    assert decision.writes == ()
    assert [a.code for a in decision.alarms] == [code]
    assert decision.memory == memory  # not even the heartbeat: the machines fall back to local


def test_a_machine_with_no_reading_holds_the_room() -> None:
    snap = RoomSnapshot("main", 1000.0, Pressure(6.8, True, 1.0), (stopped("c1"), stopped("c2")), 5.0)
    decision = run(snap)
    assert decision.writes == ()
    assert "machine_unseen" in [a.code for a in decision.alarms]


# ---- pressure below the minimum: every machine in, whatever the optimisation says


def test_low_pressure_starts_and_loads_every_machine_that_may() -> None:
    snap = snapshot(running("c1", load_command=0), stopped("v1", starts_last_hour=6), bar=5.8, demand=1.0)
    decision = run(snap)
    assert "pressure_low" in [a.code for a in decision.alarms]
    assert points(decision, "c1") == {"heartbeat": 1, "load_command": 1}
    assert points(decision, "c2") == {"heartbeat": 1, "run_command": 1, "load_command": 1}
    assert "run_command" not in points(decision, "v1")  # at its starts per hour: the controller refuses
    assert all(c.safety for c in decision.commands if c.point != "heartbeat")


def test_at_the_minimum_the_optimisation_decides() -> None:
    decision = run(snapshot(bar=6.0, demand=5.0))
    assert "pressure_low" not in [a.code for a in decision.alarms]
    assert decision.combination == ("v1",)
    assert points(decision, "c1").get("run_command") is None


# ---- local mode and alarms: never commanded, not even the heartbeat


@pytest.mark.parametrize(
    "machine",
    [
        stopped("c2", remote_enabled=False),
        running("c2", remote_enabled=False),
        stopped("c2", alarm=True),
        running("c2", alarm=True),
        stopped("c2", state=MachineState.FAULT),
    ],
    ids=["local stopped", "local running", "alarm stopped", "alarm running", "tripped"],
)
@pytest.mark.parametrize("bar", [5.5, 6.8], ids=["low pressure", "normal"])
def test_a_machine_in_local_or_alarm_is_never_commanded(machine: MachineSnapshot, bar: float) -> None:
    decision = run(snapshot(machine, running("c1"), bar=bar, demand=18))
    assert points(decision, "c2") == {}
    assert {a.code for a in decision.alarms if a.device == "c2"} & {"machine_local", "machine_alarm"}


# ---- the last running machine


def test_the_last_running_machine_is_not_stopped_while_there_is_demand() -> None:
    seen = {"c1": running("c1", state=MachineState.UNLOADED), "v1": stopped("v1")}
    stop = Command("c1", "run_command", 0, "test")
    kept, alarms = keep_last_machine([stop], seen, demand_m3min=2.0)
    assert kept == []
    assert [a.code for a in alarms] == ["last_machine"]
    assert keep_last_machine([stop], seen, demand_m3min=0.0) == ([stop], [])
    start = Command("v1", "run_command", 1, "test")
    assert keep_last_machine([start, stop], seen, demand_m3min=2.0) == ([start, stop], [])


def test_two_stops_leave_one_machine() -> None:
    seen = {d: running(d, state=MachineState.UNLOADED) for d in ("c1", "c2")}
    stops = [Command(d, "run_command", 0, "test") for d in ("c1", "c2")]
    kept, alarms = keep_last_machine(stops, seen, demand_m3min=2.0)
    assert kept == stops[:1]
    assert [a.device for a in alarms] == ["c2"]


# ---- the heartbeat


def test_the_heartbeat_changes_every_cycle_to_every_commandable_machine() -> None:
    memory = Memory(heartbeat=65534)
    values = []
    for _ in range(3):
        decision = run(snapshot(stopped("c2", remote_enabled=False)), memory)
        beats = {c.device: c.value for c in decision.commands if c.point == "heartbeat"}
        assert set(beats) == {"c1", "v1"}
        values.append(beats["c1"])
        memory = decision.memory
    assert values == [65535, 0, 1]  # a uint16 register wraps


def test_the_heartbeat_timeout_is_written_when_it_differs() -> None:
    assert points(run(snapshot()), "c1")["heartbeat_timeout_s"] == 30
    assert "heartbeat_timeout_s" not in points(run(snapshot(stopped("c1", heartbeat_timeout_s=30))), "c1")


# ---- strategy as commands: band setpoints, stop only unloaded


def test_band_setpoints_are_written_only_when_they_differ() -> None:
    c1 = stopped("c1", load_bar=6.6, unload_bar=7.0)
    assert "load_pressure_setpoint_bar" not in points(run(snapshot(c1)), "c1")
    got = points(run(snapshot()), "v1")
    # a VSD loads again a quarter band below its target (it ramps from minimum speed), unloads at the top
    assert (got["load_pressure_setpoint_bar"], got["unload_pressure_setpoint_bar"]) == (6.7, 7.0)
    assert got["target_pressure_setpoint_bar"] == 6.8
    assert "target_pressure_setpoint_bar" not in points(run(snapshot()), "c1")  # not a VSD


def test_a_machine_leaving_is_unloaded_first_and_stopped_only_unloaded() -> None:
    loaded = run(snapshot(running("c1"), demand=5.0), max_commands_per_minute=60)
    assert loaded.combination == ("v1",)
    assert points(loaded, "c1")["load_command"] == 0
    assert "run_command" not in points(loaded, "c1")
    unloaded = run(snapshot(running("c1", state=MachineState.UNLOADED), running("v1"), demand=5.0))
    assert points(unloaded, "c1")["run_command"] == 0


# ---- the command limit


def test_commands_beyond_the_limit_are_deferred_not_dropped() -> None:
    first = run(snapshot(demand=20.0), max_commands_per_minute=4)
    wanted = [c for c in first.commands if c.point != "heartbeat"]
    assert len(wanted) == 4
    assert len(first.deferred) > 0
    again = run(snapshot(demand=20.0), first.memory, max_commands_per_minute=4)
    assert [c for c in again.commands if c.point != "heartbeat"] == []  # the minute is used up
    assert {c.key for c in again.deferred} >= {c.key for c in first.deferred}


def test_the_limit_puts_safety_first_then_the_waiting_and_reports_withdrawn() -> None:
    old = Command("c2", "run_command", 1, "earlier")
    gone = Command("v1", "run_command", 1, "earlier")
    memory = Memory(sent_at=(990.0,), deferred=(old, gone))
    plain = Command("c1", "load_command", 1, "now")
    safety = Command("c1", "run_command", 1, "low", safety=True)
    sent, deferred, withdrawn, sent_at = limit_commands([plain, old, safety], memory, 1000.0, per_minute=3)
    assert sent == [safety, old]
    assert deferred == [plain]
    assert withdrawn == [gone]
    assert sent_at == (990.0, 1000.0, 1000.0)
    sent, deferred, _, _ = limit_commands([plain], Memory(sent_at=(900.0,) * 5), 1000.0, per_minute=3)
    assert sent == [plain]  # older than a minute: not counted


# ---- modes and writes_enabled


@pytest.mark.parametrize("mode", ["off", "advise", "dry-run", "active"])
def test_only_active_writes_and_only_where_writes_are_enabled(mode: str) -> None:
    decision = run(snapshot(demand=15.0), mode=mode)
    assert decision.commands  # every mode computes the same commands
    if mode == "active":
        assert {c.device for c in decision.writes} == ALL
    else:
        assert decision.writes == ()
    none_writable = run(snapshot(demand=15.0), writable=set(), mode=mode)
    assert none_writable.writes == ()
    one = run(snapshot(demand=15.0), writable={"v1"}, mode=mode)
    assert {c.device for c in one.writes} <= {"v1"}


def test_dry_run_keeps_every_write_it_would_make_with_point_and_value() -> None:
    dry = run(snapshot(demand=15.0), mode="dry-run")
    active = run(snapshot(demand=15.0), mode="active")
    assert dry.writes == ()
    assert dry.commands == active.writes


def test_writes_for_mode_is_the_gate() -> None:
    c = Command("c1", "run_command", 1, "x")
    assert writes_for_mode("active", [c], {"c1"}) == (c,)
    assert writes_for_mode("active", [c], {"c2"}) == ()
    assert writes_for_mode("dry-run", [c], {"c1"}) == ()


def test_snapshot_helpers_keep_their_defaults() -> None:
    assert replace(stopped("c1"), state=MachineState.UNLOADED).running
    assert not stopped("c1", remote_enabled=False).commandable


# ---- falling pressure: act before the minimum, not at it


@pytest.mark.parametrize(
    ("bar", "dpdt", "ahead_s", "low"),
    [
        (6.5, -1.2, 30.0, True),  # 6.5 - 1.2 x 30/60 = 5.9 < 6.0
        (6.5, -1.2, 20.0, False),  # 6.5 - 1.2 x 20/60 = 6.1
        (6.5, 3.0, 20.0, False),  # rising: never anticipated upward
        (6.2, 0.0, 600.0, False),
        (5.9, 0.0, 0.0, True),  # below it now
    ],
)
def test_pressure_falling_toward_the_minimum_counts_as_low(
    bar: float, dpdt: float, ahead_s: float, low: bool
) -> None:
    snap = replace(snapshot(bar=bar, demand=1.0), dpdt_bar_per_min=dpdt)
    decision = run(snap, anticipation_s=ahead_s)
    assert ("pressure_low" in [a.code for a in decision.alarms]) is low
