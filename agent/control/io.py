"""The thin I/O layer of the sequencer: read a room, decide (pure), write through the bus arbiter.

`ControlLoop.cycle()` reads each machine's status and setpoint registers through the same arbiter
the poller uses (so a write takes its turn on the line like any read), builds a `RoomSnapshot`,
calls `decide`, and then, by mode:

- `advise`: returns the decision (the caller publishes it);
- `dry-run`: logs every write it would make, with device, register and value, and writes nothing;
- `active`: writes `decision.writes` (already only those to `writes_enabled` devices), one function-6
  request each; a refused or failed write is logged and reported, never raised.

It keeps what the registers do not tell: when each machine last started or stopped (from its `state`
changes) and the recent looks at the room (dP/dt and the smoothed demand estimate,
`strategy.track_demand`). A machine that cannot be read is missing from the snapshot, which holds
the room (see `decide`).

Two ways to see the room. Alone (tests, `energy-agent control`), every point is read through the
arbiter. Inside `energy-agent run`, `latest` gives each device's latest poll (one read, many
consumers): the points are taken from it with their quality, and the readings' real age goes into
the staleness rule; a point the device's poll plan leaves out (a `points:` subset) is read through
the arbiter, and so are the read-backs of a device written since its latest poll. A machine whose
latest poll failed, or is older than `stale_after_s`, is unseen (the room holds).

`state_path` keeps when each machine last started or stopped across a restart of the agent (a
small JSON file, replaced atomically on every change). Unknown (no file, a corrupt file, a machine
not in it, a machine whose condition changed while the agent was down) counts as *just* started or
stopped: min_run_s and min_stop_s then apply from the first look, which protects the motor; the
low-pressure rule does not wait for min_stop_s, so the air supply is not put at risk by it.

A cycle whose own reads took longer than `cycle_s` (the line is congested, the loop was starved)
writes nothing, not even the heartbeat, and raises `cycle_overrun`: a decision on stale data is not
carried out, and a hanging agent stops the heartbeat, so the machines go back to their own band.

In the modes that do not write (`advise`, `dry-run`) the loop keeps `shadows`: per (device, point)
the value it would have written, laid over the real read-back in the next cycles' snapshots (see
`Shadow`), so `decide` sees the read-backs as they would be in `active`, where the controller's
read-back follows the write: each would-be command appears once, when it becomes wanted or changes,
instead of every cycle, and the command limit defers only a real backlog. Only the read-backs of the
writable points are shadowed, never the machine's measured state (in dry-run a would-be start reads
back `run_command` 1 and the machine stays stopped). `active` and `off` clear every shadow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from agent.config.control import ControlConfig, ControlRoom
from agent.config.profile import BitPoint, Function, NumericPoint, Profile, register_count
from agent.config.site import Device, SiteConfig
from agent.control.decide import decide, writable_devices
from agent.control.model import (
    Alarm,
    Command,
    Decision,
    MachineSnapshot,
    MachineState,
    Memory,
    Pressure,
    RoomSnapshot,
)
from agent.control.strategy import Sample, peak_demand, track_demand
from agent.errors import AgentError
from agent.modbus.decode import decode_point, encode_point
from agent.modbus.io import Registers
from agent.readings.model import PollResult

__all__ = [
    "SHADOWED",
    "ControlBus",
    "ControlLoop",
    "Latest",
    "Shadow",
    "WriteResult",
    "load_run_state",
    "register_write",
]

Latest = Callable[[str], PollResult | None]
"""The latest poll of a device, or None (not polled by the agent, or not yet)."""

log = logging.getLogger("energy_agent.control")

STATUS_POINTS = ("state", "fad_m3_min", "running_hours_h", "remote_enabled", "control_source")
READ_BACK = (
    "starts_last_hour",
    "load_command",
    "run_command",
    "load_pressure_setpoint_bar",
    "unload_pressure_setpoint_bar",
    "target_pressure_setpoint_bar",
    "heartbeat_timeout_s",
)
SHADOWED = {
    "load_command": "load_command",
    "run_command": "run_command",
    "load_pressure_setpoint_bar": "load_bar",
    "unload_pressure_setpoint_bar": "unload_bar",
    "target_pressure_setpoint_bar": "target_bar",
    "heartbeat_timeout_s": "heartbeat_timeout_s",
}
"""Writable point -> the `MachineSnapshot` field of its read-back: what a shadow may stand in for."""
SHUTDOWN_ALARMS = (
    "alarm_motor_overload",
    "alarm_high_discharge_temp",
    "alarm_high_pressure",
    "alarm_phase_failure",
    "alarm_emergency_stop",
    "alarm_drive_fault",
)


class ControlBus(Protocol):
    """What the sequencer needs of a bus arbiter (`agent.modbus.bus.LineArbiter`/`PoolArbiter`)."""

    async def read(self, unit: int, function: Function, address: int, count: int) -> Registers: ...

    async def write_register(self, unit: int, address: int, value: int) -> None: ...


@dataclass(frozen=True)
class WriteResult:
    command: Command
    address: int
    raw: int
    error: str | None = None  # None: the device accepted it


def register_write(profile: Profile, command: Command) -> tuple[int, int]:
    """(holding register address, raw value) of a command; ValueError naming the point when the
    profile does not let it be written with one register."""
    point = next((p for p in profile.points if p.name == command.point), None)
    if point is None or not getattr(point, "writable", False) or point.function != Function.HOLDING:
        raise ValueError(f"profile {profile.id} has no writable holding point {command.point!r}")
    if not isinstance(point, NumericPoint) or register_count(point) != 1:
        raise ValueError(f"point {command.point!r} of {profile.id} is not one numeric register")
    (raw,) = encode_point(point, command.value, point.order or profile.order)
    return point.address, raw


@dataclass(frozen=True)
class Shadow:
    """A read-back as it would be had the command been written (modes that do not write).

    `value` is what the loop would have written; `real` is the real read-back when the shadow was
    set. The shadow stands in for the read-back only while the real one stays at `real`: once it
    reads anything else, someone else changed the register (the panel, another master, the
    controller going back to its own settings) and the shadow is dropped for good, so the sequencer
    sees the real value and asks again if it still wants its own, as it would in `active`. Chosen
    over "drop it when the real read-back reaches the shadow's value": that one hides a panel's
    change to a third value for ever, and in dry-run the real read-back never reaches it. A point
    that cannot be read (None) counts as a value: it must stay unreadable to keep its shadow."""

    value: float
    real: float | None


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-6


def _text(value: float | None) -> str:
    return "unreadable" if value is None else f"{value:g}"


@dataclass
class _Seen:
    state: MachineState | None = None
    since: float = 0.0  # when it entered its running / stopped condition


def _running(state: MachineState) -> bool:
    return state in (MachineState.UNLOADED, MachineState.LOADED)


def load_run_state(path: Path) -> dict[str, tuple[bool, float]]:
    """device -> (running, since) as saved; {} with one warning when the file is unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _state_unreadable(path, f"{type(exc).__name__}: {exc}")
        return {}
    if not isinstance(document, dict) or document.get("version") != 1:
        _state_unreadable(path, "not a version-1 document with a 'machines' object")
        return {}
    machines = document.get("machines")
    if not isinstance(machines, dict):
        _state_unreadable(path, "not a version-1 document with a 'machines' object")
        return {}
    state: dict[str, tuple[bool, float]] = {}
    for device, entry in machines.items():
        running = entry.get("running") if isinstance(entry, dict) else None
        since = entry.get("since") if isinstance(entry, dict) else None
        if not isinstance(running, bool) or not isinstance(since, int | float) or isinstance(since, bool):
            _state_unreadable(path, f"machine {device!r}: expected {{running: bool, since: number}}")
            return {}
        state[str(device)] = (running, float(since))
    return state


