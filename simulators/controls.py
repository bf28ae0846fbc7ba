"""The control surface of the simulated compressor controllers: what a Modbus write may change.

The register map (edge_configs/profiles/generic/compressor_*.yaml, `writable: true` points) names the
controls a master may write; `CONTROL_OF_POINT` maps each writable point to the control input of the
air-room engine (`simulators.airroom`, contract section 1). The server (`simulators.server`) decodes a
write, checks it against the map, and hands it to a `ControlSink`:

- the air-room engine, which acts on it (pressure band, run/stop, load/unload, heartbeat fallback), or
- `EngineControls`, a live air room (`AirRoom`, B = 1) stepped to the clock's time on every request,
  whose machines' gauges (state, pressure, power, air) and control registers it reports, or
- `PanelControls`, a plain engine-free panel that only keeps the written values, the heartbeat timing
  and the remote key, for scenarios without an air room and for tests of the Modbus path itself.

Both report the controller's status registers (`remote_enabled`, `control_source`, `starts_last_hour`)
and the read-back of every writable point through `control_values`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Protocol

import numpy as np
import numpy.typing as npt

from simulators.airroom import LOADED, OFF, STARTING, TRIPPED, UNLOADED, AirRoom
from simulators.scenario import Scenario

__all__ = [
    "CONTROL_OF_POINT",
    "LOCAL",
    "LOCAL_FALLBACK",
    "REMOTE",
    "ControlSink",
    "EngineControls",
    "PanelControls",
    "WriteOutcome",
]

# Control sources as the controllers report them (input register `control_source`).
LOCAL, REMOTE, LOCAL_FALLBACK = 0, 1, 2

# Writable register point -> control input of the engine.
CONTROL_OF_POINT: dict[str, str] = {
    "run_command": "run_request",
    "load_command": "load_enable",
    "load_pressure_setpoint_bar": "load_bar",
    "unload_pressure_setpoint_bar": "unload_bar",
    "target_pressure_setpoint_bar": "target_bar",
    "heartbeat": "heartbeat",
    "heartbeat_timeout_s": "heartbeat_timeout_s",
}

DEFAULT_HEARTBEAT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WriteOutcome:
    accepted: bool
    reason: str = ""  # why it was refused; "" when accepted


class ControlSink(Protocol):
    """Where accepted Modbus writes go; `t` is the simulated time (epoch seconds) of the request."""

    def remote_enabled(self, device: str, t: float) -> bool:
        """The panel key: False = local only, every write refused (Modbus exception 04)."""

    def write(self, device: str, control: str, value: float, t: float) -> WriteOutcome:
        """Apply one control input (a name of CONTROL_OF_POINT's values) or say why not."""

    def set_remote_enabled(self, device: str, enabled: bool, t: float) -> None:
        """Test hook: turn the panel key (not reachable over Modbus)."""

    def trip(self, device: str, t: float) -> None:
        """Test hook: the machine trips (a fault) and stops."""

    def control_values(self, device: str, t: float) -> dict[str, float]:
        """Status and read-back under the profile's point names (remote_enabled, control_source, ...)."""


@dataclass
class _Panel:
    remote_enabled: bool
    values: dict[str, float]  # control name -> last accepted value
    heartbeat_changed_at: float = -math.inf
    tripped: bool = False


@dataclass
class PanelControls:
    """An engine-free control panel per device: keeps what was written and the heartbeat's timing.

    `control_source` is 1 (remote) while the key is at remote and the heartbeat changed within
    `heartbeat_timeout_s`, 2 (local fallback) once a heartbeat that had been changing stops, else 0.
    Setpoints read back as written; until then the physics' own band shows (not in control_values), as
    do the physics' starts in the last hour."""

    remote: dict[str, bool] = field(default_factory=dict)  # device -> panel key at start (else local)
    _panels: dict[str, _Panel] = field(default_factory=dict)

    def _panel(self, device: str) -> _Panel:
        panel = self._panels.get(device)
        if panel is None:
            values = {"run_request": 1.0, "load_enable": 1.0, "heartbeat": 0.0}
            values["heartbeat_timeout_s"] = DEFAULT_HEARTBEAT_TIMEOUT_S
            panel = self._panels[device] = _Panel(self.remote.get(device, False), values)
        return panel

    def remote_enabled(self, device: str, t: float) -> bool:
        return self._panel(device).remote_enabled

    def write(self, device: str, control: str, value: float, t: float) -> WriteOutcome:
        panel = self._panel(device)
        if control not in CONTROL_OF_POINT.values():
            return WriteOutcome(False, f"unknown control {control!r}")
        if not panel.remote_enabled:
            return WriteOutcome(False, "remote control not enabled at the panel")
        if control == "heartbeat_timeout_s" and not 1 <= value <= 3600:
            return WriteOutcome(False, "heartbeat_timeout_s outside 1-3600 s")
        if control == "heartbeat" and value != panel.values["heartbeat"]:
            panel.heartbeat_changed_at = t
        panel.values[control] = value
        return WriteOutcome(True)

    def set_remote_enabled(self, device: str, enabled: bool, t: float) -> None:
        self._panel(device).remote_enabled = enabled

    def trip(self, device: str, t: float) -> None:
        self._panel(device).tripped = True

    def control_source(self, device: str, t: float) -> int:
        panel = self._panel(device)
        if not panel.remote_enabled or panel.heartbeat_changed_at == -math.inf:
            return LOCAL
        fresh = t - panel.heartbeat_changed_at < panel.values["heartbeat_timeout_s"]
        return REMOTE if fresh else LOCAL_FALLBACK

    def control_values(self, device: str, t: float) -> dict[str, float]:
        panel = self._panel(device)
        values = {point: panel.values[c] for point, c in CONTROL_OF_POINT.items() if c in panel.values}
        return values | {
            "remote_enabled": 1.0 if panel.remote_enabled else 0.0,
            "control_source": float(self.control_source(device, t)),
            "tripped": 1.0 if panel.tripped else 0.0,
        }


# Engine mode -> the controller's `state` register (0 stopped, 1 running unloaded, 2 loaded, 3 fault).
_STATE_OF_MODE = {OFF: 0.0, STARTING: 1.0, UNLOADED: 1.0, LOADED: 2.0, TRIPPED: 3.0}


@dataclass
class EngineControls:
    """The live compressor room behind the controllers' Modbus surface.

    `room` (B = 1) is stepped by its `dt_s` up to the time of each request, with the process demand
    `demand_m3min(t)` (e.g. from `simulators.airdemand`), so a write acts from the moment it is made
    and a heartbeat that stops changing hands the machine back to its own band after the timeout.
    `devices` maps device names to the room's machine names (default: the same names). What it
    reports replaces the site model's gauges of those machines; counters stay the site model's."""

    room: AirRoom
    demand_m3min: Callable[[float], float]
    devices: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_scenario(cls, scenario: Scenario, t: float) -> EngineControls:
        """The scenario's own room behind its controllers, from epoch time `t`: built as a day of the
        offline history is (`physics.build_room`; the retrofit's sequencer and band in force if `t` is
        on or after its date: the room is not rebuilt when a clock crosses it), fed with the process
        demand of `simulators.airdemand` second by second; device names are the machines' names."""
        from simulators.airdemand import day_process_demand
        from simulators.physics import build_room

        if scenario.air is None:
            raise ValueError(f"scenario {scenario.name}: no air system to put behind the controllers")
        fix = scenario.retrofit
        active = fix is not None and t >= datetime.combine(fix.date, time(0, 0), scenario.tz).timestamp()
        room = build_room(scenario, np.array([active]))
        room.t = t
        start = scenario.start.timestamp()
        days: dict[int, npt.NDArray[np.float64]] = {}

        def demand(at: float) -> float:
            index, second = divmod(int(at - start), 86400)
            if index not in days:
                days.clear()  # one day at a time: 86,400 values
                days[index] = day_process_demand(scenario, index)
            return float(days[index][second])

        names = {d.name: str(d.compressor) for d in scenario.devices if d.kind == "compressor"}
        return cls(room, demand, names)

    def _machine(self, device: str) -> str:
        return self.devices.get(device, device)

    def advance(self, t: float) -> None:
        room = self.room
        while room.t + room.dt_s <= t:
            room.step(np.array([self.demand_m3min(room.t)]))

    def remote_enabled(self, device: str, t: float) -> bool:
        self.advance(t)
        index = self.room.machines.index(self._machine(device))
        return bool(self.room.controls.remote_enabled[0, index])

    def write(self, device: str, control: str, value: float, t: float) -> WriteOutcome:
        self.advance(t)
        result = self.room.write(self._machine(device), control, value)
        return WriteOutcome(result.accepted, result.reason)

    def set_remote_enabled(self, device: str, enabled: bool, t: float) -> None:
        self.advance(t)
        self.room.set_remote_enabled(self._machine(device), enabled)

    def trip(self, device: str, t: float) -> None:
        self.advance(t)
        self.room.trip(self._machine(device))

    def control_values(self, device: str, t: float) -> dict[str, float]:
        self.advance(t)
        room, m = self.room, self.room.machines.index(self._machine(device))
        c = room.controls
        mode = int(room.mode[0, m])
        return {
            "state": _STATE_OF_MODE[mode],
            "tripped": 1.0 if mode == TRIPPED else 0.0,
            "discharge_pressure_bar": float(room.p[0]),
            "active_power_kw": float(room.power_kw()[0, m]),
            "fad_m3_min": float(room.flow_m3min()[0, m]),
            "remote_enabled": 1.0 if c.remote_enabled[0, m] else 0.0,
            "control_source": float(room.control_source()[0, m]),
            "starts_last_hour": float(room.starts_last_hour()[0, m]),
            "run_command": 1.0 if c.run_request[0, m] else 0.0,
            "load_command": 1.0 if c.load_enable[0, m] else 0.0,
            "load_pressure_setpoint_bar": float(c.load_bar[0, m]),
            "unload_pressure_setpoint_bar": float(c.unload_bar[0, m]),
            "target_pressure_setpoint_bar": float(c.target_bar[0, m]),
            "heartbeat": float(c.heartbeat[0, m]),
            "heartbeat_timeout_s": float(c.heartbeat_timeout_s[0, m]),
        }
