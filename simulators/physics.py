"""Device physics for simulated days, vectorised over the day's time steps (and over days).

Within a step every electrical load draws constant power. The compressor room is the time-stepped
engine of `simulators.airroom` (step `air.dt_s`), run for all requested days as one batch, each day
from the same canonical start state after a short warm-up; per physics step it yields each machine's
energy, air, loaded/running seconds, cycles and starts, and the room's pressure, leak and process air,
plus (when traced) what every engine step did, so a gauge at any instant and the exact integral of
power up to it are known. Meters show the step-average power of what they measure, and their counters
integrate exactly that; at step boundaries meter and compressor energies agree exactly.

The retrofit switches air-system parameters per day; evaluating the same day with `retrofit=False`
(same random streams) gives the counterfactual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from simulators.airroom import ATM_BAR, AirRoom, MachineParams, RoomRecord, Sequencer, SequencerParams
from simulators.environment import (
    DayEffects,
    FloatArray,
    day_effects,
    day_rng,
    line_states,
    local_days,
    outdoor_temperature_c,
    output_share,
    production_level,
)
from simulators.scenario import AirSystem, LoadSpec, Scenario

__all__ = [
    "ATM_BAR",
    "AirDay",
    "CompressorSteps",
    "DayBatch",
    "DaySteps",
    "air_machines",
    "build_room",
    "compute_day",
    "compute_days",
    "day_production",
]

_PF_LOADED = 0.87
_PF_UNLOADED = 0.45
WARMUP_S = 900.0  # each day's room starts this long before midnight from the canonical state


@dataclass(frozen=True)
class CompressorSteps:
    """One machine over one day, per physics step (arrays of n steps)."""

    kwh: FloatArray
    loaded_kwh: FloatArray
    running_s: FloatArray
    loaded_s: FloatArray
    air_m3: FloatArray  # true free air delivered
    load_cycles: FloatArray
    starts: FloatArray
    blowdown_kwh: FloatArray  # loaded power spent refilling the sump after unloads
    step_s: int

    def mean_kw(self) -> FloatArray:
        return self.kwh * (3600.0 / self.step_s)

    def mean_kvar(self) -> FloatArray:
        tan_l, tan_u = math.tan(math.acos(_PF_LOADED)), math.tan(math.acos(_PF_UNLOADED))
        return (self.loaded_kwh * tan_l + (self.kwh - self.loaded_kwh) * tan_u) * (3600.0 / self.step_s)

    def mean_flow_m3min(self) -> FloatArray:
        return self.air_m3 * (60.0 / self.step_s)


@dataclass(frozen=True)
class AirDay:
    """The room over one day: truth per physics step and, when traced, per engine step."""

    dt_s: float
    leak_m3: FloatArray
    process_m3: FloatArray
    pressure_mean_bar: FloatArray
    pressure_min_bar: FloatArray
    pressure_max_bar: FloatArray
    load_bar: FloatArray  # per machine: the setpoints in force (local band or the sequencer's)
    unload_bar: FloatArray
    target_bar: FloatArray
    sequenced: bool
    trace: dict[str, npt.NDArray[np.generic]] | None  # pressure_bar [n], mode/power_kw/flow_m3min [n, M]


@dataclass(frozen=True)
class DaySteps:
    """Everything the devices need for one day of steps starting at `t0` (epoch seconds)."""

    t0: float
    step_s: int
    temperature_c: FloatArray
    level: FloatArray  # production level achieved: the plan x the share of lines running
    units: FloatArray  # units produced per step
    rejects: FloatArray
    load_kw: dict[str, FloatArray]
    load_kvar: dict[str, FloatArray]
    compressors: dict[str, CompressorSteps]
    voltage_v: FloatArray  # per-step phase-to-neutral voltage factor x nominal
    frequency_hz: FloatArray
    air: AirDay | None = None

    @property
    def n_steps(self) -> int:
        return len(self.level)

    def element_kw(self, name: str) -> FloatArray:
        if name in self.load_kw:
            return self.load_kw[name]
        return self.compressors[name].mean_kw()

    def element_kvar(self, name: str) -> FloatArray:
        if name in self.load_kvar:
            return self.load_kvar[name]
        return self.compressors[name].mean_kvar()


@dataclass(frozen=True)
class _DayInputs:
    t0: float
    temperature_c: FloatArray
    level: FloatArray
    units: FloatArray
    rejects: FloatArray
    load_kw: dict[str, FloatArray]
    load_kvar: dict[str, FloatArray]
    voltage_v: FloatArray
    frequency_hz: FloatArray
    retrofit: bool  # the retrofit is in force on this day (actual site, after the date)


def compute_day(scenario: Scenario, day_index: int, *, retrofit: bool, trace: bool = False) -> DaySteps:
    return compute_days(scenario, [(day_index, retrofit)], trace=trace).day(0)


class DayBatch:
    """Days whose compressor rooms were simulated together; `day(i)` builds the i-th day's steps on
    demand (a year of days at once would not fit in memory)."""

    def __init__(
        self,
        scenario: Scenario,
        days: list[tuple[int, bool]],
        room: AirRoom | None,
        record: RoomRecord | None,
        per_record: int,
    ) -> None:
        self.scenario = scenario
        self.days = days
        self._room = room
        self._record = record
        self._per_record = per_record

    def __len__(self) -> int:
        return len(self.days)

    def day(self, member: int) -> DaySteps:
        index, retrofit = self.days[member]
        inputs = _day_inputs(self.scenario, index, retrofit)
        if self._room is None or self._record is None:
            return _day_steps(self.scenario, inputs, {}, None)
        compressors, air = _air_day(
            self.scenario, self._room, self._record, member, inputs.retrofit, self._per_record
        )
        return _day_steps(self.scenario, inputs, compressors, air)


def compute_days(
    scenario: Scenario, days: list[tuple[int, bool]], *, trace: bool = False, record_s: int | None = None
) -> DayBatch:
    """(day index, retrofit) pairs, the air rooms of all of them simulated as one batch. `record_s`
    (a multiple of step_s dividing a day): how often the room's counters are kept; coarser than
    step_s spreads each record evenly over its steps (for the history, which sums them anyway)."""
    record_s = record_s or scenario.step_s
    if record_s % scenario.step_s or 86400 % record_s:
        raise ValueError(f"record_s {record_s} must be a multiple of step_s {scenario.step_s} within a day")
    per_record = record_s // scenario.step_s
    if scenario.air is None or not days:
        return DayBatch(scenario, days, None, None, per_record)
    active = np.array([_retrofit_on(scenario, index, retrofit) for index, retrofit in days])
    demand = np.stack([_process_for_day(scenario, index) for index, _ in days])
    room = build_room(scenario, active)
    record = run_day(scenario, room, demand, record_s=record_s, trace=trace)
    return DayBatch(scenario, days, room, record, per_record)


def _retrofit_on(scenario: Scenario, day_index: int, retrofit: bool) -> bool:
    t0 = scenario.start.timestamp() + day_index * 86400.0
    return retrofit and _retrofit_active(scenario, np.array([t0]))


def _day_levels(scenario: Scenario, day_index: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    t0 = scenario.start.timestamp() + day_index * 86400.0
    n = 86400 // scenario.step_s
    t = t0 + np.arange(n, dtype=np.float64) * scenario.step_s
    local = local_days(scenario, t + scenario.step_s / 2)
    hours = np.mod(local, 1.0) * 24.0
    day = datetime.fromtimestamp(t0 + 43200, scenario.tz).date()
    return t, local, production_level(scenario, day, day_index, hours)


def _day_variation(
    scenario: Scenario, day_index: int, local: FloatArray
) -> tuple[npt.NDArray[np.float64], DayEffects]:
    """The production lines' run states ([lines, n] of 0/1) and the day's unmodelled factors."""
    t0 = scenario.start.timestamp() + day_index * 86400.0
    day = datetime.fromtimestamp(t0 + 43200, scenario.tz).date()
    hours = np.mod(local, 1.0) * 24.0
    return line_states(scenario, day, day_index, hours), day_effects(scenario, day_index)


def _process_for_day(scenario: Scenario, day_index: int) -> FloatArray:
    assert scenario.air is not None
    _, local, level = _day_levels(scenario, day_index)
    lines, effects = _day_variation(scenario, day_index, local)
    air_level = level * output_share(lines) * effects.mix  # process air follows the output and its mix
    return _process_demand(scenario.air, air_level, day_rng(scenario.seed, day_index, 3))


def day_production(scenario: Scenario, day_index: int) -> tuple[FloatArray, FloatArray]:
    """(units produced, outdoor temperature degC) per physics step of one day, as the production
    counter and the temperature sensor of `compute_day` see them (the same random streams)."""
    inputs = _day_inputs(scenario, day_index, retrofit=False)
    return inputs.units, inputs.temperature_c


def _day_steps(
    scenario: Scenario, day: _DayInputs, compressors: dict[str, CompressorSteps], air: AirDay | None
) -> DaySteps:
    return DaySteps(
        day.t0,
        scenario.step_s,
        day.temperature_c,
        day.level,
        day.units,
        day.rejects,
        day.load_kw,
        day.load_kvar,
        compressors,
        day.voltage_v,
        day.frequency_hz,
        air,
    )


def _day_inputs(scenario: Scenario, day_index: int, retrofit: bool) -> _DayInputs:
    t, local, level = _day_levels(scenario, day_index)
    lines, effects = _day_variation(scenario, day_index, local)
    output = level * output_share(lines)  # what the plant makes: the running lines' share of the plan
    t0 = float(t[0])
    n = len(t)
    hours = np.mod(local, 1.0) * 24.0
    temperature = outdoor_temperature_c(scenario.weather, scenario.seed, local)
    rng = day_rng(scenario.seed, day_index, 2)
    units = scenario.production_units_per_h * output * scenario.step_s / 3600.0
    units = units * np.clip(rng.normal(1.0, 0.05, n), 0.5, 1.5)
    rejects = units * np.clip(rng.normal(scenario.reject_fraction, scenario.reject_fraction / 4, n), 0, 1)
    load_kw, load_kvar = {}, {}
    efficient = retrofit and _retrofit_active(scenario, t)
    line_index = {name: i for i, name in enumerate(scenario.variation.lines)}
    for index, load in enumerate(scenario.loads):
        # A line draws its production power only while it runs, times the day's product mix; the rest
        # of the plant (lighting, utilities) follows the plan whatever the lines do.
        line = line_index.get(load.name)
        drive = level if line is None else level * lines[line] * effects.mix
        kw = _load_kw(load, drive, temperature, day_rng(scenario.seed, day_index, 100 + index), effects)
        if efficient and scenario.retrofit is not None:
            kw = kw * (1.0 - scenario.retrofit.load_savings.get(load.name, 0.0))
        load_kw[load.name] = kw
        load_kvar[load.name] = kw * np.tan(np.arccos(_load_power_factor(load, kw, level)))
    grid = day_rng(scenario.seed, day_index, 4)
    voltage = scenario.voltage_ln_v * (
        1 + 0.015 * np.sin(2 * np.pi * (hours - 4) / 24) + grid.normal(0, 0.003, n)
    )
    frequency = scenario.frequency_hz + grid.normal(0, 0.015, n)
    return _DayInputs(
        t0, temperature, output, units, rejects, load_kw, load_kvar, voltage, frequency, efficient
    )


def _process_demand(air: AirSystem, level: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Process air (m3/min of free air) per physics step; leaks are the room's own (pressure-driven)."""
    noise: FloatArray = np.clip(rng.normal(1.0, 0.06, len(level)), 0.6, 1.4)
    return (air.base_demand_m3min + air.demand_m3min * level) * noise


