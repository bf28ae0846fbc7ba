"""Compressed-air PROCESS demand of one day, second by second (or averaged per step): a pure function.

What the machines of a plant draw from the header, leaks excluded (the air-room engine adds leak flow
as a function of pressure):

- base demand around the clock (instrument air, purges, blow-off nozzles that never close);
- a production part that follows the day's production (per-shift levels, weekends, holidays:
  `simulators.environment.production_level`; lines standing: `line_states`; the product mix of the
  day: `day_effects`), the same output the production counter counts;
- step changes: the production part is carried by `groups` machine groups of unequal size, each of
  which starts and stops on its own (a two-state Markov chain in continuous time: runs for `on_mean_s`
  on average, stands for `off_mean_s`), so the demand jumps by a group's share when one starts or stops;
  the level is scaled by the groups' long-run availability so the mean over a day is unbiased;
- minute-scale noise: a smooth random relative deviation (normal knots every `noise_knot_s` seconds,
  linearly interpolated), standard deviation `noise`.

Deterministic for (seed, day index): the streams come from `day_rng`, so the actual site and its
counterfactual (no retrofit) see the same demand, and any day can be computed on its own. No state,
no I/O; numpy in, numpy out.

    demand = day_process_demand(scenario, day_index, step_s=1)   # 86,400 values, m3/min (free air)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from simulators.environment import (
    FloatArray,
    day_effects,
    day_rng,
    line_states,
    local_days,
    output_share,
    production_level,
)
from simulators.scenario import Scenario

__all__ = ["AirDemand", "air_demand_of", "day_process_demand", "process_demand_m3min"]

_DAY_S = 86400
_STREAM_GROUPS = 51
_STREAM_NOISE = 52


@dataclass(frozen=True)
class AirDemand:
    """Shape of a plant's process air demand (free air, m3/min)."""

    base_m3min: float  # around the clock, production or not
    production_m3min: float  # extra at production level 1, on average
    groups: int = 6  # machine groups that start and stop on their own (0: no steps)
    group_share: float = 0.5  # share of the production part carried by the groups
    on_mean_s: float = 2400.0  # a group runs this long on average before it stops ...
    off_mean_s: float = 600.0  # ... and stands this long before it starts again
    noise: float = 0.04  # relative standard deviation of the minute-scale noise
    noise_knot_s: int = 60  # seconds between independent noise values
    ramp_s: int = 0  # a production level change spreads over this long (lines start one by one)

    def __post_init__(self) -> None:
        if self.base_m3min < 0 or self.production_m3min < 0:
            raise ValueError("air demand: base_m3min and production_m3min must be >= 0")
        if self.groups < 0 or not 0 <= self.group_share <= 1:
            raise ValueError("air demand: groups must be >= 0 and group_share within 0..1")
        if not 0 <= self.ramp_s <= _DAY_S:
            raise ValueError("air demand: ramp_s must be within 0..86400")
        if self.on_mean_s <= 0 or self.off_mean_s <= 0 or self.noise_knot_s < 1 or self.noise < 0:
            raise ValueError("air demand: on_mean_s, off_mean_s, noise_knot_s must be > 0, noise >= 0")

    @property
    def availability(self) -> float:
        """Long-run share of time a group runs."""
        return self.on_mean_s / (self.on_mean_s + self.off_mean_s)


def air_demand_of(scenario: Scenario) -> AirDemand:
    """The scenario's process demand shape (its air system's base and production demand)."""
    if scenario.air is None:
        raise ValueError(f"scenario {scenario.name}: no air system")
    air = scenario.air
    return AirDemand(
        base_m3min=air.base_demand_m3min, production_m3min=air.demand_m3min, ramp_s=air.demand_ramp_s
    )


def _group_weights(groups: int) -> FloatArray:
    # Unequal groups (a big coating pan and a few small presses): weights 1, 2, .., n, normalised.
    weights = np.arange(1, groups + 1, dtype=np.float64)
    normalised: FloatArray = weights / weights.sum()
    return normalised


def _group_states(demand: AirDemand, rng: np.random.Generator) -> FloatArray:
    """[groups, 86400] 0/1: whether each group runs in each second of the day."""
    states = np.zeros((demand.groups, _DAY_S))
    for g in range(demand.groups):
        running = bool(rng.random() < demand.availability)  # the stationary state at midnight
        t = 0.0
        while t < _DAY_S:
            length = rng.exponential(demand.on_mean_s if running else demand.off_mean_s)
            if running:
                states[g, int(t) : int(min(_DAY_S, t + length))] = 1.0
            t += length
            running = not running
    return states


def _noise(demand: AirDemand, rng: np.random.Generator) -> FloatArray:
    knots = np.arange(0, _DAY_S + demand.noise_knot_s, demand.noise_knot_s, dtype=np.float64)
    values = rng.normal(0.0, demand.noise, len(knots))
    return np.interp(np.arange(_DAY_S, dtype=np.float64), knots, values)


def _ramped(level: FloatArray, ramp_s: int) -> FloatArray:
    """The level averaged over the last `ramp_s` seconds (the day's first value before midnight): a
    step becomes a ramp of `ramp_s`, as lines come up one after another at a shift's start."""
    padded = np.concatenate([np.full(ramp_s, level[0]), level])
    total = np.cumsum(padded)
    ramped: FloatArray = (total[ramp_s:] - total[:-ramp_s]) / ramp_s
    return ramped


def process_demand_m3min(
    demand: AirDemand, level: FloatArray, rng_groups: np.random.Generator, rng_noise: np.random.Generator
) -> FloatArray:
    """Demand per second of one day (m3/min) for a per-second production `level` (86,400 values)."""
    if level.shape != (_DAY_S,):
        raise ValueError(f"air demand: level must have {_DAY_S} per-second values, got {level.shape}")
    if demand.ramp_s > 1:
        level = _ramped(level, demand.ramp_s)
    if demand.groups:
        weights = _group_weights(demand.groups)
        running = weights @ _group_states(demand, rng_groups) / demand.availability
        shape = (1 - demand.group_share) + demand.group_share * running
    else:
        shape = np.ones(_DAY_S)
    process = demand.production_m3min * level * shape
    total = (demand.base_m3min + process) * (1.0 + _noise(demand, rng_noise))
    return np.maximum(total, 0.0)


def day_process_demand(
    scenario: Scenario, day_index: int, step_s: int = 1, demand: AirDemand | None = None
) -> FloatArray:
    """Process air demand (m3/min) of day `day_index` after the scenario's start, one value per
    `step_s` seconds (the mean over the step; `step_s` must divide a day)."""
    if step_s < 1 or _DAY_S % step_s:
        raise ValueError(f"air demand: step_s {step_s} must divide a day")
    demand = demand or air_demand_of(scenario)
    t0 = scenario.start.timestamp() + day_index * float(_DAY_S)
    seconds = t0 + np.arange(_DAY_S, dtype=np.float64) + 0.5
    hours = np.mod(local_days(scenario, seconds), 1.0) * 24.0
    day = datetime.fromtimestamp(t0 + _DAY_S / 2, scenario.tz).date()
    level = production_level(scenario, day, day_index, hours)
    level = (
        level
        * output_share(line_states(scenario, day, day_index, hours))
        * day_effects(scenario, day_index).mix
    )
    per_second = process_demand_m3min(
        demand,
        level,
        day_rng(scenario.seed, day_index, _STREAM_GROUPS),
        day_rng(scenario.seed, day_index, _STREAM_NOISE),
    )
    per_step: FloatArray = per_second.reshape(-1, step_s).mean(axis=1)
    return per_step
