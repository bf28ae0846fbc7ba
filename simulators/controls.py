"""The control surface of the simulated compressor controllers: what a Modbus write may change.

The register map (edge_configs/profiles/generic/compressor_*.yaml, `writable: true` points) names the
controls a master may write; `CONTROL_OF_POINT` maps each writable point to the control input of the
air-room engine (`simulators.airroom`, contract section 1). The server (`simulators.server`) decodes a
write, checks it against the map, and hands it to a `ControlSink`:

- the air-room engine, which acts on it (pressure band, run/stop, load/unload, heartbeat fallback), or
- `PanelControls`, a plain engine-free panel that only keeps the written values, the heartbeat timing
  and the remote key, for scenarios without an air room and for tests of the Modbus path itself.

Both report the controller's status registers (`remote_enabled`, `control_source`, `starts_last_hour`)
and the read-back of every writable point through `control_values`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "CONTROL_OF_POINT",
    "LOCAL",
    "LOCAL_FALLBACK",
    "REMOTE",
    "ControlSink",
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
    Setpoints read back as written; until then the physics' own band shows (not in control_values)."""

    remote_default: bool = True
    _panels: dict[str, _Panel] = field(default_factory=dict)

    def _panel(self, device: str) -> _Panel:
        panel = self._panels.get(device)
        if panel is None:
            values = {"run_request": 1.0, "load_enable": 1.0, "heartbeat": 0.0}
            values["heartbeat_timeout_s"] = DEFAULT_HEARTBEAT_TIMEOUT_S
            panel = self._panels[device] = _Panel(self.remote_default, values)
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
            "starts_last_hour": 0.0,
            "tripped": 1.0 if panel.tripped else 0.0,
        }