# ---------------------------------------------------------------- the compressor room


def air_machines(air: AirSystem) -> MachineParams:
    specs = air.compressors

    def column(name: str) -> FloatArray:
        return np.array([float(getattr(c, name)) for c in specs])

    return MachineParams(
        names=tuple(c.name for c in specs),
        is_vsd=np.array([c.kind == "vsd" for c in specs]),
        rated_kw=column("rated_kw"),
        fad_m3min=column("fad_m3min"),
        rated_bar=column("rated_bar"),
        unload_fraction=column("unload_fraction"),
        min_speed=column("min_speed"),
        vsd_fixed_fraction=column("vsd_fixed_fraction"),
        run_on_s=column("run_on_s"),
        min_run_s=column("min_run_s"),
        max_starts_per_h=np.array([c.max_starts_per_h for c in specs], np.int64),
        start_s=column("start_s"),
        sump_fill_s=column("sump_fill_s"),
        stop_delay_s=column("stop_delay_s"),
        remote_default=np.array([c.remote_enabled for c in specs]),
    )


def _bands(scenario: Scenario, active: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Per room [B, 2]: the band of the first machine of the local cascade (lowered by the retrofit
    when it lowers the band without a sequencer)."""
    air = scenario.air
    assert air is not None
    fix = scenario.retrofit
    before = np.array(air.pressure_band_bar)
    after = np.array(fix.pressure_band_bar) if fix and fix.pressure_band_bar else before
    lowered = active & (fix is not None and not fix.sequencing)
    band = np.where(lowered[:, None], after, before)
    return band[:, 0], band[:, 1]


def sequencer_params(scenario: Scenario) -> SequencerParams:
    """The retrofit's master controller: VSDs first (the largest trims, the others run flat out),
    then fixed-speed machines, smallest first (steps the trim can cover), in the retrofit's band."""
    air, fix = scenario.air, scenario.retrofit
    assert air is not None
    band = fix.pressure_band_bar if fix and fix.pressure_band_bar else air.pressure_band_bar
    indexed = list(enumerate(air.compressors))
    order = sorted(
        indexed,
        key=lambda item: (item[1].kind != "vsd", (-1 if item[1].kind == "vsd" else 1) * item[1].fad_m3min),
    )
    return SequencerParams(order=tuple(i for i, _ in order), low_bar=band[0], high_bar=band[1])


def build_room(scenario: Scenario, active: npt.NDArray[np.bool_]) -> AirRoom:
    """The room of each day of a batch at the canonical start state (t = -WARMUP_S): `active` says
    per room whether the retrofit is in force."""
    air = scenario.air
    assert air is not None
    fix = scenario.retrofit
    machines = air_machines(air)
    low, high = _bands(scenario, active)
    steps = np.arange(machines.count) * air.cascade_step_bar
    load = low[:, None] - steps
    unload = high[:, None] - steps
    for m, spec in enumerate(air.compressors):  # a machine's own band, where the scenario sets one
        if spec.band_bar is not None:
            load[:, m], unload[:, m] = spec.band_bar
    leak_after = fix.leak_m3min if fix and fix.leak_m3min is not None else air.leak_m3min
    sequencer = None
    if fix is not None and fix.sequencing and active.any():
        sequencer = Sequencer(sequencer_params(scenario), active, machines)
    return AirRoom(
        machines,
        volume_m3=air.receiver_m3,
        leak_ref_m3min=np.where(active, leak_after, air.leak_m3min),
        leak_ref_bar=float(np.mean(air.pressure_band_bar)),
        power_per_bar=air.power_per_bar,
        local_load_bar=load,
        local_unload_bar=unload,
        local_target_bar=(load + unload) / 2,
        start_pressure_bar=(low + high) / 2,
        t0=-WARMUP_S,
        dt_s=air.dt_s,
        sequencer=sequencer,
    )


def run_day(
    scenario: Scenario, room: AirRoom, demand: FloatArray, *, record_s: int, trace: bool
) -> RoomRecord:
    """Warm the room up on the day's first demand, then run the day (counters from midnight)."""
    air = scenario.air
    assert air is not None
    per_record = round(record_s / air.dt_s)
    room.run(demand[:, :1], round(WARMUP_S / air.dt_s))
    room.reset_counters()
    return room.run(demand, per_record, trace=trace, demand_per_record=record_s // scenario.step_s)


def _air_day(
    scenario: Scenario, room: AirRoom, record: RoomRecord, member: int, active: bool, per_record: int
) -> tuple[dict[str, CompressorSteps], AirDay]:
    def spread(values: FloatArray) -> FloatArray:
        return values if per_record == 1 else np.repeat(values / per_record, per_record, axis=0)

    def diff(array: FloatArray) -> FloatArray:
        return spread(np.diff(array[member], axis=0))

    def held(array: FloatArray) -> FloatArray:
        return array[member] if per_record == 1 else np.repeat(array[member], per_record)

    energy, loaded_kwh = diff(record.energy_kwh), diff(record.loaded_kwh)
    running, loaded = diff(record.running_s), diff(record.loaded_s)
    air_m3, cycles = diff(record.air_m3), diff(record.load_cycles)
    starts, blowdown = diff(record.starts), diff(record.blowdown_kwh)
    compressors = {
        name: CompressorSteps(
            energy[:, m],
            loaded_kwh[:, m],
            running[:, m],
            loaded[:, m],
            air_m3[:, m],
            cycles[:, m],
            starts[:, m],
            blowdown[:, m],
            scenario.step_s,
        )
        for m, name in enumerate(room.machines.names)
    }
    sequenced = room.sequencer is not None and bool(room.sequencer.active[member])
    if sequenced:
        c = room.controls
        load, unload, target = c.load_bar[member], c.unload_bar[member], c.target_bar[member]
    else:
        load, unload = room.local_load_bar[member], room.local_unload_bar[member]
        target = room.local_target_bar[member]
    trace = None if record.trace is None else {k: v[member] for k, v in record.trace.items()}
    air = AirDay(
        room.dt_s,
        spread(np.diff(record.leak_m3[member])),
        spread(np.diff(record.process_m3[member])),
        held(record.pressure_mean_bar),
        held(record.pressure_min_bar),
        held(record.pressure_max_bar),
        load.copy(),
        unload.copy(),
        target.copy(),
        sequenced,
        trace,
    )
    return compressors, air


def _retrofit_active(scenario: Scenario, t: FloatArray) -> bool:
    # Retrofits take effect at local midnight; a day is either wholly before or wholly after.
    if scenario.retrofit is None:
        return False
    start = datetime.combine(scenario.retrofit.date, datetime.min.time(), scenario.tz).timestamp()
    return bool(t[0] >= start)


def _load_kw(
    load: LoadSpec,
    level: FloatArray,
    temperature: FloatArray,
    rng: np.random.Generator,
    effects: DayEffects | None = None,
) -> FloatArray:
    cooling = load.cooling_kw_per_c * np.maximum(0.0, temperature - load.cooling_balance_c)
    heating = load.heating_kw_per_c * np.maximum(0.0, load.heating_balance_c - temperature)
    effects = effects or DayEffects(1.0, 1.0, 1.0)
    weather = (cooling + heating) * effects.weather
    kw = load.base_kw * effects.base + load.production_kw * level + weather
    return np.maximum(0.0, kw * (1 + rng.normal(0.0, load.noise, len(level))))


def _load_power_factor(load: LoadSpec, kw: FloatArray, level: FloatArray) -> FloatArray:
    # Motor-dominated loads have a poorer power factor at light load.
    full = load.base_kw + load.production_kw + 20 * (load.cooling_kw_per_c + load.heating_kw_per_c)
    share = np.clip(kw / full, 0.0, 1.0) if full > 0 else np.ones_like(level)
    return np.clip(load.power_factor - 0.15 * (1 - share), 0.5, 1.0)
