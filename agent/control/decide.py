"""One cycle of the sequencer: snapshot + config + memory -> decision. Pure: no I/O, no clock.

The order is the order of precedence (docs/control.md):

1. pressure bad or stale -> hold: no command, no heartbeat (the machines fall back to their own band
   after the heartbeat timeout), alarm;
2. machines in local or in alarm are never commanded (alarm once per cycle they are seen so);
3. pressure below the minimum -> every commandable machine loads and every startable one starts,
   whatever the optimisation says; heading there (projected), or below the band with no air in
   reserve and falling -> every running machine loads and the machines that cover the lack start;
4. otherwise the least-power combination (`strategy`), band setpoints, start/load/unload/stop;
5. never stop the last running machine while there is demand;
6. the command limit: beyond `max_commands_per_minute`, commands are deferred (safety first), and
   reported, never dropped silently;
7. the heartbeat to every commandable machine, every cycle (not counted by the limit);
8. the mode: only `active` writes, and only to devices with `writes_enabled: true`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from agent.config.control import ControlConfig, ControlMachine, ControlRoom
from agent.config.site import SiteConfig
from agent.control.model import (
    Alarm,
    Command,
    Decision,
    MachineSnapshot,
    MachineState,
    Memory,
    RoomSnapshot,
)
from agent.control.strategy import ATMOSPHERE_BAR, best_combination, trim_machine

__all__ = [
    "SETTLE_S",
    "base_band",
    "decide",
    "hold_on_bad_pressure",
    "joining",
    "keep_last_machine",
    "limit_commands",
    "low_pressure_commands",
    "make_before_break",
    "plan_commands",
    "reserve_bar_per_min",
    "sized_starts",
    "writable_devices",
    "writes_for_mode",
]

WINDOW_S = 60.0
START_S = 13.0  # a start: star-delta or soft start, then the sump's refill, before a machine gives air
HEARTBEAT_MODULUS = 65536  # a uint16 register
SETTLE_S = 120.0  # after a machine of the combination starts, none leaves for this long


def hold_on_bad_pressure(snap: RoomSnapshot, stale_after_s: float) -> Alarm | None:
    """An alarm when the header pressure cannot be trusted (then nothing is written at all)."""
    p = snap.pressure
    if not p.good or p.bar is None:
        return Alarm("pressure_bad", f"room {snap.room}: header pressure is bad: holding, no writes")
    if p.age_s > stale_after_s:
        return Alarm(
            "pressure_stale",
            f"room {snap.room}: header pressure is {p.age_s:.0f} s old (limit {stale_after_s:g} s): "
            "holding, no writes",
        )
    return None


def machine_alarms(machines: Iterable[MachineSnapshot]) -> list[Alarm]:
    alarms = []
    for m in machines:
        if m.alarm or m.state == MachineState.FAULT:
            alarms.append(Alarm("machine_alarm", f"{m.device} in alarm: not commanded", m.device))
        elif not m.remote_enabled:
            alarms.append(Alarm("machine_local", f"{m.device} in local mode: not commanded", m.device))
    return alarms


def low_pressure_commands(
    room: ControlRoom,
    seen: dict[str, MachineSnapshot],
    bar: float,
    lacking_m3min: float | None = None,
    reason: str | None = None,
) -> list[Command]:
    """Below the minimum: load every running machine, start every one that may start.

    `lacking_m3min`: the pressure is not below the minimum yet but heading there (projected), or the
    optimisation found no combination with the capacity: the air the room lacks, m3/min. Then every
    running machine loads as before, and the stopped ones start only as far as they cover the lack
    with a quarter to spare, the fewest and smallest that do (`sized_starts`): starting every
    machine for a projection would have each of them run its minimum run time and be shed again
    (issue 19's week: 219 starts a day, most of them from this rule). Below the minimum itself
    every machine that may start starts, whatever the lack."""
    reason = reason or f"pressure {bar:.2f} bar below minimum {room.minimum_bar:g} bar"
    startable = [
        m
        for m in room.machines
        if seen[m.device].commandable
        and not seen[m.device].running
        and seen[m.device].starts_last_hour < m.max_starts_per_hour
    ]
    if lacking_m3min is not None:
        startable = sized_starts(startable, lacking_m3min * 1.25)
    starting = {m.device for m in startable}
    commands = []
    for m in sorted(room.machines, key=lambda m: m.priority):
        snap = seen[m.device]
        if not snap.commandable:
            continue
        if m.device in starting:
            commands.append(Command(m.device, "run_command", 1, reason + ": start", safety=True))
        elif snap.running and snap.run_command == 0:  # stopping: a controller loads only if it may run
            commands.append(Command(m.device, "run_command", 1, reason + ": keep running", safety=True))
        if (snap.running or m.device in starting) and snap.load_command != 1:
            commands.append(Command(m.device, "load_command", 1, reason + ": load", safety=True))
    return commands


def sized_starts(startable: Sequence[ControlMachine], wanted_m3min: float) -> list[ControlMachine]:
    """The machines to start for `wanted_m3min` more air: the smallest one that covers it alone,
    else the largest and again for the rest; all of them when together they fall short. Among
    equal sizes the lower priority number first."""
    left = sorted(startable, key=lambda m: (m.rated_fad_m3_min, m.priority))
    chosen: list[ControlMachine] = []
    while left and wanted_m3min > 0:
        one = next((m for m in left if m.rated_fad_m3_min >= wanted_m3min), None)
        pick = one if one is not None else max(left, key=lambda m: (m.rated_fad_m3_min, -m.priority))
        chosen.append(pick)
        left.remove(pick)
        wanted_m3min -= pick.rated_fad_m3_min
    return chosen


def base_band(room: ControlRoom, rank: int = 0, bases: int = 1) -> tuple[float, float]:
    """(load, unload) bar of a base-load machine, the `rank`-th of the combination's `bases`. It loads
    lower than the room's band (by a quarter band, at most half the way from the band's low end to the
    minimum) and unloads well above it, half a band to three quarters above the band's top, staggered
    by rank (the later in the room's list, the earlier), so it stays loaded while the trim machine
    holds the band, and a surplus unloads one of them, not all at once. Half a band above: when a
    base machine loads, its air comes in a second and a VSD's speed controller takes tens of seconds
    to give way; with the unload point a quarter band above the band (issue 19's week) the pressure
    reached it first, and the base machine, not the VSD, cycled, unloaded some 40 minutes an hour: two
    machines part-loaded. The points do not depend on which machine trims: a new trim machine never
    moves them under the present pressure (which would unload every base machine at once)."""
    quarter = room.band_bar / 4
    margin = min(quarter, (room.load_bar - room.minimum_bar) / 2)
    unload = room.unload_bar + 2 * quarter + quarter - quarter * rank / max(bases, 1)
    return round(room.load_bar - margin, 2), round(unload, 2)


def _setpoints(
    room: ControlRoom,
    machine: ControlMachine,
    snap: MachineSnapshot,
    base: tuple[int, int] | None = None,
    band: tuple[float, float] | None = None,
) -> list[Command]:
    """`base`: None for the trim machine and machines left out (the room's band); else (rank, base
    machines) for `base_band`. `band`: this one
    (a machine joining in a swap starts at once)."""
    load, unload = (room.load_bar, room.unload_bar) if base is None else base_band(room, *base)
    load, unload = band or (load, unload)
    if machine.kind == "vsd" and base is None and band is None:
        # a VSD trimming, unloaded at its minimum speed, loads again a quarter band below its
        # target, not at the band's low end: it ramps from minimum speed over tens of seconds, and
        # from the band's low end a step of the process took the header below the minimum first
        load = round(room.target_bar - room.band_bar / 4, 2)
    wanted = {"load_pressure_setpoint_bar": (load, snap.load_bar)}
    wanted["unload_pressure_setpoint_bar"] = (unload, snap.unload_bar)
    if machine.kind == "vsd":
        wanted["target_pressure_setpoint_bar"] = (room.target_bar, snap.target_bar)
    role = "base-load band" if base else "band"
    commands = [
        Command(machine.device, point, value, f"{role} {load:g}-{unload:g} bar")
        for point, (value, now) in wanted.items()
        if now is None or abs(now - value) > 0.005
    ]
    if snap.unload_bar is not None and load >= snap.unload_bar:
        # a band moving up: the unload point first, or the controller refuses a load point above it
        commands.sort(key=lambda c: c.point != "unload_pressure_setpoint_bar")
    return commands


def joining(
    seen: dict[str, MachineSnapshot], members: Sequence[ControlMachine], join_s: float
) -> list[ControlMachine]:
    """Machines of the combination that do not give air yet: stopped, or started less than `join_s`
    ago and not loaded."""
    return [
        m
        for m in members
        if seen[m.device].state != MachineState.LOADED
        and (not seen[m.device].running or seen[m.device].run_s < join_s)
    ]


def make_before_break(
    room: ControlRoom,
    seen: dict[str, MachineSnapshot],
    members: Sequence[ControlMachine],
    bar: float,
    demand_m3min: float,
    join_s: float,
) -> bool:
    """Whether the machines leaving must wait for those joining: a machine joins and the receiver
    alone could not carry the air the room lacks meanwhile down to the minimum for `join_s` (a start,
    the sump's refill, and the cycle until the sequencer sees it loaded)."""
    if not joining(seen, members, join_s):
        return False
    delivering = sum(m.rated_fad_m3_min for m in members if seen[m.device].state == MachineState.LOADED)
    lacking = demand_m3min - delivering
    if lacking <= 0:
        return False
    stored = (bar - room.minimum_bar) * room.receiver_m3 / ATMOSPHERE_BAR  # m3 of free air
    return stored / lacking * 60.0 < join_s


def reserve_bar_per_min(room: ControlRoom, seen: dict[str, MachineSnapshot]) -> float:
    """How fast the running machines free to load (run and load commands 1) would raise the
    pressure with the air they can still add on their own, within seconds and before the minimum:
    one running unloaded loads at its own load point (its rated air); one loaded gives what it does
    not give yet (a VSD below full speed speeds up; a load/unload machine just loaded refills its
    sump for a few seconds before its air comes). Without a flow reading a loaded machine counts
    as giving its rated air."""
    free = 0.0
    for m in room.machines:
        snap = seen[m.device]
        if not snap.running or snap.run_command != 1 or snap.load_command != 1:
            continue
        if snap.state == MachineState.UNLOADED:
            free += m.rated_fad_m3_min
        elif snap.flow_m3min is not None:
            free += max(0.0, m.rated_fad_m3_min - snap.flow_m3min)
    return free * ATMOSPHERE_BAR / room.receiver_m3


def plan_commands(
    room: ControlRoom,
    seen: dict[str, MachineSnapshot],
    chosen: Sequence[str],
    heartbeat_timeout_s: int,
    bar: float = float("inf"),
    demand_m3min: float = 0.0,
    join_s: float = START_S + 5.0,
    dpdt_bar_per_min: float = 0.0,
) -> list[Command]:
    """Start, load, unload and stop towards `chosen`; a machine leaving is first unloaded, and
    stopped only once it runs unloaded; none leaves while the pressure is below the target and
    falling (`dpdt_bar_per_min`), nor while one joins if the receiver could not bridge the start
    (`make_before_break`: `bar`, `demand_m3min`, `join_s`); a machine joining a running room gets its
    load point above the band, so its controller starts it now. The combination's trim machine gets
    the room's band, its base-load machines a wider one (`base_band`). While some machine is meant
    to run, a stopped machine left out whose run command reads 1 gets 0: else it would start on its
    own band, uncommanded (back on its own band it is anyway once the heartbeat stops)."""
    commands: list[Command] = []
    members = [m for m in room.machines if m.device in chosen]
    trim = trim_machine(members) if members else None
    # below the target and falling the room lacks air: nothing leaves then
    short = bar < room.target_bar and dpdt_bar_per_min < 0
    # a machine of the combination started less than SETTLE_S ago: the room is changing (a shift's
    # ramp, a step); nothing leaves until it has settled (issue 19's week: on a Monday's ramp the
    # combination changed five times in two minutes, each change shedding a machine the next one
    # needed, and the header fell below the minimum)
    settling = any(seen[m.device].running and seen[m.device].run_s < SETTLE_S for m in members)
    hold = short or settling or make_before_break(room, seen, members, bar, demand_m3min, join_s)
    # a machine joining a running room below its target (or in a swap that must wait for it) starts at
    # once: a controller starts at its load point, here put above the pressure the room is at
    runs = any(seen[m.device].running for m in room.machines)
    joiners = {m.device for m in joining(seen, members, join_s) if not seen[m.device].running}
    joiners = joiners if runs and (bar < room.target_bar or hold) else set()
    bases = [m.device for m in members if m is not trim]
    for m in room.machines:
        snap = seen[m.device]
        if not snap.commandable:
            continue
        if snap.heartbeat_timeout_s is None or snap.heartbeat_timeout_s != heartbeat_timeout_s:
            commands.append(Command(m.device, "heartbeat_timeout_s", heartbeat_timeout_s, "fallback timer"))
        if m.device in joiners:
            quarter = room.band_bar / 4
            band = (round(room.unload_bar + quarter, 2), round(room.unload_bar + 2 * quarter, 2))
            commands.extend(_setpoints(room, m, snap, band=band))
        elif trim is not None and m.device in bases:
            rank = (bases.index(m.device), len(bases))
            commands.extend(_setpoints(room, m, snap, rank))
        else:
            commands.extend(_setpoints(room, m, snap))
        if m.device in chosen:
            if not snap.running and snap.run_command != 1:
                commands.append(Command(m.device, "run_command", 1, "in the least-power combination"))
            if snap.load_command != 1:
                commands.append(Command(m.device, "load_command", 1, "in the least-power combination"))
        elif hold and snap.running:
            continue
        elif snap.state == MachineState.LOADED and snap.load_command != 0:
            commands.append(Command(m.device, "load_command", 0, "not needed: unload before stopping"))
        elif snap.state == MachineState.UNLOADED and snap.run_command != 0:
            commands.append(Command(m.device, "run_command", 0, "not needed and running unloaded: stop"))
        elif snap.running:
            pass  # told already: its controller unloads or stops it (after its minimum run time)
        elif snap.run_command == 1 and chosen:
            commands.append(Command(m.device, "run_command", 0, "not needed: stay stopped"))
    return commands


def keep_last_machine(
    commands: Sequence[Command], seen: dict[str, MachineSnapshot], demand_m3min: float
) -> tuple[list[Command], list[Alarm]]:
    """Drop stop commands that would leave no machine running while there is demand."""
    if demand_m3min <= 0:
        return list(commands), []
    running = {d for d, s in seen.items() if s.running}
    starting = {c.device for c in commands if c.point == "run_command" and c.value == 1}
    kept, alarms = [], []
    for c in commands:
        if c.point == "run_command" and c.value == 0:
            if not (running | starting) - {c.device}:
                alarms.append(Alarm("last_machine", f"kept {c.device} running: it is the last", c.device))
                continue
            running.discard(c.device)
        kept.append(c)
    return kept, alarms


def limit_commands(
    commands: Sequence[Command], memory: Memory, t: float, per_minute: int
) -> tuple[list[Command], list[Command], list[Command], tuple[float, ...]]:
    """(sent, deferred, withdrawn, send times): at most `per_minute` commands in any 60 s; safety
    commands first, then those deferred before, then the rest. Safety commands (an interlock's:
    low pressure, no capacity) are never deferred: they go even when the minute is used up (they
    count all the same), or a burst of setpoints would hold back the start that keeps the pressure
    up. A command deferred earlier that this cycle no longer wants is returned as withdrawn, so
    nothing vanishes without a trace."""
    recent = tuple(s for s in memory.sent_at if t - s < WINDOW_S)
    wanted = {c.key for c in commands}
    withdrawn = [c for c in memory.deferred if c.key not in wanted]
    waited = {c.key for c in memory.deferred}
    order = sorted(commands, key=lambda c: (not c.safety, c.key not in waited))
    room = max(sum(c.safety for c in order), per_minute - len(recent))
    sent, deferred = order[:room], order[room:]
    return sent, deferred, withdrawn, recent + (t,) * len(sent)


def writable_devices(config: SiteConfig) -> set[str]:
    """Devices the site lets the agent write to: `writes_enabled: true` and enabled, nothing else."""
    return {d.name for d in config.devices if d.writes_enabled and d.enabled}


def writes_for_mode(mode: str, commands: Iterable[Command], writable: set[str]) -> tuple[Command, ...]:
    """What is written: nothing unless `active`, and never to a device without writes_enabled."""
    if mode != "active":
        return ()
    return tuple(c for c in commands if c.device in writable)


def decide(
    snap: RoomSnapshot,
    room: ControlRoom,
    config: ControlConfig,
    memory: Memory,
    writable: set[str],
) -> Decision:
    """The room's decision for this cycle (see the module docstring for the order of the rules)."""
    seen = {m.device: m for m in snap.machines}
    missing = [m.device for m in room.machines if m.device not in seen]
    alarms = machine_alarms(snap.machines)
    bad = hold_on_bad_pressure(snap, config.stale_after_s)
    if bad is not None or missing:
        if missing:
            alarms.append(Alarm("machine_unseen", f"no reading of {', '.join(missing)}: holding"))
        held = [bad] if bad is not None else []
        return Decision(
            snap.room,
            snap.t,
            config.mode,
            (),
            (),
            (),
            alarms=(*held, *alarms),
            memory=memory,
            pressure_bar=snap.pressure.bar,
            demand_m3min=snap.demand_m3min,
        )
    bar = snap.pressure.bar
    assert bar is not None
    running = tuple(m.device for m in room.machines if seen[m.device].running)
    # machines running unloaded and free to load are air in reserve: they load on their own band
    reserve = reserve_bar_per_min(room, seen)
    rate = snap.dpdt_bar_per_min + reserve
    projected = bar + min(0.0, rate) * config.anticipation_s / 60.0
    # below the band with every machine running giving all it can and the pressure still falling:
    # nothing but a start adds air, and the demand estimate (smoothed over 30 s) lags a step of the
    # process; start now what the fall lacks (issue 19's week: a 7 m3/min step with the room's
    # four load/unload machines loaded took the header from 6.24 to 5.98 bar before the plan
    # called the VSD)
    exhausted = bar < room.load_bar and reserve < 1e-6 and snap.dpdt_bar_per_min < 0
    if projected < room.minimum_bar or exhausted:
        if projected < room.minimum_bar:
            falling = "" if bar < room.minimum_bar else f" in {config.anticipation_s:g} s at the present rate"
            alarms.append(
                Alarm(
                    "pressure_low",
                    f"room {snap.room}: {projected:.2f} bar < {room.minimum_bar:g} bar{falling}",
                )
            )
        # below the minimum now: every machine; heading there: as much air as the fall lacks
        lacking = None if bar < room.minimum_bar else -min(0.0, rate) * room.receiver_m3 / ATMOSPHERE_BAR
        why = None
        if projected >= room.minimum_bar:
            why = f"pressure {bar:.2f} bar below the band ({room.load_bar:g}), falling, no air in reserve"
        commands = low_pressure_commands(room, seen, projected, lacking, why)
        starting = {c.device for c in commands if c.point == "run_command" and c.value == 1}
        combination = tuple(m.device for m in room.machines if m.device in starting or seen[m.device].running)
    else:
        plan = best_combination(
            room.machines, seen, snap.demand_m3min, config.capacity_margin, config.switch_saving_share
        )
        if plan is None and config.capacity_margin > 0:
            # no allowed combination keeps the margin (machines at their starts per hour, say): one
            # that serves the demand itself is still a plan, not a lack of capacity
            plan = best_combination(room.machines, seen, snap.demand_m3min, 0.0, config.switch_saving_share)
        better: tuple[str, ...] = ()
        since = 0.0
        if plan is not None and plan.better is not None:
            # a saving below the switch share is taken once it has lasted: a night long at 10 %
            # is worth a start; a swap for every wobble of the demand estimate is not
            better = plan.better.devices
            since = memory.better_since if memory.better == better else snap.t
            if snap.t - since >= config.switch_after_s:
                plan, better, since = plan.better, (), 0.0
        memory = replace(memory, better=better, better_since=since)
        if plan is None and bar < room.target_bar and snap.dpdt_bar_per_min <= 0:
            alarms.append(Alarm("no_capacity", f"room {snap.room}: no allowed combination serves demand"))
            combination = running
            capacity = sum(m.rated_fad_m3_min for m in room.machines if seen[m.device].running)
            lacking = max(0.0, snap.demand_m3min - capacity)
            commands = low_pressure_commands(room, seen, bar, lacking)
        else:
            # without a plan, the estimate (the peak of the demand window) wants a machine that may
            # not start yet, but the pressure is at its target or rising: the machines running
            # serve the demand now. Hold them, and no alarm: issue 19's week raised `no_capacity`
            # 3,300 times a week, nearly all of them a minute after a machine was shed, at 6.6 bar
            # and rising.
            combination = plan.devices if plan is not None else running
            commands = plan_commands(
                room,
                seen,
                combination,
                config.heartbeat_timeout_s,
                bar,
                snap.demand_m3min,
                START_S + config.cycle_s,
                snap.dpdt_bar_per_min,
            )
    commands, kept = keep_last_machine(commands, seen, snap.demand_m3min)
    alarms.extend(kept)
    sent, deferred, withdrawn, sent_at = limit_commands(
        commands, memory, snap.t, config.max_commands_per_minute
    )
    beat = (memory.heartbeat + 1) % HEARTBEAT_MODULUS
    beats = [Command(m.device, "heartbeat", beat, "agent alive") for m in snap.machines if m.commandable]
    out = (*beats, *sent)
    return Decision(
        room=snap.room,
        t=snap.t,
        mode=config.mode,
        combination=combination,
        commands=out,
        writes=writes_for_mode(config.mode, out, writable),
        deferred=tuple(deferred),
        withdrawn=tuple(withdrawn),
        alarms=tuple(alarms),
        memory=replace(memory, heartbeat=beat, sent_at=sent_at, deferred=tuple(deferred)),
        pressure_bar=bar,
        demand_m3min=snap.demand_m3min,
    )