def _state_unreadable(path: Path, detail: str) -> None:
    log.warning(
        "event=control_state_unreadable path=%s detail=%s: every machine counts as just started or "
        "stopped (min_run_s and min_stop_s apply from now)",
        path,
        detail,
    )


def _save_run_state(path: Path, state: Mapping[str, tuple[bool, float]]) -> None:
    """Write the file atomically: a temporary file beside it, fsynced, then renamed over it."""
    document = {
        "version": 1,
        "machines": {d: {"running": r, "since": since} for d, (r, since) in sorted(state.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


@dataclass
class ControlLoop:
    """One site's sequencer: `cycle()` once per `control.cycle_s` (the caller owns the timing)."""

    config: SiteConfig
    profiles: Mapping[str, Profile]  # device -> its profile
    buses: Mapping[str, ControlBus]  # bus name -> arbiter
    clock: Callable[[], float] = time.time
    memory: dict[str, Memory] = field(default_factory=dict)
    results: list[WriteResult] = field(default_factory=list)  # the last cycle's writes
    latest: Latest | None = None  # each device's latest poll (inside `run`); None: read every point
    state_path: Path | None = None  # run/stop times kept across restarts; None: in memory only
    unreadable: dict[str, str] = field(default_factory=dict)  # the last cycle: device -> why not read
    snapshots: dict[str, RoomSnapshot] = field(default_factory=dict)  # room -> its last look
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _saved: dict[str, tuple[bool, float]] | None = None  # as loaded from / written to state_path
    _written_at: dict[str, float] = field(default_factory=dict)  # device -> time of its last write
    _samples: dict[str, tuple[Sample, ...]] = field(default_factory=dict)  # room -> recent looks
    _dpdt: dict[str, float] = field(default_factory=dict)  # room -> the last rate of change
    _said: dict[tuple[str, str], set[Any]] = field(default_factory=dict)  # what was logged last cycle
    _was_unreadable: dict[str, str] = field(default_factory=dict)  # `unreadable` of the cycle before
    # advise / dry-run: (device, point) -> the read-back as if written (`Shadow`); empty in active
    shadows: dict[tuple[str, str], Shadow] = field(default_factory=dict)

    def _device(self, name: str) -> Device:
        return next(d for d in self.config.devices if d.name == name)

    async def _point(self, device: str, point_name: str) -> float | None:
        """One point's value, or None when it is absent from the profile or bad."""
        dev, profile = self._device(device), self.profiles[device]
        point = next((p for p in profile.points if p.name == point_name), None)
        if not isinstance(point, NumericPoint | BitPoint):
            return None
        registers = await self.buses[dev.bus].read(
            dev.unit_id, point.function, point.address, register_count(point)
        )
        order = (point.order if isinstance(point, NumericPoint) else None) or profile.order
        decoded = decode_point(point, [int(r) for r in registers], order)
        value = decoded.value
        if decoded.quality != "good" or isinstance(value, str) or value is None:
            return None
        return float(value)

    async def _values(
        self, device: str, names: Sequence[str], t: float
    ) -> tuple[dict[str, float | None], float]:
        """The points' values and the age of the look: from the device's latest poll when there is
        one (a point it lacks, or a read-back older than our last write, is read), else all read."""
        result = self.latest(device) if self.latest is not None else None
        if result is None:
            return {name: await self._point(device, name) for name in names}, 0.0
        readings = result.readings
        written = self._written_at.get(device)
        fresh = written is None or (result.requested_at or result.ts) > written
        values: dict[str, float | None] = {}
        for name in names:
            reading = readings.get(name)
            if reading is None or (not fresh and name in READ_BACK):
                values[name] = await self._point(device, name)
            elif reading.quality != "good" or not isinstance(reading.value, int | float):
                values[name] = None
            else:
                values[name] = float(reading.value)
        return values, max(0.0, t - result.ts)

    async def _machine(self, device: str, t: float) -> MachineSnapshot | None:
        try:
            values, age = await self._values(device, (*STATUS_POINTS, *READ_BACK, *SHUTDOWN_ALARMS), t)
        except AgentError as exc:
            self._unreadable(device, str(exc))
            return None
        if values["state"] is None:
            self._unreadable(device, "no good state reading")
            return None
        if age > self.config.control.stale_after_s:
            self._unreadable(device, f"its latest poll is {age:.0f} s old")
            return None
        state = MachineState(int(values["state"]))
        running = _running(state)
        seen = self._seen.get(device)
        if seen is None:
            seen = self._seen[device] = _Seen(state, self._first_since(device, running, t - age))
        elif seen.state is not None and running != _running(seen.state):
            seen.since = t - age
        seen.state = state
        await self._keep(device, running, seen.since)
        load, run = values["load_command"], values["run_command"]
        return MachineSnapshot(
            device=device,
            state=state,
            remote_enabled=values["remote_enabled"] == 1,
            control_source=int(values["control_source"] or 0),
            alarm=any(values[a] for a in SHUTDOWN_ALARMS),
            run_s=t - seen.since if running else 0.0,
            stop_s=t - seen.since if not running else 0.0,
            starts_last_hour=int(values["starts_last_hour"] or 0),
            running_hours=values["running_hours_h"] or 0.0,
            flow_m3min=values["fad_m3_min"],
            load_command=None if load is None else int(load),
            run_command=None if run is None else int(run),
            load_bar=values["load_pressure_setpoint_bar"],
            unload_bar=values["unload_pressure_setpoint_bar"],
            target_bar=values["target_pressure_setpoint_bar"],
            heartbeat_timeout_s=values["heartbeat_timeout_s"],
        )

    def _unreadable(self, device: str, why: str) -> None:
        """Logged when a device becomes unreadable, not every cycle it stays so."""
        if device not in self.unreadable and device not in self._was_unreadable:
            log.warning("control: cannot read %s: %s", device, why)
        self.unreadable[device] = why

    def _first_since(self, device: str, running: bool, t: float) -> float:
        """When a machine first seen entered its condition. Without a state file: long ago (the
        behaviour before persistence). With one: as saved if it is in the same condition, else
        just now (unknown counts as just started / stopped: min_run_s and min_stop_s apply)."""
        if self.state_path is None:
            return t - 1e6
        if self._saved is None:
            self._saved = load_run_state(self.state_path)
        saved = self._saved.get(device)
        if saved is not None and saved[0] == running:
            return min(saved[1], t)
        return t

    async def _keep(self, device: str, running: bool, since: float) -> None:
        if self.state_path is None:
            return
        saved = self._saved if self._saved is not None else {}
        if saved.get(device) == (running, since):
            return
        saved = {**saved, device: (running, since)}
        self._saved = saved
        try:
            await asyncio.to_thread(_save_run_state, self.state_path, saved)
        except OSError as exc:  # a full or read-only disk: the loop goes on, the next change retries
            log.warning("control: cannot save the machines' run/stop times to %s: %s", self.state_path, exc)

    async def snapshot(self, room: ControlRoom) -> RoomSnapshot:
        t = self.clock()
        machines = [await self._machine(m.device, t) for m in room.machines]
        seen = tuple(m for m in machines if m is not None)
        age = 0.0
        try:
            values, age = await self._values(room.pressure_device, (room.pressure_point,), t)
            bar = values[room.pressure_point]
        except AgentError as exc:
            self._unreadable(room.pressure_device, str(exc))
            bar = None
        delivered = sum(m.flow_m3min or 0.0 for m in seen)
        window = self.config.control.demand_window_s
        seen_at = t - age
        samples = self._samples.get(room.name, ())
        if bar is not None and samples and seen_at <= samples[-1].t:
            # the same poll as last cycle: nothing new, the rate and the demand it gave then
            dpdt = self._dpdt.get(room.name, 0.0)
            demand = peak_demand([(s.t, s.demand_m3min) for s in samples], seen_at, window)
        else:
            samples, dpdt, demand = track_demand(samples, seen_at, bar, delivered, room.receiver_m3, window)
            self._samples[room.name] = samples
            self._dpdt[room.name] = dpdt
        return RoomSnapshot(room.name, t, Pressure(bar, bar is not None, age), seen, demand, dpdt)

    async def cycle(self) -> list[Decision]:
        """One decision per room, carried out as the mode says. Off: nothing at all."""
        control = self.config.control
        self._keep_shadows(control)
        if control.mode == "off":
            return []
        writable = writable_devices(self.config)
        decisions, self.results = [], []
        self._was_unreadable, self.unreadable = self.unreadable, {}
        for room in control.rooms:
            snap = self.snapshots[room.name] = await self.snapshot(room)
            seen = self._overlay(snap) if self.shadows else snap
            decision = decide(seen, room, control, self.memory.get(room.name, Memory()), writable)
            self.memory[room.name] = decision.memory
            took = self.clock() - snap.t
            if took > control.cycle_s:
                decision = _overrun(decision, took, control.cycle_s)
            self._log(decision)
            if control.mode == "active":
                self.results.extend([await self._write(c) for c in decision.writes])
            elif took <= control.cycle_s:  # an overrun would have written nothing: no shadow either
                self._shadow(decision, snap)
            decisions.append(decision)
        for device in sorted(self._was_unreadable.keys() - self.unreadable.keys()):
            log.info("control: %s read again", device)
        return decisions

    def _keep_shadows(self, control: ControlConfig) -> None:
        """Shadows only in the modes that do not write: `active` reads the real read-backs (the
        writes make them follow), `off` decides nothing. A machine no longer in a room loses its."""
        if control.mode in ("active", "off"):
            if self.shadows:
                log.info("control %s: %d assumed read-back(s) of the %s cleared: the real read-backs rule",
                         control.mode, len(self.shadows), "advise / dry-run")  # fmt: skip
            self.shadows.clear()
            return
        machines = {m.device for room in control.rooms for m in room.machines}
        for key in [k for k in self.shadows if k[0] not in machines]:
            del self.shadows[key]

    def _overlay(self, snap: RoomSnapshot) -> RoomSnapshot:
        """The snapshot with each shadowed read-back as if written; a shadow whose real read-back
        changed since it was set is dropped (`Shadow`) and the real value shows."""
        machines = []
        for m in snap.machines:
            changes: dict[str, Any] = {}
            for point, name in SHADOWED.items():
                shadow = self.shadows.get((m.device, point))
                if shadow is None:
                    continue
                real = getattr(m, name)
                if not _same(real, shadow.real):
                    del self.shadows[(m.device, point)]
                    log.info(
                        "control: %s %s reads %s, no longer %s: changed outside the agent, the "
                        "assumed read-back %g is dropped",
                        m.device, point, _text(real), _text(shadow.real), shadow.value,
                    )  # fmt: skip
                    continue
                integer = point in ("load_command", "run_command")  # int | None in the snapshot
                changes[name] = int(shadow.value) if integer else shadow.value
            machines.append(replace(m, **changes) if changes else m)
        return replace(snap, machines=tuple(machines))

    def _shadow(self, decision: Decision, snap: RoomSnapshot) -> None:
        """Each command the decision would send (not the heartbeat; the deferred are not in
        `commands`) becomes the read-back of its point, over the real read-back of `snap`."""
        seen = {m.device: m for m in snap.machines}
        for c in decision.commands:
            name = SHADOWED.get(c.point)
            machine = seen.get(c.device)
            if name is None or machine is None:
                continue
            try:
                register_write(self.profiles[c.device], c)
            except ValueError:  # active could not write it either: its read-back would not follow
                continue
            self.shadows[c.key] = Shadow(c.value, getattr(machine, name))

    def _log(self, decision: Decision) -> None:
        """Every command with its device, register, value and reason, and every alarm: logged when
        it appears (a command repeated from the last cycle, and the heartbeat, at DEBUG), so a
        dry run that is never carried out does not repeat itself every cycle."""
        room = decision.room
        alarms = {(a.code, a.device): a for a in decision.alarms}
        before = self._said.get(("alarm", room), set())
        for key, alarm in alarms.items():
            if key not in before:
                log.warning("control %s: %s", alarm.code, alarm.message)
        for code, device in sorted(before - alarms.keys(), key=str):
            log.info("control %s cleared%s", code, f" ({device})" if device else "")
        self._said[("alarm", room)] = set(alarms)
        said, now = self._said.get(("command", room), set()), set()
        writes = set(decision.writes)
        for c in decision.commands:
            command = (c.device, c.point, c.value)
            now.add(command)
            try:
                address, raw = register_write(self.profiles[c.device], c)
            except ValueError as exc:
                log.warning("control %s: %s", decision.mode, exc)
                continue
            repeated = c.point == "heartbeat" or command in said
            verb = "write" if c in writes else "would write"
            log.log(
                logging.DEBUG if repeated else logging.INFO,
                "control %s: %s %s holding %d (%s) = %d (%g): %s",
                decision.mode, verb, c.device, address, c.point, raw, c.value, c.reason,
            )  # fmt: skip
        self._said[("command", room)] = now
        deferred_before, deferred = self._said.get(("deferred", room), set()), set()
        for c in decision.deferred:
            deferred.add((c.device, c.point, c.value))
            if (c.device, c.point, c.value) not in deferred_before:
                log.info("control: deferred by the command limit: %s %s = %g", c.device, c.point, c.value)
        self._said[("deferred", room)] = deferred

    async def _write(self, command: Command) -> WriteResult:
        dev = self._device(command.device)
        if not dev.writes_enabled:  # decide() never lets one through; a second gate costs nothing
            return WriteResult(command, -1, -1, "writes_enabled is false")
        try:
            address, raw = register_write(self.profiles[command.device], command)
        except ValueError as exc:
            return WriteResult(command, -1, -1, str(exc))
        self._written_at[dev.name] = self.clock()
        try:
            await self.buses[dev.bus].write_register(dev.unit_id, address, raw)
        except AgentError as exc:
            log.warning("control: write %s %s = %d failed: %s", dev.name, command.point, raw, exc)
            return WriteResult(command, address, raw, str(exc))
        return WriteResult(command, address, raw)


def _overrun(decision: Decision, took: float, cycle_s: float) -> Decision:
    """The cycle's reads took longer than a cycle: nothing is written, not even the heartbeat."""
    alarm = Alarm(
        "cycle_overrun",
        f"the cycle's reads took {took:.1f} s, longer than cycle_s {cycle_s:g} s: nothing written",
    )
    return replace(decision, writes=(), alarms=(*decision.alarms, alarm))
