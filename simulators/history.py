"""Offline history: interval data for every device, plus the truth the analytics are judged against.

Writes `history.csv.gz` (one row per interval, local timestamps; energy per device, average power,
compressor loaded/unloaded/off seconds, free air delivered and pressure, production, temperature) and
`truth_daily.csv` + `truth.json`: the counterfactual (the same days without the retrofit, same random
streams) and the true savings, by day and in total.
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
from simulators.physics import DaySteps, compute_day
from simulators.scenario import Scenario
from simulators.site import device_step_increments

__all__ = ["HistoryResult", "generate_history"]


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
            loaded = c.running * c.duty * day.step_s
            running = c.running * day.step_s
            columns[f"{name}_kwh"] = _per_interval(inc["energy_kwh"], steps)
            columns[f"{name}_loaded_s"] = _per_interval(loaded, steps)
            columns[f"{name}_unloaded_s"] = _per_interval(running - loaded, steps)
            columns[f"{name}_off_s"] = _per_interval(day.step_s - running, steps)
            columns[f"{name}_fad_m3"] = _per_interval(inc["fad_m3"], steps)
            columns[f"{name}_pressure_bar"] = _per_interval(
                (c.band_low_bar + c.band_high_bar) / 2, steps, "mean"
            )
        elif device.kind == "production_counter":
            columns[f"{name}_units"] = _per_interval(inc["units"], steps)
            columns[f"{name}_rejects"] = _per_interval(inc["rejects"], steps)
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

    `progress(done, days)` is called after each simulated day (a year takes ~10-17 s)."""
    if interval_s % scenario.step_s or 86400 % interval_s:
        raise ValueError(
            f"interval {interval_s} s must be a multiple of step_s {scenario.step_s} within a day"
        )
    steps = interval_s // scenario.step_s
    site = _site_meter(scenario)
    frames, truth_rows = [], []
    for index in range(first_day, first_day + days):
        actual = compute_day(scenario, index, retrofit=True)
        counterfactual = compute_day(scenario, index, retrofit=False) if scenario.retrofit else actual
        columns = _day_columns(scenario, actual, steps)
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


def _truth_row(
    scenario: Scenario, site: str, actual: DaySteps, counterfactual: DaySteps
) -> dict[str, object]:
    device = scenario.device(site)
    actual_kwh = float(device_step_increments(scenario, device, actual)["import_kwh"].sum())
    cf_kwh = float(device_step_increments(scenario, device, counterfactual)["import_kwh"].sum())
    hours = actual.step_s / 3600
    return {
        "date": datetime.fromtimestamp(actual.t0 + 43200, scenario.tz).date().isoformat(),
        "retrofit_active": bool(scenario.retrofit and actual_kwh != cf_kwh),
        "actual_site_kwh": actual_kwh,
        "counterfactual_site_kwh": cf_kwh,
        "savings_kwh": cf_kwh - actual_kwh,
        "actual_compressor_kwh": float(sum(c.mean_kw().sum() for c in actual.compressors.values())) * hours,
        "counterfactual_compressor_kwh": float(
            sum(c.mean_kw().sum() for c in counterfactual.compressors.values())
        )
        * hours,
        "production_units": float(actual.units.sum()),
        "mean_temperature_c": float(actual.temperature_c.mean()),
    }


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
        "note": "counterfactual = the same days simulated without the retrofit, same random streams",
    }
