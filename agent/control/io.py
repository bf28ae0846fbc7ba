"""The thin I/O layer of the sequencer: read a room, decide (pure), write through the bus arbiter.

`ControlLoop.cycle()` reads each machine's status and setpoint registers through the same arbiter
the poller uses (so a write takes its turn on the line like any read), builds a `RoomSnapshot`,
calls `decide`, and then, by mode:

- `advise`: returns the decision (the caller publishes it);
- `dry-run`: logs every write it would make, with device, register and value, and writes nothing;
- `active`: writes `decision.writes` (already only those to `writes_enabled` devices), one function-6
  request each; a refused or failed write is logged and reported, never raised.

It keeps what the registers do not tell: when each machine last started or stopped (from its `state`
changes) and the previous pressure (for dP/dt, the demand estimate). A machine that cannot be read is
missing from the snapshot, which holds the room (see `decide`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from agent.config.control import ControlRoom
from agent.config.profile import BitPoint, Function, NumericPoint, Profile, register_count
from agent.config.site import Device, SiteConfig
from agent.control.decide import decide, writable_devices
from agent.control.model import (
    Command,
    Decision,
    MachineSnapshot,
    MachineState,
    Memory,
    Pressure,
    RoomSnapshot,
)
from agent.control.strategy import estimate_demand, peak_demand
from agent.errors import AgentError
from agent.modbus.decode import decode_point, encode_point
from agent.modbus.io import Registers

__all__ = ["ControlBus", "ControlLoop", "WriteResult", "register_write"]

log = logging.getLogger("energy_agent.control")

STATUS_POINTS = ("state", "fad_m3_min", "running_hours_h", "remote_enabled", "control_source")
READ_BACK = (
    "starts_last_hour",
    "load_command",
    "load_pressure_setpoint_bar",
    "unload_pressure_setpoint_bar",
    "target_pressure_setpoint_bar",
    "heartbeat_timeout_s",
)
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


@dataclass
class _Seen:
    state: MachineState | None = None
    since: float = 0.0  # when it entered its running / stopped condition


@dataclass
class ControlLoop:
    """One site's sequencer: `cycle()` once per `control.cycle_s` (the caller owns the timing)."""

    config: SiteConfig
    profiles: Mapping[str, Profile]  # device -> its profile
    buses: Mapping[str, ControlBus]  # bus name -> arbiter
    clock: Callable[[], float] = time.time
    memory: dict[str, Memory] = field(default_factory=dict)
    results: list[WriteResult] = field(default_factory=list)  # the last cycle's writes
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _pressure: dict[str, tuple[float, float]] = field(default_factory=dict)  # room -> (t, bar)
    _demand: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # room -> (t, m3/min)

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

    async def _machine(self, device: str, t: float) -> MachineSnapshot | None:
        try:
            values = {name: await self._point(device, name) for name in (*STATUS_POINTS, *READ_BACK)}
            alarms = [await self._point(device, name) for name in SHUTDOWN_ALARMS]
        except AgentError as exc:
            log.warning("control: cannot read %s: %s", device, exc)
            return None
        if values["state"] is None:
            return None
        state = MachineState(int(values["state"]))
        seen = self._seen.setdefault(device, _Seen(state, t - 1e6))
        running = state in (MachineState.UNLOADED, MachineState.LOADED)
        if seen.state is not None and running != (seen.state in (MachineState.UNLOADED, MachineState.LOADED)):
            seen.since = t
        seen.state = state
        load = values["load_command"]
        return MachineSnapshot(
            device=device,
            state=state,
            remote_enabled=values["remote_enabled"] == 1,
            control_source=int(values["control_source"] or 0),
            alarm=any(a for a in alarms if a is not None),
            run_s=t - seen.since if running else 0.0,
            stop_s=t - seen.since if not running else 0.0,
            starts_last_hour=int(values["starts_last_hour"] or 0),
            running_hours=values["running_hours_h"] or 0.0,
            flow_m3min=values["fad_m3_min"],
            load_command=None if load is None else int(load),
            load_bar=values["load_pressure_setpoint_bar"],
            unload_bar=values["unload_pressure_setpoint_bar"],
            target_bar=values["target_pressure_setpoint_bar"],
            heartbeat_timeout_s=values["heartbeat_timeout_s"],
        )

    async def snapshot(self, room: ControlRoom) -> RoomSnapshot:
        t = self.clock()
        machines = [await self._machine(m.device, t) for m in room.machines]
        seen = tuple(m for m in machines if m is not None)
        try:
            bar = await self._point(room.pressure_device, room.pressure_point)
        except AgentError as exc:
            log.warning("control: cannot read the pressure of room %s: %s", room.name, exc)
            bar = None
        dpdt = 0.0
        if bar is not None:
            before = self._pressure.get(room.name)
            if before is not None and t > before[0]:
                dpdt = (bar - before[1]) / (t - before[0]) * 60.0
            self._pressure[room.name] = (t, bar)
        delivered = sum(m.flow_m3min or 0.0 for m in seen)
        window = self.config.control.demand_window_s
        recent = [e for e in self._demand.get(room.name, []) if t - e[0] <= window]
        recent.append((t, estimate_demand(delivered, dpdt, room.receiver_m3)))
        self._demand[room.name] = recent
        demand = peak_demand(recent, t, window)
        return RoomSnapshot(room.name, t, Pressure(bar, bar is not None, 0.0), seen, demand, dpdt)

    async def cycle(self) -> list[Decision]:
        """One decision per room, carried out as the mode says. Off: nothing at all."""
        control = self.config.control
        if control.mode == "off":
            return []
        writable = writable_devices(self.config)
        decisions, self.results = [], []
        for room in control.rooms:
            snap = await self.snapshot(room)
            decision = decide(snap, room, control, self.memory.get(room.name, Memory()), writable)
            self.memory[room.name] = decision.memory
            self._log(decision)
            if control.mode == "active":
                self.results.extend([await self._write(c) for c in decision.writes])
            decisions.append(decision)
        return decisions

    def _log(self, decision: Decision) -> None:
        for alarm in decision.alarms:
            log.warning("control %s: %s", alarm.code, alarm.message)
        if decision.mode == "dry-run":
            for c in decision.commands:
                try:
                    address, raw = register_write(self.profiles[c.device], c)
                except ValueError as exc:
                    log.warning("control dry-run: %s", exc)
                    continue
                level = logging.DEBUG if c.point == "heartbeat" else logging.INFO
                log.log(
                    level,
                    "control dry-run: would write %s holding %d (%s) = %d (%g): %s",
                    c.device, address, c.point, raw, c.value, c.reason,
                )  # fmt: skip
        for c in decision.deferred:
            log.info("control: deferred by the command limit: %s %s = %g", c.device, c.point, c.value)

    async def _write(self, command: Command) -> WriteResult:
        dev = self._device(command.device)
        if not dev.writes_enabled:  # decide() never lets one through; a second gate costs nothing
            return WriteResult(command, -1, -1, "writes_enabled is false")
        try:
            address, raw = register_write(self.profiles[command.device], command)
        except ValueError as exc:
            return WriteResult(command, -1, -1, str(exc))
        try:
            await self.buses[dev.bus].write_register(dev.unit_id, address, raw)
        except AgentError as exc:
            log.warning("control: write %s %s = %d failed: %s", dev.name, command.point, raw, exc)
            return WriteResult(command, address, raw, str(exc))
        return WriteResult(command, address, raw)
