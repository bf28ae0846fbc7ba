"""Device physics for one simulated day, vectorised over the day's time steps.

Within a step every load draws constant power. A compressor runs a whole step or not; while running
it does `cycles` identical load/unload cycles, loaded for the first `duty` share of each, so its
instantaneous power, state and pressure at any instant, and the exact integral of its power up to any
instant, follow in closed form. Meters show the step-average power of what they measure, and their
counters integrate exactly that; at step boundaries meter and compressor energies agree exactly.

The retrofit switches air-system parameters per step; evaluating the same day with `retrofit=False`
(same random streams) gives the counterfactual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

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
from simulators.scenario import AirSystem, CompressorSpec, LoadSpec, Scenario

__all__ = ["ATM_BAR", "CompressorSteps", "DaySteps", "compute_day", "loaded_seconds"]

ATM_BAR = 1.01325
_PF_LOADED = 0.87
_PF_UNLOADED = 0.45


@dataclass(frozen=True)
class CompressorSteps:
    running: FloatArray  # 1.0 while the motor runs for the whole step, else 0.0
    duty: FloatArray  # loaded share of each cycle
    cycles: FloatArray  # load/unload cycles per step (>= 1)
    loaded_kw: FloatArray
    unloaded_kw: FloatArray
    loaded_flow_m3min: FloatArray  # free air delivered while loaded
    band_low_bar: FloatArray
    band_high_bar: FloatArray

    def mean_kw(self) -> FloatArray:
        return self.running * (self.duty * self.loaded_kw + (1 - self.duty) * self.unloaded_kw)

    def mean_kvar(self) -> FloatArray:
        tan_l, tan_u = math.tan(math.acos(_PF_LOADED)), math.tan(math.acos(_PF_UNLOADED))
        return self.running * (
            self.duty * self.loaded_kw * tan_l + (1 - self.duty) * self.unloaded_kw * tan_u
        )

    def mean_flow_m3min(self) -> FloatArray:
        return self.running * self.duty * self.loaded_flow_m3min


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


def loaded_seconds(duty: float, cycles: float, step_s: float, into_step_s: float) -> float:
    """Seconds spent loaded in the first `into_step_s` seconds of a step."""
    cycle = step_s / cycles
    whole = np.floor(into_step_s / cycle)
    rest = into_step_s - whole * cycle
    return float(whole * duty * cycle + min(rest, duty * cycle))


def compute_day(scenario: Scenario, day_index: int, *, retrofit: bool) -> DaySteps:
    t0 = scenario.start.timestamp() + day_index * 86400.0
    n = 86400 // scenario.step_s
    t = t0 + np.arange(n, dtype=np.float64) * scenario.step_s
    mid = t + scenario.step_s / 2
    local = local_days(scenario, mid)
    hours = np.mod(local, 1.0) * 24.0
    day = datetime.fromtimestamp(t0 + 43200, scenario.tz).date()
    level = production_level(scenario, day, day_index, hours)
    lines = line_states(scenario, day, day_index, hours)
    effects = day_effects(scenario, day_index)
    output = level * output_share(lines)  # what the plant makes: the running lines' share of the plan
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
    compressors = {}
    if scenario.air is not None:
        active = np.full(n, retrofit and _retrofit_active(scenario, t))
        air_level = output * effects.mix  # process air follows the output and its mix
        compressors = _air_system(scenario, air_level, active, day_rng(scenario.seed, day_index, 3))
    grid = day_rng(scenario.seed, day_index, 4)
    voltage = scenario.voltage_ln_v * (
        1 + 0.015 * np.sin(2 * np.pi * (hours - 4) / 24) + grid.normal(0, 0.003, n)
    )
    frequency = scenario.frequency_hz + grid.normal(0, 0.015, n)
    return DaySteps(
        t0,
        scenario.step_s,
        temperature,
        output,
        units,
        rejects,
        load_kw,
        load_kvar,
        compressors,
        voltage,
        frequency,
    )


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


def _air_system(
    scenario: Scenario, level: FloatArray, retrofit: FloatArray, rng: np.random.Generator
) -> dict[str, CompressorSteps]:
    air = scenario.air
    assert air is not None  # checked by the caller
    fix = scenario.retrofit
    band_before = np.array(air.pressure_band_bar)
    band_after = np.array(fix.pressure_band_bar) if fix and fix.pressure_band_bar else band_before
    low = np.where(retrofit, band_after[0], band_before[0])
    high = np.where(retrofit, band_after[1], band_before[1])
    mid = (low + high) / 2
    leak_after = fix.leak_m3min if fix and fix.leak_m3min is not None else air.leak_m3min
    # Leaks are choked flow through fixed holes: proportional to absolute pressure.
    leak_ref = np.where(retrofit, leak_after, air.leak_m3min)
    leak = leak_ref * (mid + ATM_BAR) / (band_before.mean() + ATM_BAR)
    process = (air.base_demand_m3min + air.demand_m3min * level) * np.clip(
        rng.normal(1.0, 0.06, len(level)), 0.6, 1.4
    )
    demand = process + leak
    cascade = _cascade_fractions(air, demand)
    sequenced = _sequenced_fractions(air, demand) if fix and fix.sequencing else cascade
    result = {}
    for spec in air.compressors:
        run_c, flow_c = cascade[spec.name]
        run_s, flow_s = sequenced[spec.name]
        running = np.where(retrofit, run_s, run_c)
        fraction = np.where(retrofit, flow_s, flow_c)
        result[spec.name] = _compressor_steps(spec, air, running, fraction, mid, low, high, scenario.step_s)
    return result


Allocation = dict[str, tuple[FloatArray, FloatArray]]  # name -> (running 0/1, flow fraction of FAD)


def _cascade_fractions(air: AirSystem, demand: FloatArray) -> Allocation:
    """Uncontrolled cascade: machines load in list order; `spare_running` more idle unloaded."""
    fads = np.array([c.fad_m3min for c in air.compressors])
    before = np.concatenate([[0.0], np.cumsum(fads)[:-1]])
    needed = np.searchsorted(np.cumsum(fads), demand, side="left") + 1
    out: Allocation = {}
    for index, spec in enumerate(air.compressors):
        fraction = np.clip((demand - before[index]) / spec.fad_m3min, 0.0, 1.0)
        running = (index < needed + air.spare_running).astype(np.float64)
        out[spec.name] = (running, fraction * running)
    return out


def _sequenced_fractions(air: AirSystem, demand: FloatArray) -> Allocation:
    """Master controller: fixed-speed machines at full load as base, VSDs trim the rest."""
    vsds = [c for c in air.compressors if c.kind == "vsd"]
    trim_capacity = sum(c.fad_m3min for c in vsds)
    remaining = demand.copy()
    out: Allocation = {}
    for spec in air.compressors:
        if spec.kind == "vsd":
            continue
        needed = remaining > 0.9 * trim_capacity if vsds else remaining > 0
        flow = np.where(needed, np.minimum(spec.fad_m3min, remaining), 0.0)
        remaining = remaining - flow
        out[spec.name] = (needed.astype(np.float64), flow / spec.fad_m3min)
    for position, spec in enumerate(vsds):
        needed = (remaining > 0) | (position == 0)
        flow = np.where(needed, np.clip(remaining, 0.0, spec.fad_m3min), 0.0)
        remaining = remaining - flow
        out[spec.name] = (needed.astype(np.float64), flow / spec.fad_m3min)
    return out


def _compressor_steps(
    spec: CompressorSpec,
    air: AirSystem,
    running: FloatArray,
    fraction: FloatArray,
    mid_bar: FloatArray,
    low: FloatArray,
    high: FloatArray,
    step_s: int,
) -> CompressorSteps:
    pressure_factor = 1 + air.power_per_bar * (mid_bar - spec.rated_bar)
    full_kw = spec.rated_kw * pressure_factor
    if spec.kind == "vsd":
        speed = np.maximum(fraction, spec.min_speed)
        duty = np.where(fraction >= spec.min_speed, 1.0, fraction / spec.min_speed)
        loaded_kw = full_kw * (spec.vsd_fixed_fraction + (1 - spec.vsd_fixed_fraction) * speed)
        loaded_flow = speed * spec.fad_m3min
    else:
        duty = fraction
        loaded_kw = full_kw
        loaded_flow = np.full_like(fraction, spec.fad_m3min)
    cycles = _cycles_per_step(air, loaded_flow, duty, high - low, step_s)
    return CompressorSteps(
        running=running,
        duty=np.where(running > 0, duty, 0.0),
        cycles=cycles,
        loaded_kw=loaded_kw,
        unloaded_kw=full_kw * spec.unload_fraction,
        loaded_flow_m3min=loaded_flow,
        band_low_bar=low,
        band_high_bar=high,
    )


def _cycles_per_step(
    air: AirSystem, loaded_flow: FloatArray, duty: FloatArray, band_bar: FloatArray, step_s: int
) -> FloatArray:
    # The receiver stores V * dp / p_atm m3 of free air between the band limits: filling it at the
    # net surplus and draining it at the net demand sets the load/unload cycle time.
    stored_m3 = air.receiver_m3 * band_bar / ATM_BAR
    net_demand = np.maximum(duty * loaded_flow, 1e-9)
    surplus = np.maximum(loaded_flow - net_demand, 1e-9)
    cycle_s = 60.0 * (stored_m3 / surplus + stored_m3 / net_demand)
    return np.clip(np.round(step_s / cycle_s), 1.0, 30.0)
