"""The `control:` section of a site config: compressor-room sequencing (issue 19).

Off unless the file says otherwise, and even then a machine is written to only when its device has
`writes_enabled: true`. Rules that need the devices (a machine names a device of this file, a room's
pressure comes from one) are checked by the loader on the raw data, each at its own line.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from agent.config.strict import StrictModel as _Strict

__all__ = ["ControlConfig", "ControlMachine", "ControlMode", "ControlRoom", "MachineKind"]

NAME = r"^[a-z0-9][a-z0-9_-]*$"

ControlMode = Literal["off", "advise", "dry-run", "active"]
MachineKind = Literal["load_unload", "vsd"]


class ControlMachine(_Strict):
    """One compressor the sequencer may command, with its nameplate and its protection limits."""

    device: str = Field(min_length=1, description="Device id of the compressor controller.")
    kind: MachineKind = Field(
        description="load_unload: a base-load machine, run loaded or not at all; vsd: the trim machine."
    )
    rated_fad_m3_min: float = Field(gt=0, le=1000, description="Free air delivery at full load, m3/min.")
    rated_power_kw: float = Field(gt=0, le=2000, description="Package power at full load, kW.")
    unloaded_power_kw: float | None = Field(
        default=None, ge=0, le=2000, description="Power running unloaded, kW (default: 25 % of rated)."
    )
    min_flow_share: float = Field(
        default=0.25,
        gt=0,
        lt=1,
        description="vsd: the lowest share of rated FAD the drive delivers (minimum speed).",
    )
    priority: int = Field(
        default=1, ge=1, le=99, description="1 first; among equal energy, equal priority rotates by hours."
    )
    min_run_s: float = Field(default=300, ge=0, le=7200, description="Never stopped before it ran this long.")
    min_stop_s: float = Field(
        default=120, ge=0, le=7200, description="Never started before it stood still this long."
    )
    max_starts_per_hour: int = Field(default=6, ge=1, le=60, description="Motor starts allowed per hour.")

    @model_validator(mode="after")
    def _unloaded_below_rated(self) -> ControlMachine:
        if self.unloaded_power_kw is not None and self.unloaded_power_kw >= self.rated_power_kw:
            raise ValueError(
                f"unloaded_power_kw {self.unloaded_power_kw} must be below rated_power_kw "
                f"{self.rated_power_kw}"
            )
        return self

    @property
    def idle_kw(self) -> float:
        return self.rated_power_kw * 0.25 if self.unloaded_power_kw is None else self.unloaded_power_kw


class ControlRoom(_Strict):
    """A compressor room: the machines on one header and the pressure they keep."""

    name: str = Field(pattern=NAME, max_length=64, description="Room id, used in messages and logs.")
    pressure_device: str = Field(min_length=1, description="Device whose point is the header pressure.")
    pressure_point: str = Field(
        default="discharge_pressure_bar", min_length=1, description="Point of that device, bar(g)."
    )
    minimum_bar: float = Field(
        gt=0, le=40, description="Pressure never allowed below: under it every machine comes in at once."
    )
    target_bar: float = Field(gt=0, le=40, description="The lowest setpoint that serves the end uses.")
    band_bar: float = Field(
        default=0.3, gt=0, le=5, description="Width of the band around target_bar (load/unload points)."
    )
    receiver_m3: float = Field(
        default=2.0, gt=0, le=1000, description="Receiver + header volume, m3: turns dP/dt into air."
    )
    machines: tuple[ControlMachine, ...] = Field(min_length=1, max_length=10, description="The machines.")

    @model_validator(mode="after")
    def _band_above_minimum(self) -> ControlRoom:
        low = self.target_bar - self.band_bar / 2
        if low <= self.minimum_bar:
            raise ValueError(
                f"the band's low end target_bar - band_bar/2 = {low:g} bar must lie above minimum_bar "
                f"{self.minimum_bar:g} bar, or the machines' own band would let pressure reach the minimum"
            )
        devices = [m.device for m in self.machines]
        doubled = sorted({d for d in devices if devices.count(d) > 1})
        if doubled:
            raise ValueError(f"machine(s) listed twice in room {self.name}: {', '.join(doubled)}")
        return self

    @property
    def load_bar(self) -> float:
        return round(self.target_bar - self.band_bar / 2, 2)

    @property
    def unload_bar(self) -> float:
        return round(self.target_bar + self.band_bar / 2, 2)


class ControlConfig(_Strict):
    """Compressor-room sequencing. `mode: off` (the default) computes nothing and writes nothing."""

    mode: ControlMode = Field(
        default="off",
        description="off; advise (publishes what it would do); dry-run (logs every write it would make, "
        "makes none); active (writes, only to devices with writes_enabled: true).",
    )
    cycle_s: float = Field(
        default=5.0, ge=1, le=60, description="Seconds between decisions; the heartbeat is written each."
    )
    heartbeat_timeout_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="Written to each machine: without a heartbeat change for this long it goes local.",
    )
    stale_after_s: float = Field(
        default=15.0, gt=0, le=600, description="Header pressure older than this is stale: hold and alarm."
    )
    max_commands_per_minute: int = Field(
        default=12, ge=1, le=600, description="Commands (not heartbeats) per minute; more are deferred."
    )
    switch_saving_share: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="Change a feasible combination at once only for one that saves at least this share "
        "of power.",
    )
    switch_after_s: float = Field(
        default=900.0,
        ge=0,
        le=86400,
        description="A combination that saves less than switch_saving_share, but more than 5 %, is taken "
        "once it has been the better one for this long.",
    )
    capacity_margin: float = Field(
        default=0.1, ge=0, le=1, description="Capacity kept above the estimated demand, as a share of it."
    )
    demand_window_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="The room is sized for the highest demand estimate of this window: a machine that "
        "trips takes its air out of the estimate, not out of the site's demand.",
    )
    anticipation_s: float = Field(
        default=20.0,
        ge=0,
        le=600,
        description="Header pressure projected this far ahead at its present rate; below the minimum "
        "counts as low pressure (a start takes seconds: act before the minimum, not at it).",
    )
    rooms: tuple[ControlRoom, ...] = Field(default=(), max_length=20, description="Compressor rooms.")

    @model_validator(mode="after")
    def _heartbeat_outlives_a_cycle(self) -> ControlConfig:
        if self.heartbeat_timeout_s < 3 * self.cycle_s:
            raise ValueError(
                f"heartbeat_timeout_s {self.heartbeat_timeout_s} must be at least 3 cycles "
                f"(3 x cycle_s = {3 * self.cycle_s:g} s), or one late cycle hands the machines back"
            )
        if self.mode != "off" and not self.rooms:
            raise ValueError(f"mode {self.mode} needs at least one room")
        return self
