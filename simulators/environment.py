"""The site's surroundings as pure functions of time: outdoor temperature and production level.

Both are deterministic for a seed and computed for whole arrays of timestamps, so a year of
minute steps costs milliseconds and the live server and the history generator see the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from simulators.scenario import Calendar, Scenario, Weather

__all__ = [
    "DayEffects",
    "FloatArray",
    "day_effects",
    "day_rng",
    "line_states",
    "local_date",
    "local_days",
    "outdoor_temperature_c",
    "output_share",
    "production_level",
]

FloatArray = npt.NDArray[np.float64]

_WEATHER_PERIODS_DAYS = (2.7, 4.1, 6.3, 9.8, 15.2, 23.5)
_DRIFT_PERIODS_DAYS = (11.3, 19.7, 31.1, 53.9)
_STREAM_EFFECTS = 11
_STREAM_LINES = 12


def day_rng(seed: int, day_index: int, stream: int) -> np.random.Generator:
    """The random stream of one (day, purpose): independent of the order in which days are computed."""
    return np.random.default_rng([seed & 0xFFFFFFFF, day_index + 1_000_000, stream])


def outdoor_temperature_c(weather: Weather, seed: int, t_local_days: FloatArray) -> FloatArray:
    """Temperature at local times given as fractional days since 1970-01-01 (local)."""
    day_of_year = np.mod(t_local_days, 365.2425)  # 1970-01-01 is day 0 of a year
    hour = np.mod(t_local_days, 1.0) * 24.0
    annual = weather.annual_amplitude_c * np.cos(
        2 * np.pi * (day_of_year - (weather.hottest_day_of_year - 1)) / 365.2425
    )
    daily = weather.daily_amplitude_c * np.cos(2 * np.pi * (hour - weather.hottest_hour) / 24.0)
    return weather.annual_mean_c + annual + daily + _weather_noise(weather, seed, t_local_days)


def _weather_noise(weather: Weather, seed: int, t_local_days: FloatArray) -> FloatArray:
    # A sum of slow sinusoids with seeded phases: smooth, aperiodic over a year, and a pure function
    # of time (no state), so any day can be computed on its own.
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 7])
    phases = rng.uniform(0, 2 * np.pi, len(_WEATHER_PERIODS_DAYS))
    noise = np.zeros_like(t_local_days)
    for period, phase in zip(_WEATHER_PERIODS_DAYS, phases, strict=True):
        noise += np.sin(2 * np.pi * t_local_days / period + phase)
    scale = weather.day_to_day_sd_c * float(np.sqrt(2.0 / len(_WEATHER_PERIODS_DAYS)))
    return noise * scale


def local_days(scenario: Scenario, t_epoch_s: FloatArray) -> FloatArray:
    """Fractional local days since 1970-01-01 for epoch seconds."""
    return (t_epoch_s + scenario.utc_offset_h * 3600.0) / 86400.0


def _shift_level(calendar: Calendar, hour: FloatArray) -> FloatArray:
    level = np.full_like(hour, calendar.night_level)
    for shift in calendar.shifts:
        start = shift.start.hour + shift.start.minute / 60
        end = shift.end.hour + shift.end.minute / 60 or 24.0
        inside = (hour >= start) & (hour < end) if end > start else (hour >= start) | (hour < end)
        level = np.where(inside, np.maximum(level, shift.level), level)
    return level


def _is_holiday(calendar: Calendar, day: date) -> bool:
    return any(first <= day <= last for first, last in calendar.holidays)


def production_level(scenario: Scenario, day: date, day_index: int, hours: FloatArray) -> FloatArray:
    """Production level (1 = nominal) for local hours of one local date."""
    calendar = scenario.calendar
    if _is_holiday(calendar, day):
        return np.zeros_like(hours)
    day_factor = max(0.0, day_rng(scenario.seed, day_index, 1).normal(1.0, calendar.daily_variation))
    level = _shift_level(calendar, hours)
    if day.weekday() not in calendar.working_weekdays:
        level = level * calendar.weekend_level
    return level * day_factor


def local_date(scenario: Scenario, t_epoch_s: float) -> date:
    return (datetime.fromtimestamp(t_epoch_s, scenario.tz)).date()


@dataclass(frozen=True)
class DayEffects:
    """What changes from one day to the next that neither production nor temperature explains."""

    mix: float  # product mix: the lines' energy (and process air) per unit of output x this
    base: float  # always-on loads x this (maintenance, cleaning, doors open, equipment drifting)
    weather: float  # cooling/heating power x this (humidity, sun: weather that is not temperature)


def day_effects(scenario: Scenario, day_index: int) -> DayEffects:
    """The day's unmodelled factors (all 1 when the scenario declares no variation)."""
    v = scenario.variation
    rng = day_rng(scenario.seed, day_index, _STREAM_EFFECTS)
    mix, base, weather = rng.normal(0.0, 1.0, 3)
    # The drift is a sum of slow sinusoids with seeded phases, like the weather: smooth over weeks and
    # a pure function of the day, so a day can be computed on its own.
    phases = np.random.default_rng([scenario.seed & 0xFFFFFFFF, 13]).uniform(
        0, 2 * np.pi, len(_DRIFT_PERIODS_DAYS)
    )
    periods = np.array(_DRIFT_PERIODS_DAYS)
    drift = float(np.sin(2 * np.pi * day_index / periods + phases).sum()) * np.sqrt(2.0 / len(periods))
    return DayEffects(
        mix=float(np.clip(1.0 + v.mix_sd * mix, 0.6, 1.4)),
        base=float(np.clip(1.0 + v.base_day_sd * base + v.base_drift_sd * drift, 0.5, 1.5)),
        weather=float(np.clip(1.0 + v.weather_day_sd * weather, 0.2, 1.8)),
    )


def _shift_hours(calendar: Calendar) -> list[tuple[float, float]]:
    spans = []
    for shift in calendar.shifts:
        start = shift.start.hour + shift.start.minute / 60
        end = shift.end.hour + shift.end.minute / 60 or 24.0
        spans.append((start, end if end > start else end + 24.0))
    return spans


def line_states(scenario: Scenario, day: date, day_index: int, hours: FloatArray) -> FloatArray:
    """[lines, len(hours)]: 1 while each of `variation.lines` can run, 0 while it stands.

    On a working day a line stands all day with probability `line_day_prob` (a partial-line day), or
    else stops for half of one of the shifts with probability `line_stop_prob` (a breakdown, a
    changeover, no operator). The same number of draws every day, so the streams do not shift."""
    v = scenario.variation
    states = np.ones((len(v.lines), len(hours)))
    rng = day_rng(scenario.seed, day_index, _STREAM_LINES)
    draws = rng.random((len(v.lines), 4))
    working = day.weekday() in scenario.calendar.working_weekdays and not _is_holiday(scenario.calendar, day)
    if not working:
        return states
    shifts = _shift_hours(scenario.calendar)
    for index, (whole_day, stop, which, when) in enumerate(draws):
        if whole_day < v.line_day_prob:
            states[index] = 0.0
        elif stop < v.line_stop_prob:
            start, end = shifts[min(int(which * len(shifts)), len(shifts) - 1)]
            half = (end - start) / 2
            first = start + when * half
            inside = ((hours - first) % 24.0) < half
            states[index] = np.where(inside, 0.0, 1.0)
    return states


def output_share(states: FloatArray) -> FloatArray:
    """Share of the plant's output the running lines make (lines equal); 1 when no lines are declared."""
    if states.shape[0] == 0:
        return np.ones(states.shape[1])
    share: FloatArray = states.mean(axis=0)
    return share
