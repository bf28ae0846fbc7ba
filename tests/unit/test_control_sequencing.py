"""What the simulated week exposed in the sequencer, each fix a rule with plain values (issue 19).

Room and machines of test_control_interlocks: minimum 6.0 bar, target 6.8, band 0.4 (load 6.6,
unload 7.0), receiver 2 m3; c1, c2 load/unload 10 m3/min, v1 a VSD of 8 m3/min.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.control import Command, MachineState, Memory, Pressure, RoomSnapshot
from agent.control.decide import (
    SETTLE_S,
    base_band,
    decide,
    limit_commands,
    make_before_break,
    plan_commands,
    reserve_bar_per_min,
    sized_starts,
)
from agent.control.strategy import Plan, Sample, best_combination, track_demand
from tests.unit.test_control_interlocks import ROOM, points, run, snapshot
from tests.unit.test_control_strategy import C1, C2, V1, running, stopped

WEEK_SITE = Path(__file__).resolve().parents[1] / "data" / "control_week_site.yaml"

# ---- the demand estimate: smoothed over 30 s, the projection keeps the fast dP/dt


def looks(*values: tuple[float, float, float]) -> tuple[tuple[Sample, ...], float, float]:
    """Feed (t, bar, delivered) looks one after another; the last (samples, dP/dt, demand)."""
    samples: tuple[Sample, ...] = ()
    dpdt = demand = 0.0
    for t, bar, delivered in values:
        samples, dpdt, demand = track_demand(samples, t, bar, delivered, 2.0, 60.0)
    return samples, dpdt, demand


def test_a_machine_loading_just_before_a_look_moves_the_demand_by_its_share_of_the_span() -> None:
    steady = [(5.0 * i, 6.8, 10.0) for i in range(7)]  # 30 s at 10 m3/min, pressure flat
    _, _, before = looks(*steady)
    assert before == pytest.approx(10.0)
    # 10 m3/min more delivered at the last look only: between two looks it was +10 m3/min; over the
    # 30 s span it is the last trapezoid's half, 10 x 2.5 / 30
    _, dpdt, after = looks(*steady, (35.0, 6.8, 20.0))
    assert dpdt == pytest.approx(10.0 * 1.013 / 2.0)  # from now on 10 m3/min more fill the receiver
    assert after == pytest.approx(10.0 + 10.0 * 2.5 / 30.0)


def test_the_fast_dpdt_is_between_the_last_two_looks_and_the_storage_uses_the_span() -> None:
    rising = [(5.0 * i, 6.5 + 0.01 * i, 10.0) for i in range(7)]  # +0.12 bar/min for 30 s
    _, dpdt, demand = looks(*rising, (35.0, 6.45, 10.0))  # a sudden fall at the last look
    assert dpdt == pytest.approx((6.45 - 6.56) / 5.0 * 60.0)  # what the low-pressure rule projects
    slope = (6.45 - 6.51) / 30.0 * 60.0  # over the 30 s span the receiver gave air
    assert demand == pytest.approx(10.0 - 2.0 * slope / 1.013)


def test_the_room_is_sized_for_the_highest_smoothed_estimate_of_the_window() -> None:
    values = [(5.0 * i, 6.8, 20.0 if i < 4 else 10.0) for i in range(20)]
    samples, _, demand = looks(*values)
    assert demand == pytest.approx(max(s.demand_m3min for s in samples if 95.0 - s.t <= 60.0))
    assert demand < 20.0  # the 20 m3/min looks are older than the window: forgotten
    assert all(95.0 - s.t <= 60.0 for s in samples)


def test_a_machine_tripping_between_two_looks_steepens_the_projection_at_once() -> None:
    _, dpdt, _ = looks((0.0, 6.8, 10.0), (5.0, 6.79, 0.0))  # the only machine stopped giving air
    assert dpdt == pytest.approx(-0.01 / 5.0 * 60.0 - 10.0 * 1.013 / 2.0)


def test_without_a_pressure_nothing_is_added() -> None:
    samples, _, _ = looks((0.0, 6.8, 10.0), (5.0, 6.8, 10.0))
    kept, dpdt, demand = track_demand(samples, 10.0, None, 30.0, 2.0, 60.0)
    assert kept == samples
    assert dpdt == 0.0
    assert demand == pytest.approx(10.0)


# ---- the command limit never holds back a safety command


def test_safety_commands_go_even_when_the_minute_is_used_up() -> None:
    full = Memory(sent_at=(990.0,) * 12)
    safety = Command("c2", "run_command", 1, "low", safety=True)
    plain = Command("c1", "load_pressure_setpoint_bar", 6.6, "band")
    sent, deferred, _, sent_at = limit_commands([plain, safety], full, 1000.0, per_minute=12)
    assert sent == [safety]  # counted all the same
    assert deferred == [plain]
    assert sent_at[-1] == 1000.0
    assert len(sent_at) == 13


def test_after_a_burst_of_setpoints_the_low_pressure_start_is_written_at_once() -> None:
    first = run(snapshot(demand=15.0))  # commissioning: setpoints and timers use up the minute
    low = run(snapshot(running("v1"), bar=5.9, demand=15.0), first.memory)
    written = {(c.device, c.point) for c in low.writes}
    assert {("c1", "run_command"), ("c2", "run_command")} <= written


# ---- bands: the trim machine holds the room's band, base machines stay loaded around it


def test_base_band_is_wider_staggered_and_never_reaches_the_minimum() -> None:
    assert base_band(ROOM, 0, 2) == (6.5, 7.3)  # half a band to three quarters above the band's top
    assert base_band(ROOM, 1, 2) == (6.5, 7.25)  # the later one unloads first on a surplus
    decision = run(snapshot(running("c1"), running("c2"), running("v1"), demand=20.0))
    assert set(decision.combination) == {"c1", "c2", "v1"}
    assert points(decision, "v1")["unload_pressure_setpoint_bar"] == 7.0  # the trim: the room's band
    assert points(decision, "v1")["load_pressure_setpoint_bar"] == 6.7  # a VSD: a quarter below target
    assert points(decision, "c1")["unload_pressure_setpoint_bar"] == 7.3
    assert points(decision, "c2")["unload_pressure_setpoint_bar"] == 7.25
    assert all(base_band(ROOM, r, 4)[0] > ROOM.minimum_bar for r in range(4))


def test_a_stopped_machine_left_out_is_told_to_stay_stopped_only_while_another_runs() -> None:
    seen = {"c1": stopped("c1", run_command=1), "c2": stopped("c2", run_command=1), "v1": running("v1")}
    commands = plan_commands(ROOM, seen, ("v1",), 30)
    assert [(c.device, c.value) for c in commands if c.point == "run_command"] == [("c1", 0), ("c2", 0)]
    idle = plan_commands(ROOM, {d: stopped(d, run_command=1) for d in ("c1", "c2", "v1")}, (), 30)
    assert [c for c in idle if c.point == "run_command"] == []  # no demand: their own band stays
    again = plan_commands(ROOM, {**seen, "c1": stopped("c1", run_command=0)}, ("v1",), 30)
    assert ("c1", "run_command") not in [c.key for c in again]  # read back 0: not written again


# ---- machines that may not stop yet are a plan, not a lack of capacity


def test_running_machines_within_their_minimum_run_give_a_surplus_plan() -> None:
    seen = {"c1": running("c1", run_s=10), "c2": running("c2", run_s=10), "v1": running("v1", run_s=10)}
    plan = best_combination((C1, C2, V1), seen, 5.0, 0.1, 0.05)
    assert plan is not None
    assert set(plan.devices) == {"c1", "c2", "v1"}
    decision = run(snapshot(*seen.values(), demand=5.0))
    assert "no_capacity" not in [a.code for a in decision.alarms]
    assert not any(c.safety for c in decision.commands)  # nothing loaded "because of low pressure"


def test_without_the_margin_the_demand_itself_is_served_before_no_capacity() -> None:
    decision = run(snapshot(running("c1"), running("c2"), running("v1"), demand=27.0))  # 28 m3/min in all
    assert "no_capacity" not in [a.code for a in decision.alarms]
    assert set(decision.combination) == {"c1", "c2", "v1"}
    short = run(snapshot(running("c1"), running("c2"), running("v1"), bar=6.7, demand=29.0))
    assert "no_capacity" in [a.code for a in short.alarms]  # below the target: the room lacks air


# ---- the low-pressure rule and no_capacity act on what the room lacks, not on every machine


def test_a_projected_fall_starts_the_machines_that_cover_the_lack_not_all() -> None:
    # 6.4 bar falling 2 bar/min: in 20 s 5.73 bar. c1 runs loaded; the lack is 2 bar/min of a 2 m3
    # receiver, 3.9 m3/min (4.9 with a quarter to spare): the smallest machine that covers it starts
    ahead = replace(
        snapshot(running("c1", flow_m3min=10.0, run_command=1, load_command=1), bar=6.4, demand=12.0),
        dpdt_bar_per_min=-2.0,
    )
    decision = run(ahead)
    assert "pressure_low" in [a.code for a in decision.alarms]
    started = {c.device for c in decision.commands if c.point == "run_command" and c.value == 1}
    assert started == {"v1"}  # 8 m3/min covers 4.9; c2's 10 would too, but is larger
    # below the minimum itself: every machine that may start, whatever the lack
    below = run(replace(ahead, pressure=Pressure(5.9, True, 1.0)))
    started = {c.device for c in below.commands if c.point == "run_command" and c.value == 1}
    assert started == {"c2", "v1"}


def test_sized_starts_takes_the_smallest_that_covers_else_the_largest_and_again() -> None:
    assert [m.device for m in sized_starts([C1, C2, V1], 7.0)] == ["v1"]
    assert [m.device for m in sized_starts([C1, C2, V1], 9.0)] == ["c1"]  # equals: the room's order
    assert [m.device for m in sized_starts([C1, C2, V1], 15.0)] == ["c1", "v1"]
    assert [m.device for m in sized_starts([C1, V1], 40.0)] == ["c1", "v1"]  # all, short of it
    assert sized_starts([C1, C2, V1], 0.0) == []


def test_a_vsd_below_full_speed_and_a_machine_refilling_count_as_reserve() -> None:
    # c1 loaded at 10 (no headroom), v1 loaded at 3 of 8 m3/min: 5 m3/min more on its own; falling
    # 3 bar/min at 6.5 bar: without the VSD's headroom 5.5 bar in 20 s, with it 6.5 + (-3 + 2.53) / 3
    seen = {
        "c1": running("c1", flow_m3min=10.0, run_command=1, load_command=1),
        "v1": running("v1", flow_m3min=3.0, run_command=1, load_command=1),
    }
    falling = replace(snapshot(seen["c1"], seen["v1"], bar=6.5, demand=13.0), dpdt_bar_per_min=-3.0)
    assert reserve_bar_per_min(ROOM, {**seen, "c2": stopped("c2")}) == pytest.approx(5 * 1.013 / 2)
    assert "pressure_low" not in [a.code for a in run(falling).alarms]
    # c1 just loaded, refilling its sump (flow 0): its 10 m3/min come in seconds
    refilling = running("c1", flow_m3min=0.0, run_command=1, load_command=1)
    assert reserve_bar_per_min(ROOM, {"c1": refilling, "c2": stopped("c2"), "v1": stopped("v1")}) == (
        pytest.approx(10 * 1.013 / 2)
    )
    # a machine the sequencer unloads (load command 0) is no reserve
    leaving = running("c1", flow_m3min=0.0, run_command=1, load_command=0)
    assert reserve_bar_per_min(ROOM, {"c1": leaving, "c2": stopped("c2"), "v1": stopped("v1")}) == 0


def test_no_capacity_only_when_the_pressure_shows_the_lack() -> None:
    # the demand window still holds 29 m3/min, c2 stopped a minute ago (its minimum stop is 120 s):
    # at the target or rising, the machines running serve the demand: hold them, no alarm
    seen = (running("c1"), stopped("c2", stop_s=60.0), running("v1"))
    rising = replace(snapshot(*seen, bar=6.7, demand=29.0), dpdt_bar_per_min=0.2)
    decision = run(rising)
    assert decision.alarms == ()
    assert set(decision.combination) == {"c1", "v1"}
    assert "run_command" not in points(decision, "c2")
    falling = replace(rising, dpdt_bar_per_min=-0.2)
    assert "no_capacity" in [a.code for a in run(falling).alarms]


def test_the_margin_never_adds_a_machine_that_would_only_idle() -> None:
    # 19.9 m3/min with 2 % is 20.3: beyond c1 + c2 (20), and c1 + c2 + v1 (28) would run its base
    # machines part-loaded (the VSD at its minimum); c1 + c2 serve the demand itself, without an idler
    seen = {d: stopped(d) for d in ("c1", "c2", "v1")}
    plan = best_combination((C1, C2, V1), seen, 19.9, 0.02, 0.1)
    assert plan is not None
    assert set(plan.devices) == {"c1", "c2"}
    assert plan.power_kw == pytest.approx(55 + 15 + 40 * 9.9 / 10)
    # the margin still chooses where it costs no idling machine: 17.9 x 1.02 is beyond c1 + v1 (18)
    margin = best_combination((C1, C2, V1), seen, 17.9, 0.02, 0.1)
    assert margin is not None
    assert set(margin.devices) == {"c1", "c2"}
    assert set(best_combination((C1, C2, V1), seen, 17.9, 0.0, 0.1).devices) == {"c1", "v1"}  # type: ignore[union-attr]


def test_between_equal_machines_the_one_running_is_kept_rather_than_swapped_for_fewer_hours() -> None:
    # c1 runs, c2 has fewer hours: at 12 m3/min, c1 + v1 and c2 + v1 cost the same; starting c2 and
    # stopping c1 would be a start for nothing (issue 19's week: 6 starts an hour on every machine)
    seen = {"c1": running("c1", running_hours=900.0), "c2": stopped("c2", running_hours=100.0)}
    seen["v1"] = stopped("v1", running_hours=500.0)
    plan = best_combination((C1, C2, V1), seen, 12.0, 0.0, 0.0)
    assert plan is not None
    assert set(plan.devices) == {"c1", "v1"}
    # from all stopped, the duty still rotates to the machine with fewer hours
    cold = {**seen, "c1": stopped("c1", running_hours=900.0)}
    assert set(best_combination((C1, C2, V1), cold, 12.0, 0.0, 0.0).devices) == {"c2", "v1"}  # type: ignore[union-attr]


def test_the_week_site_swaps_a_running_pair_for_a_lone_machine_once_the_saving_has_lasted() -> None:
    # the control week's room (tests/data/control_week_site.yaml) at 11 m3/min of night demand: c3
    # base + v1 at minimum speed take 55 + 21.12 kW; c1 alone, loaded 11 of 13, 18.75 + 56.25 x 11/13
    # = 66.35 kW, 12.8 % less: below the site's 20 % switch share the pair is kept, with c1 named the
    # better one; once it has stayed the better one for switch_after_s, c1 alone is taken
    control = load_config(WEEK_SITE).config.control
    machines = control.rooms[0].machines
    seen = {m.device: stopped(m.device) for m in machines}
    seen |= {"c3": running("c3"), "v1": running("v1")}
    best = best_combination(machines, seen, 11.0, 0.0, 0.0)
    assert best is not None
    assert best.devices == ("c1",)
    assert best.power_kw == pytest.approx(18.75 + 56.25 * 11.0 / 13.0)
    kept = best_combination(machines, seen, 11.0, 0.0, control.switch_saving_share)
    assert kept is not None
    assert set(kept.devices) == {"c3", "v1"}
    assert kept.power_kw == pytest.approx(55 + 6.6 + 48.4 * 0.3)
    assert kept.better is not None
    assert kept.better.devices == ("c1",)
    # a saving of less than 5 % is never named: no swap for it, however long it lasts (c1 alone
    # at 8 m3/min: 15 + 40 x 0.8 = 47 kW; v1 alone at full speed 45 kW, 4.3 % less)
    small = {"c1": running("c1"), "c2": stopped("c2"), "v1": stopped("v1")}
    assert best_combination((C1, C2, V1), small, 8.0, 0.0, 0.0) == Plan(("v1",), 45.0)
    assert best_combination((C1, C2, V1), small, 8.0, 0.0, 0.2) == Plan(("c1",), 47.0)  # better None
    room = control.rooms[0]
    snap = RoomSnapshot("main", 0.0, Pressure(6.5, True, 1.0), tuple(seen.values()), 11.0)
    memory = Memory()
    for t in (0.0, 5.0, control.switch_after_s - 5.0):
        decision = decide(replace(snap, t=t), room, control, memory, set())
        assert set(decision.combination) == {"c3", "v1"}, t
        memory = decision.memory
    assert memory.better == ("c1",)
    assert memory.better_since == 0.0
    decision = decide(replace(snap, t=control.switch_after_s), room, control, memory, set())
    assert decision.combination == ("c1",)
    assert decision.memory.better == ()


# ---- the low-pressure projection counts the air of machines free to load on their own band


def test_a_fast_fall_with_a_machine_free_to_load_is_not_low_pressure() -> None:
    free = running("c2", state=MachineState.UNLOADED, run_command=1, load_command=1)
    falling = snapshot(running("c1"), free, running("v1"), bar=6.4, demand=15.0)
    falling = falling.__class__(**{**falling.__dict__, "dpdt_bar_per_min": -3.0})
    assert "pressure_low" not in [a.code for a in run(falling).alarms]  # 6.4 + (-3 + 10.1) x 20/60
    held = running("c2", state=MachineState.UNLOADED, run_command=1, load_command=0)
    blocked = falling.__class__(**{**falling.__dict__, "machines": (running("c1"), held, running("v1"))})
    assert "pressure_low" in [a.code for a in run(blocked).alarms]  # 6.4 - 3 x 20/60 = 5.4 bar
    below = falling.__class__(**{**falling.__dict__, "pressure": falling.pressure.__class__(5.9, True, 1.0)})
    assert "pressure_low" in [a.code for a in run(below).alarms]  # below the minimum: always


# ---- make before break: a machine leaves only once the receiver can bridge the one joining


def test_a_swap_waits_for_the_joiner_when_the_receiver_cannot_bridge_its_start() -> None:
    seen = {"c1": running("c1"), "c2": stopped("c2"), "v1": stopped("v1")}
    members = [C2]
    assert make_before_break(ROOM, seen, members, 6.3, 9.0, 18.0)  # 0.3 bar x 2 m3: 4 s of 9 m3/min
    assert not make_before_break(ROOM, seen, members, 6.8, 2.0, 18.0)  # 0.8 bar: 47 s of 2 m3/min
    commands = plan_commands(ROOM, seen, ("c2",), 30, 6.3, 9.0, 18.0)
    assert ("c1", "load_command") not in [c.key for c in commands]  # c1 keeps giving air
    starts_now = {c.point: c.value for c in commands if c.device == "c2"}
    assert starts_now["load_pressure_setpoint_bar"] > ROOM.unload_bar  # the joiner starts at once
    assert starts_now["run_command"] == 1


def test_on_low_pressure_a_machine_stopping_is_told_to_run_again_before_it_can_load() -> None:
    stopping = running("c1", state=MachineState.UNLOADED, run_command=0, load_command=0)
    decision = run(snapshot(stopping, running("v1"), bar=5.9, demand=15.0))
    assert points(decision, "c1")["run_command"] == 1  # a controller loads only while it may run
    assert points(decision, "c1")["load_command"] == 1
    assert all(c.safety for c in decision.commands if c.point != "heartbeat")


def test_below_the_target_and_falling_no_machine_leaves() -> None:
    seen = {"c1": running("c1"), "c2": running("c2"), "v1": running("v1")}
    falling = plan_commands(ROOM, seen, ("c2", "v1"), 30, 6.7, 12.0, 18.0, -0.5)
    assert ("c1", "load_command") not in [c.key for c in falling]  # 6.7 < target 6.8, falling
    rising = plan_commands(ROOM, seen, ("c2", "v1"), 30, 6.7, 12.0, 18.0, 0.5)
    assert {c.key: c.value for c in rising}[("c1", "load_command")] == 0
    at_target = plan_commands(ROOM, seen, ("c2", "v1"), 30, 6.8, 12.0, 18.0, -0.5)
    assert {c.key: c.value for c in at_target}[("c1", "load_command")] == 0


def test_below_the_band_with_no_air_in_reserve_and_falling_a_machine_starts_without_alarm() -> None:
    # 6.5 bar, below the band's 6.6, falling 0.3 bar/min: 6.4 bar in 20 s, no low-pressure alarm;
    # but c1 gives all it has and nothing else runs: only a start adds air, and the demand
    # estimate lags a step of the process. The smallest machine that covers the fall starts
    full = running("c1", flow_m3min=10.0, run_command=1, load_command=1)
    falling = replace(snapshot(full, bar=6.5, demand=9.0), dpdt_bar_per_min=-0.3)
    decision = run(falling)
    assert decision.alarms == ()
    starts = [c for c in decision.commands if c.point == "run_command" and c.value == 1]
    assert [c.device for c in starts] == ["v1"]
    assert "below the band" in starts[0].reason
    assert set(decision.combination) == {"c1", "v1"}
    # air in reserve (c2 running unloaded, free to load), rising, or within the band: the plan decides
    free = running("c2", state=MachineState.UNLOADED, run_command=1, load_command=1)
    for snap in (
        replace(snapshot(full, free, bar=6.5, demand=9.0), dpdt_bar_per_min=-0.3),
        replace(falling, dpdt_bar_per_min=0.1),
        replace(falling, pressure=Pressure(6.65, True, 1.0)),
    ):
        assert not any("below the band" in c.reason for c in run(snap).commands)


def test_a_machine_told_to_unload_or_stop_is_not_told_again_every_cycle() -> None:
    # left out of the combination: loaded with load_command 0 already, or running unloaded with
    # run_command 0 already: its controller acts (a stop waits for its minimum run time); asking
    # again every cycle would only count against the command limit (and repeat in a dry run)
    told = (
        running("c1", load_command=0, run_command=1),
        running("c2", state=MachineState.UNLOADED, run_command=0, load_command=0, run_s=400.0),
        running("v1", run_command=1, load_command=1, flow_m3min=5.0),
    )
    decision = run(snapshot(*told, bar=6.9, demand=5.0))
    assert decision.combination == ("v1",)
    for device in ("c1", "c2"):
        got = points(decision, device)
        assert "load_command" not in got, (device, got)
        assert "run_command" not in got, (device, got)
    fresh = run(snapshot(running("c1"), running("v1", flow_m3min=5.0), bar=6.9, demand=5.0))
    assert points(fresh, "c1")["load_command"] == 0  # the first time it is told


def test_nothing_leaves_while_a_machine_of_the_combination_has_just_started() -> None:
    # c2 started 60 s ago (a ramp); the plan would now shed c1 for v1 alone: c1 keeps running and
    # loaded until c2 has run SETTLE_S, then it may leave
    just = running("c2", run_s=60.0, run_command=1, load_command=1, flow_m3min=10.0)
    c1 = running("c1", run_command=1, load_command=1, flow_m3min=10.0)
    v1 = running("v1", run_command=1, load_command=1, flow_m3min=4.0)
    seen = {"c1": c1, "c2": just, "v1": v1}
    held = plan_commands(ROOM, seen, ("c2", "v1"), 30, bar=6.9, demand_m3min=14.0)
    assert not [c for c in held if c.device == "c1" and c.point in ("load_command", "run_command")]
    settled = {**seen, "c2": replace(just, run_s=SETTLE_S)}
    shed = plan_commands(ROOM, settled, ("c2", "v1"), 30, bar=6.9, demand_m3min=14.0)
    assert [(c.point, c.value) for c in shed if c.device == "c1" and c.point == "load_command"] == [
        ("load_command", 0)
    ]
