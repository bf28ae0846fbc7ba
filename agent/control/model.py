"""What the sequencer sees and what it decides: plain frozen values, no I/O.

A `RoomSnapshot` is one look at a compressor room (header pressure with its quality and age, and
each machine as its controller reports it); a `Decision` is the commands the room should get, the
alarms, and what was deferred by the command limit. `Memory` is the little the sequencer carries from
one cycle to the next (the heartbeat counter, the times of recent commands, deferred commands); it is
passed in and returned, never mutated, so every cycle is a pure function of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

__all__ = [
    "Alarm",
    "Command",
    "Decision",
    "MachineSnapshot",
    "MachineState",
    "Memory",
    "Pressure",
    "RoomSnapshot",
]

REMOTE = 1
"""`control_source` of a machine following Modbus commands (0 local, 2 local fallback)."""


class MachineState(IntEnum):
    """The controller's `state` register."""

    STOPPED = 0
    UNLOADED = 1
    LOADED = 2
    FAULT = 3


@dataclass(frozen=True)
class Pressure:
    """Header pressure as the poller delivered it."""

    bar: float | None
    good: bool
    age_s: float


@dataclass(frozen=True)
class MachineSnapshot:
    device: str
    state: MachineState
    remote_enabled: bool
    control_source: int = 0
    alarm: bool = False  # a shutdown alarm bit, or any alarm the site counts as one
    run_s: float = 0.0  # seconds since it started (when running)
    stop_s: float = 1e9  # seconds since it stopped (when stopped)
    starts_last_hour: int = 0
    running_hours: float = 0.0
    flow_m3min: float | None = None  # delivered air, when measured
    load_command: int | None = None  # read-back of the writable registers; None = unknown
    run_command: int | None = None
    load_bar: float | None = None
    unload_bar: float | None = None
    target_bar: float | None = None
    heartbeat_timeout_s: float | None = None

    @property
    def running(self) -> bool:
        return self.state in (MachineState.UNLOADED, MachineState.LOADED)

    @property
    def commandable(self) -> bool:
        """The panel key at remote and no alarm: the only machines the sequencer may ever write to."""
        return self.remote_enabled and not self.alarm and self.state != MachineState.FAULT


@dataclass(frozen=True)
class RoomSnapshot:
    room: str
    t: float  # epoch seconds of the look
    pressure: Pressure
    machines: tuple[MachineSnapshot, ...]
    demand_m3min: float  # estimated air demand (see strategy.estimate_demand, peak_demand)
    dpdt_bar_per_min: float = 0.0  # the header pressure's present rate of change


@dataclass(frozen=True)
class Command:
    device: str
    point: str  # a writable point of the device's profile
    value: float
    reason: str
    safety: bool = False  # from an interlock: goes ahead of the optimisation's commands

    @property
    def key(self) -> tuple[str, str]:
        return self.device, self.point


@dataclass(frozen=True)
class Alarm:
    code: str  # machine-readable: pressure_low, pressure_bad, pressure_stale, machine_local, ...
    message: str
    device: str | None = None


@dataclass(frozen=True)
class Memory:
    heartbeat: int = 0
    sent_at: tuple[float, ...] = ()  # times of commands sent in the last minute (the limit)
    deferred: tuple[Command, ...] = ()
    better: tuple[str, ...] = ()  # a combination saving less than the switch share, waiting
    better_since: float = 0.0  # since when it has been the better one


@dataclass(frozen=True)
class Decision:
    room: str
    t: float
    mode: str
    combination: tuple[str, ...]  # the machines meant to run
    commands: tuple[Command, ...]  # what the room should get this cycle (heartbeats included)
    writes: tuple[Command, ...]  # what is written: empty unless mode active, only writable devices
    deferred: tuple[Command, ...] = ()  # held back by the command limit, offered again next cycle
    withdrawn: tuple[Command, ...] = ()  # deferred earlier, no longer wanted
    alarms: tuple[Alarm, ...] = ()
    memory: Memory = field(default_factory=Memory)
    pressure_bar: float | None = None  # as the snapshot had it
    demand_m3min: float | None = None
