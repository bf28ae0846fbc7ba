"""Offline history: interval data for every device, plus the truth the analytics are judged against.

Writes `history.csv.gz` (one row per interval, local timestamps; energy per device, average power,
compressor loaded/unloaded/off seconds, true free air delivered, pressure (mean, min, max) and starts,
production, temperature, and the room's truth: true leak and process air, header pressure) and
`truth_daily.csv` + `truth.json`: the counterfactual (the same days without the retrofit, same random
streams) and the true savings, by day and in total, with the air room's true figures per period.

All days' compressor rooms, actual and (after the retrofit) counterfactual, run as one batch of the
air-room engine, in chunks of `CHUNK_DAYS` to bound memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from simulators.environment import FloatArray
from simulators.physics import DaySteps, compute_days
from simulators.scenario import Scenario
from simulators.site import day_totals, device_step_increments, remember_day_totals

__all__ = ["CHUNK_DAYS", "TRUTH_COLUMNS", "HistoryResult", "generate_history"]

CHUNK_DAYS = 250  # room simulations per batch: more is faster per day, and costs ~0.1 MB each
# Columns that are the simulator's truth, not a site's data (an importer must not take them).
TRUTH_COLUMNS = (
    "air_true_leak_m3",
    "air_true_process_m3",
    "air_header_pressure_bar",
    "air_header_pressure_min_bar",
)


@dataclass(frozen=True)
class HistoryResult:
    history_csv: Path
    truth_daily_csv: Path
    truth_json: Path
    rows: int
    true_savings_kwh: float


def _per_interval(values: FloatArray, steps: int, how: str = "sum") -> FloatArray:
    shaped = values.reshape(-1, steps)
    reduced: FloatArray = shaped.sum(axis=1) if how == "sum" else shaped.mean(axis=1)
    return reduced


def _day_columns(scenario: Scenario, day: DaySteps, steps: int) -> dict[str, FloatArray]:
    columns: dict[str, FloatArray] = {
        "temperature_c": _per_interval(day.temperature_c, steps, "mean"),
        "production_level": _per_interval(day.level, steps, "mean"),
    }
    for device in scenario.devices:
        inc = device_step_increments(scenario, device, day)
        name = device.name
        if device.kind == "meter":
            kwh = _per_interval(inc["import_kwh"], steps)
            columns[f"{name}_kwh"] = kwh
            columns[f"{name}_kw_avg"] = kwh * 3600 / (steps * day.step_s)
            columns[f"{name}_kvarh"] = _per_interval(inc["import_kvarh"], steps)
        elif device.kind == "compressor":
            c = day.compressors[str(device.compressor)]
            assert day.air is not None
            columns[f"{name}_kwh"] = _per_interval(inc["energy_kwh"], steps)
            columns[f"{name}_loaded_s"] = _per_interval(c.loaded_s, steps)
            columns[f"{name}_unloaded_s"] = _per_interval(c.running_s - c.loaded_s, steps)
            columns[f"{name}_off_s"] = _per_interval(day.step_s - c.running_s, steps)
            columns[f"{name}_fad_m3"] = _per_interval(inc["fad_m3"], steps)
            # The machines sit on one header: each sees the header pressure.
            columns[f"{name}_pressure_bar"] = _per_interval(day.air.pressure_mean_bar, steps, "mean")
            columns[f"{name}_pressure_min_bar"] = day.air.pressure_min_bar.reshape(-1, steps).min(axis=1)
            columns[f"{name}_pressure_max_bar"] = day.air.pressure_max_bar.reshape(-1, steps).max(axis=1)
            columns[f"{name}_starts"] = _per_interval(c.starts, steps)
        elif device.kind == "production_counter":
            columns[f"{name}_units"] = _per_interval(inc["units"], steps)
            columns[f"{name}_rejects"] = _per_interval(inc["rejects"], steps)
    if day.air is not None:
        columns["air_true_leak_m3"] = _per_interval(day.air.leak_m3, steps)
        columns["air_true_process_m3"] = _per_interval(day.air.process_m3, steps)
        columns["air_header_pressure_bar"] = _per_interval(day.air.pressure_mean_bar, steps, "mean")
        columns["air_header_pressure_min_bar"] = day.air.pressure_min_bar.reshape(-1, steps).min(axis=1)
    return columns


def _site_meter(scenario: Scenario) -> str:
    for device in scenario.devices:
        if device.kind == "meter" and "site" in device.measures:
            return device.name
    raise ValueError(f"scenario {scenario.name}: no meter measures 'site'; truth needs a main meter")


def generate_history(
    scenario: Scenario,
    days: int,
    out_dir: Path,
    *,
    first_day: int = 0,
    interval_s: int = 900,
    progress: Callable[[int, int], None] | None = None,
) -> HistoryResult:
    """Write `days` days of `interval_s` history from scenario day `first_day` into out_dir.

    `progress(done, days)` is called after each simulated day."""
    if interval_s % scenario.step_s or 86400 % interval_s:
        raise ValueError(
            f"interval {interval_s} s must be a multiple of step_s {scenario.step_s} within a day"
        )
    steps = interval_s // scenario.step_s
    site = _site_meter(scenario)
    frames, truth_rows = [], []
    indexes = list(range(first_day, first_day + days))
    for first in range(0, len(indexes), CHUNK_DAYS):
        chunk = indexes[first : first + CHUNK_DAYS]
        # A counterfactual differs only where the retrofit is in force: simulate those days twice.
        twice = [d for d in chunk if scenario.retrofit and _after_retrofit(scenario, d)]
        batch = compute_days(
            scenario, [(d, True) for d in chunk] + [(d, False) for d in twice], record_s=interval_s
        )
        for position, index in enumerate(chunk):
            actual = batch.day(position)
            counterfactual = batch.day(len(chunk) + twice.index(index)) if index in twice else actual
            columns = _day_columns(scenario, actual, steps)
            # A live server of the same scenario in this process starts from these (the demo's).
            remember_day_totals(scenario, True, index, day_totals(scenario, actual))
            starts = actual.t0 + np.arange(86400 // interval_s) * interval_s
            frame = pd.DataFrame(columns)
            frame.insert(0, "timestamp", pd.to_datetime(starts, unit="s", utc=True).tz_convert(scenario.tz))
            frames.append(frame)
            truth_rows.append(_truth_row(scenario, site, actual, counterfactual))
            if progress is not None:
                progress(index - first_day + 1, days)
    out_dir.mkdir(parents=True, exist_ok=True)
    history = pd.concat(frames, ignore_index=True)
    history_csv = out_dir / "history.csv.gz"
    history.to_csv(
        history_csv, index=False, float_format="%.6g", compression={"method": "gzip", "compresslevel": 1}
    )
    truth = pd.DataFrame(truth_rows)
    truth_csv = out_dir / "truth_daily.csv"
    truth.to_csv(truth_csv, index=False, float_format="%.6f")
    truth_json = out_dir / "truth.json"
    summary = _truth_summary(scenario, site, truth, interval_s)
    truth_json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return HistoryResult(history_csv, truth_csv, truth_json, len(history), float(truth["savings_kwh"].sum()))


def _after_retrofit(scenario: Scenario, day_index: int) -> bool:
    assert scenario.retrofit is not None
    start = datetime.combine(scenario.retrofit.date, datetime.min.time(), scenario.tz).timestamp()
    return scenario.start.timestamp() + day_index * 86400.0 >= start


def _air_truth(day: DaySteps, prefix: str) -> dict[str, float]:
    if day.air is None:
        return {}
    row = {
        f"{prefix}_air_leak_m3": float(day.air.leak_m3.sum()),
        f"{prefix}_air_process_m3": float(day.air.process_m3.sum()),
    }
    for name, c in day.compressors.items():
        row[f"{prefix}_{name}_air_m3"] = float(c.air_m3.sum())
        row[f"{prefix}_{name}_kwh"] = float(c.kwh.sum())
    return row


def _truth_row(
    scenario: Scenario, site: str, actual: DaySteps, counterfactual: DaySteps
) -> dict[str, object]:
    device = scenario.device(site)
    actual_kwh = float(device_step_increments(scenario, device, actual)["import_kwh"].sum())
    cf_kwh = float(device_step_increments(scenario, device, counterfactual)["import_kwh"].sum())
    hours = actual.step_s / 3600
    return (
        {
            "date": datetime.fromtimestamp(actual.t0 + 43200, scenario.tz).date().isoformat(),
            "retrofit_active": bool(scenario.retrofit and actual_kwh != cf_kwh),
            "actual_site_kwh": actual_kwh,
            "counterfactual_site_kwh": cf_kwh,
            "savings_kwh": cf_kwh - actual_kwh,
            "actual_compressor_kwh": float(sum(c.mean_kw().sum() for c in actual.compressors.values()))
            * hours,
            "counterfactual_compressor_kwh": float(
                sum(c.mean_kw().sum() for c in counterfactual.compressors.values())
            )
            * hours,
            "production_units": float(actual.units.sum()),
            "mean_temperature_c": float(actual.temperature_c.mean()),
        }
        | _air_truth(actual, "actual")
        | _air_truth(counterfactual, "counterfactual")
    )


def _truth_summary(scenario: Scenario, site: str, truth: pd.DataFrame, interval_s: int) -> dict[str, object]:
    after = (
        truth[truth["date"] >= scenario.retrofit.date.isoformat()] if scenario.retrofit else truth.iloc[0:0]
    )
    cf_after = float(after["counterfactual_site_kwh"].sum())
    savings = float(truth["savings_kwh"].sum())
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "site_meter": site,
        "interval_s": interval_s,
        "first_date": str(truth["date"].iloc[0]),
        "last_date": str(truth["date"].iloc[-1]),
        "retrofit_date": scenario.retrofit.date.isoformat() if scenario.retrofit else None,
        "actual_site_kwh": float(truth["actual_site_kwh"].sum()),
        "counterfactual_site_kwh": float(truth["counterfactual_site_kwh"].sum()),
        "true_savings_kwh": savings,
        "true_savings_fraction_after_retrofit": savings / cf_after if cf_after > 0 else None,
        "air": _air_summary(scenario, truth),
        "note": "counterfactual = the same days simulated without the retrofit, same random streams",
    }


def _air_summary(scenario: Scenario, truth: pd.DataFrame) -> dict[str, object] | None:
    """Per period (before / after the retrofit, and the counterfactual after it): the true leak flow
    in m3/min, the true air per machine, and the room's true specific power in kW/(m3/min)."""
    if scenario.air is None:
        return None
    machines = [c.name for c in scenario.air.compressors]
    retrofit = scenario.retrofit.date.isoformat() if scenario.retrofit else None
    periods = {
        "before_retrofit": ("actual", truth if retrofit is None else truth[truth["date"] < retrofit]),
        "after_retrofit": (
            "actual",
            truth.iloc[0:0] if retrofit is None else truth[truth["date"] >= retrofit],
        ),
        "after_retrofit_counterfactual": (
            "counterfactual",
            truth.iloc[0:0] if retrofit is None else truth[truth["date"] >= retrofit],
        ),
    }
    out: dict[str, object] = {}
    for label, (prefix, days) in periods.items():
        if days.empty:
            out[label] = None
            continue
        minutes = len(days) * 1440.0
        air = {name: float(days[f"{prefix}_{name}_air_m3"].sum()) for name in machines}
        kwh = sum(float(days[f"{prefix}_{name}_kwh"].sum()) for name in machines)
        total = sum(air.values())
        out[label] = {
            "days": len(days),
            "true_leak_m3_min": float(days[f"{prefix}_air_leak_m3"].sum()) / minutes,
            "true_process_m3_min": float(days[f"{prefix}_air_process_m3"].sum()) / minutes,
            "true_air_m3": air,
            "true_room_kwh": kwh,
            "true_room_specific_power_kw_per_m3_min": kwh * 60 / total if total > 0 else None,
        }
    return out
