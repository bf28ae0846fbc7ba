"""Scenario files: the simulated factory, described in YAML and checked strictly.

A scenario names the site's calendar, weather, electrical loads, compressed-air system, an optional
retrofit, and the devices that are served over Modbus (each with a profile and a unit id, grouped into
buses). Shipped scenarios live in `simulators/scenarios/<name>.yaml`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.errors import ConfigError, ConfigIssue

__all__ = [
    "AirSystem",
    "Bus",
    "Calendar",
    "CompressorSpec",
    "DeviceSpec",
    "FaultSpec",
    "LoadSpec",
    "Retrofit",
    "Scenario",
    "Shift",
    "Variation",
    "Weather",
    "load_scenario",
    "scenario_path",
    "shipped_scenarios",
]

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shift(_Strict):
    start: time = Field(description="Local start time.")
    end: time = Field(description="Local end time; 00:00 means midnight at the end of the day.")
    level: float = Field(ge=0, le=1.5, description="Production level during the shift (1 = nominal).")


class Calendar(_Strict):
    shifts: tuple[Shift, ...] = Field(min_length=1)
    night_level: float = Field(default=0.0, ge=0, le=1, description="Production level outside shifts.")
    working_weekdays: tuple[int, ...] = Field(
        default=(0, 1, 2, 3, 4, 5), description="ISO weekday numbers minus one (0 = Monday)."
    )
    weekend_level: float = Field(default=0.0, ge=0, le=1, description="Shift level factor on days off.")
    holidays: tuple[tuple[date, date], ...] = Field(
        default=(), description="Inclusive date ranges with no production."
    )
    daily_variation: float = Field(
        default=0.05, ge=0, le=0.5, description="Standard deviation of the day-to-day order-book factor."
    )


class Weather(_Strict):
    """Outdoor dry-bulb temperature: annual + daily sinusoids plus smooth day-to-day weather."""

    annual_mean_c: float = 18.3
    annual_amplitude_c: float = Field(default=11.0, ge=0)
    hottest_day_of_year: int = Field(default=205, ge=1, le=366)
    daily_amplitude_c: float = Field(default=3.5, ge=0)
    hottest_hour: float = Field(default=15.0, ge=0, lt=24)
    day_to_day_sd_c: float = Field(default=2.0, ge=0)


class Variation(_Strict):
    """Day-to-day realism: what a real site's daily baseline (production + temperature) cannot explain.

    All zero (the default) is the regular site of old, whose daily baseline fits almost exactly. Every
    effect is drawn per day from the scenario's seed, so the counterfactual (no retrofit) sees it too.
    """

    lines: tuple[str, ...] = Field(
        default=(), description="Loads that are production lines: they stop on their own (below)."
    )
    line_stop_prob: float = Field(
        default=0.0, ge=0, le=1, description="Per line and working day: chance of a stop of half a shift."
    )
    line_day_prob: float = Field(
        default=0.0, ge=0, le=1, description="Per line and working day: chance it stands all day."
    )
    mix_sd: float = Field(
        default=0.0, ge=0, le=0.3, description="Product mix: day-to-day relative sd of energy per unit."
    )
    base_day_sd: float = Field(
        default=0.0, ge=0, le=0.3, description="Unmodelled day-to-day relative sd of always-on loads."
    )
    base_drift_sd: float = Field(
        default=0.0, ge=0, le=0.3, description="Slow (weeks) unmodelled relative drift of always-on loads."
    )
    weather_day_sd: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="Unmodelled weather (humidity, sun): day-to-day relative sd of cooling/heating power.",
    )


class LoadSpec(_Strict):
    """One electrical load (a line, a chiller plant, lighting): power = base + production + weather."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    base_kw: float = Field(default=0.0, ge=0, description="Always-on power.")
    production_kw: float = Field(default=0.0, ge=0, description="Extra power at production level 1.")
    cooling_kw_per_c: float = Field(default=0.0, ge=0, description="kW per degree above cooling_balance_c.")
    cooling_balance_c: float = 18.0
    heating_kw_per_c: float = Field(default=0.0, ge=0, description="kW per degree below heating_balance_c.")
    heating_balance_c: float = 12.0
    power_factor: float = Field(default=0.9, gt=0, le=1, description="At full load; lower at light load.")
    noise: float = Field(default=0.03, ge=0, le=0.5, description="Relative sd of minute-to-minute noise.")


class CompressorSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["load_unload", "vsd"]
    rated_kw: float = Field(gt=0, description="Package input power at full load and rated pressure.")
    fad_m3min: float = Field(gt=0, description="Free air delivery at full load, m3/min.")
    rated_bar: float = Field(default=7.5, gt=0, description="Pressure at which rated_kw/fad are given.")
    unload_fraction: float = Field(default=0.22, ge=0.1, le=0.5, description="Unloaded / loaded power.")
    min_speed: float = Field(default=0.3, gt=0, lt=1, description="VSD: lowest flow fraction.")
    vsd_fixed_fraction: float = Field(
        default=0.12, ge=0, lt=1, description="VSD: power at zero flow as a share of rated (curve intercept)."
    )
    run_on_s: float = Field(default=300.0, ge=0, description="Unloaded run before the machine stops itself.")
    min_run_s: float = Field(default=300.0, ge=0, description="Minimum run time after a start.")
    max_starts_per_h: int = Field(default=6, ge=1, le=60, description="Motor starts allowed in any hour.")
    start_s: float = Field(default=10.0, ge=0, description="Star-delta / soft start: motor runs, no air.")
    sump_fill_s: float = Field(
        default=3.0,
        ge=0,
        description="Loaded power without air after each load: refilling the sump vented "
        "on unload (the blow-down loss).",
    )
    stop_delay_s: float = Field(default=30.0, ge=0, description="Unloaded run before a commanded stop.")
    remote_enabled: bool = Field(
        default=False, description="Panel key at 'remote' when the simulator starts."
    )
    band_bar: tuple[float, float] | None = Field(
        default=None,
        description="The machine's own [load, unload] pressure, bar (a VSD holds the middle); "
        "default: the room's cascade (pressure_band_bar, each machine cascade_step_bar lower).",
    )

    @model_validator(mode="after")
    def _band(self) -> CompressorSpec:
        if self.band_bar is not None and not 0 < self.band_bar[0] < self.band_bar[1]:
            raise ValueError(f"band_bar must be [load, unload] with 0 < load < unload, got {self.band_bar}")
        return self


class AirSystem(_Strict):
    receiver_m3: float = Field(gt=0, description="Receiver + pipework volume; sets the load/unload cycle.")
    pressure_band_bar: tuple[float, float] = Field(
        description="The first machine's band: it unloads at the high, loads at the low value."
    )
    cascade_step_bar: float = Field(
        default=0.1,
        ge=0,
        le=0.5,
        description="Local cascade: each machine's band this much below the previous.",
    )
    dt_s: float = Field(default=1.0, gt=0, le=10, description="Time step of the compressor-room physics.")
    demand_m3min: float = Field(ge=0, description="Process air demand at production level 1.")
    base_demand_m3min: float = Field(default=0.0, ge=0, description="Process air needed around the clock.")
    demand_ramp_s: int = Field(
        default=0,
        ge=0,
        le=7200,
        description="Live/second-by-second demand (simulators.airdemand): a production level change "
        "spreads over this long, as lines start one after another (0: a step).",
    )
    leak_m3min: float = Field(ge=0, description="Leak flow at the middle of the pressure band.")
    compressors: tuple[CompressorSpec, ...] = Field(min_length=1)
    power_per_bar: float = Field(default=0.07, ge=0, le=0.2, description="Power increase per bar.")

    @model_validator(mode="after")
    def _check(self) -> AirSystem:
        low, high = self.pressure_band_bar
        if not 0 < low < high:
            raise ValueError(f"pressure_band_bar must be [low, high] with 0 < low < high, got {low}, {high}")
        if not (60 / self.dt_s).is_integer():
            raise ValueError(f"dt_s {self.dt_s} must divide a minute")
        return self


class Retrofit(_Strict):
    """From `date` on: compressor sequencing + leak repair + pressure-band reduction, and/or an
    efficiency measure that cuts named loads' power by a fixed share (lighting, HVAC, motors)."""

    date: date
    sequencing: bool = Field(
        default=True,
        description="Master controller: VSDs trim, fixed-speed machines base load, staged on/off.",
    )
    load_savings: dict[str, float] = Field(
        default_factory=dict, description="Load name -> share of its power saved (0-0.9), e.g. {hvac: 0.15}."
    )
    leak_m3min: float | None = Field(default=None, ge=0, description="Leak flow after repair.")
    pressure_band_bar: tuple[float, float] | None = None


class FaultSpec(_Strict):
    """A fault active from the start of serving (see simulators.faults.Fault for the kinds)."""

    kind: Literal["timeout", "exception", "offline", "slow", "corrupt", "rollover", "reset", "glitch"]
    code: int = Field(default=4, ge=1, le=255, description="exception: the Modbus exception code.")
    delay_s: float = Field(default=0.5, ge=0, description="slow: added response delay.")
    duration_s: float | None = Field(default=None, gt=0, description="offline: real seconds, then back.")
    point: str | None = Field(default=None, description="rollover/reset/glitch: counter or gauge point.")
    value: float | None = Field(default=None, description="glitch: value returned once (default 0).")
    margin: float = Field(default=1.0, gt=0, description="rollover: engineering units left before the wrap.")


class DeviceSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    unit_id: int = Field(ge=1, le=247)
    profile: str = Field(description="Profile id 'vendor/model' under edge_configs/profiles.")
    kind: Literal["meter", "compressor", "production_counter", "sensor"] = Field(
        description="sensor: a transmitter serving the scenario's weather (outdoor temperature, humidity) "
        "and the compressor room's header pressure, whichever its profile has."
    )
    measures: tuple[str, ...] = Field(
        default=(),
        description="meter: names of loads/compressors it measures; ['site'] for the main meter.",
    )
    compressor: str | None = Field(default=None, description="compressor: the CompressorSpec name.")
    initial_kwh: float = Field(default=0.0, ge=0, description="Counter reading at the scenario start.")
    faults: tuple[FaultSpec, ...] = ()


class Bus(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    transport: Literal["tcp", "rtu_over_tcp", "serial"]
    baudrate: int | None = Field(default=None, gt=0, description="Simulate RTU wire timing at this baud.")
    devices: tuple[DeviceSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Bus:
        ids = [d.unit_id for d in self.devices]
        if len(ids) != len(set(ids)):
            raise ValueError(f"bus {self.name}: duplicate unit ids {sorted(ids)}")
        return self


class Scenario(_Strict):
    name: str
    description: str = ""
    seed: int = 0
    start: datetime = Field(description="Scenario epoch (aware): counters hold their initial values here.")
    utc_offset_h: float = Field(default=8.0, description="Local time of the site (calendar, weather).")
    step_s: int = Field(default=60, ge=1, le=3600, description="Physics time step (must divide a day).")
    voltage_ln_v: float = Field(default=220.0, gt=0)
    frequency_hz: float = Field(default=50.0, gt=0)
    loss_fraction: float = Field(default=0.015, ge=0, lt=0.2, description="Transformer/cable losses (main).")
    production_units_per_h: float = Field(default=0.0, ge=0, description="Units per hour at level 1.")
    reject_fraction: float = Field(default=0.02, ge=0, lt=1)
    calendar: Calendar
    weather: Weather = Weather()
    loads: tuple[LoadSpec, ...] = ()
    air: AirSystem | None = None
    retrofit: Retrofit | None = None
    variation: Variation = Variation()
    buses: tuple[Bus, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.start.tzinfo is None:
            raise ValueError("start must carry a UTC offset, e.g. 2024-01-01T00:00:00+08:00")
        if 86400 % self.step_s:
            raise ValueError(f"step_s {self.step_s} does not divide a day")
        if self.air is not None and not (self.step_s / self.air.dt_s).is_integer():
            raise ValueError(f"step_s {self.step_s} must be a multiple of air.dt_s {self.air.dt_s}")
        if self.retrofit is not None and self.air is None and not self.retrofit.load_savings:
            raise ValueError("a retrofit needs an air system or load_savings")
        if self.retrofit is not None:
            loads = {load.name for load in self.loads}
            for name, share in self.retrofit.load_savings.items():
                if name not in loads or not 0 <= share <= 0.9:
                    raise ValueError(f"retrofit.load_savings: {name!r}={share} needs a known load and 0..0.9")
        unknown_lines = [name for name in self.variation.lines if name not in {x.name for x in self.loads}]
        if unknown_lines:
            raise ValueError(f"variation.lines: unknown loads {unknown_lines}")
        self._check_devices()
        return self

    def _check_devices(self) -> None:
        loads = {load.name for load in self.loads}
        compressors = {c.name for c in self.air.compressors} if self.air else set()
        names: set[str] = set()
        for dev in self.devices:
            if dev.name in names:
                raise ValueError(f"duplicate device name {dev.name!r}")
            names.add(dev.name)
            if dev.kind == "meter":
                unknown = [m for m in dev.measures if m != "site" and m not in loads | compressors]
                if unknown or not dev.measures:
                    raise ValueError(f"device {dev.name}: measures unknown loads/compressors {unknown}")
            if dev.kind == "compressor" and dev.compressor not in compressors:
                raise ValueError(
                    f"device {dev.name}: compressor {dev.compressor!r} is not in air.compressors"
                )

    @property
    def devices(self) -> tuple[DeviceSpec, ...]:
        return tuple(d for bus in self.buses for d in bus.devices)

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_h))

    def device(self, name: str) -> DeviceSpec:
        for dev in self.devices:
            if dev.name == name:
                return dev
        raise KeyError(f"scenario {self.name}: no device {name!r}")


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_path(name_or_path: str | Path) -> Path:
    """A path as given, or the shipped scenario of that name."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    shipped = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not shipped.exists():
        raise ConfigError(
            [ConfigIssue(str(name_or_path), None, "", f"no such scenario; shipped: {shipped_scenarios()}")]
        )
    return shipped


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and check a scenario; every problem is reported with the file and field path."""
    path = scenario_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([ConfigIssue(str(path), None, "", str(exc))]) from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(str(path), None, ".".join(str(part) for part in err["loc"]), err["msg"])
            for err in exc.errors()
        ]
        raise ConfigError(issues) from exc
