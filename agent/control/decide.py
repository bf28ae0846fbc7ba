"""One cycle of the sequencer: snapshot + config + memory -> decision. Pure: no I/O, no clock.

The order is the order of precedence (docs/control.md):

1. pressure bad or stale -> hold: no command, no heartbeat (the machines fall back to their own band
   after the heartbeat timeout), alarm;
2. machines in local or in alarm are never commanded (alarm once per cycle they are seen so);
3. pressure below the minimum -> every commandable machine loads and every startable one starts,
   whatever the optimisation says;
4. otherwise the least-power combination (`strategy`), band setpoints, start/load/unload/stop;
5. never stop the last running machine while there is demand;
6. the command limit: beyond `max_commands_per_minute`, commands are deferred (safety first), and
   reported, never dropped silently;
7. the heartbeat to every commandable machine, every cycle (not counted by the limit);
8. the mode: only `active` writes, and only to devices with `writes_enabled: true`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
from agent.control.strategy import best_combination

__all__ = [
    "decide",
    "hold_on_bad_pressure",
    "keep_last_machine",
    "limit_commands",
    "low_pressure_commands",
    "plan_commands",
    "writable_devices",
    "writes_for_mode",
]

WINDOW_S = 60.0
HEARTBEAT_MODULUS = 65536  # a uint16 register


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


def low_pressure_commands(room: ControlRoom, seen: dict[str, MachineSnapshot], bar: float) -> list[Command]:
    """Below the minimum: load every running machine, start every one that may start."""
    reason = f"pressure {bar:.2f} bar below minimum {room.minimum_bar:g} bar"
    commands = []
    for m in sorted(room.machines, key=lambda m: m.priority):
        snap = seen[m.device]
        if not snap.commandable:
            continue
        if not snap.running and snap.starts_last_hour < m.max_starts_per_hour:
            commands.append(Command(m.device, "run_command", 1, reason + ": start", safety=True))
        if snap.load_command != 1:
            commands.append(Command(m.device, "load_command", 1, reason + ": load", safety=True))
    return commands


def _setpoints(room: ControlRoom, machine: ControlMachine, snap: MachineSnapshot) -> list[Command]:
    wanted = {"load_pressure_setpoint_bar": (room.load_bar, snap.load_bar)}
    wanted["unload_pressure_setpoint_bar"] = (room.unload_bar, snap.unload_bar)
    if machine.kind == "vsd":
        wanted["target_pressure_setpoint_bar"] = (room.target_bar, snap.target_bar)
    return [
        Command(machine.device, point, value, f"band {room.load_bar:g}-{room.unload_bar:g} bar")
        for point, (value, now) in wanted.items()
        if now is None or abs(now - value) > 0.005
    ]


def plan_commands(
    room: ControlRoom, seen: dict[str, MachineSnapshot], chosen: Sequence[str], heartbeat_timeout_s: int
) -> list[Command]:
    """Start, load, unload and stop towards `chosen`; a machine leaving is first unloaded, and
    stopped only once it runs unloaded."""
    commands: list[Command] = []
    for m in room.machines:
        snap = seen[m.device]
        if not snap.commandable:
            continue
        if snap.heartbeat_timeout_s is None or snap.heartbeat_timeout_s != heartbeat_timeout_s:
            commands.append(Command(m.device, "heartbeat_timeout_s", heartbeat_timeout_s, "fallback timer"))
        commands.extend(_setpoints(room, m, snap))
        if m.device in chosen:
            if not snap.running:
                commands.append(Command(m.device, "run_command", 1, "in the least-power combination"))
            if snap.load_command != 1:
                commands.append(Command(m.device, "load_command", 1, "in the least-power combination"))
        elif snap.state == MachineState.LOADED:
            commands.append(Command(m.device, "load_command", 0, "not needed: unload before stopping"))
        elif snap.state == MachineState.UNLOADED:
            commands.append(Command(m.device, "run_command", 0, "not needed and running unloaded: stop"))
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
    commands first, then those deferred before, then the rest. A command deferred earlier that this
    cycle no longer wants is returned as withdrawn, so nothing vanishes without a trace."""
    recent = tuple(s for s in memory.sent_at if t - s < WINDOW_S)
    wanted = {c.key for c in commands}
    withdrawn = [c for c in memory.deferred if c.key not in wanted]
    waited = {c.key for c in memory.deferred}
    order = sorted(commands, key=lambda c: (not c.safety, c.key not in waited))
    room = max(0, per_minute - len(recent))
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
    projected = bar + min(0.0, snap.dpdt_bar_per_min) * config.anticipation_s / 60.0
    if projected < room.minimum_bar:
        falling = "" if bar < room.minimum_bar else f" in {config.anticipation_s:g} s at the present rate"
        alarms.append(
            Alarm(
                "pressure_low", f"room {snap.room}: {projected:.2f} bar < {room.minimum_bar:g} bar{falling}"
            )
        )
        commands = low_pressure_commands(room, seen, projected)
        combination = tuple(m.device for m in room.machines if seen[m.device].commandable) or running
    else:
        plan = best_combination(
            room.machines, seen, snap.demand_m3min, config.capacity_margin, config.switch_saving_share
        )
        if plan is None:
            alarms.append(Alarm("no_capacity", f"room {snap.room}: no allowed combination serves demand"))
            combination = running
            commands = low_pressure_commands(room, seen, bar)
        else:
            combination = plan.devices
            commands = plan_commands(room, seen, plan.devices, config.heartbeat_timeout_s)
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
        memory=Memory(beat, sent_at, tuple(deferred)),
        pressure_bar=bar,
        demand_m3min=snap.demand_m3min,
    )
