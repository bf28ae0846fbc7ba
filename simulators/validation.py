"""Savings on a temperature-only simulated site against its truth, for both hourly-data models.

`run_case(seed, fraction, workdir)` generates two years of hourly history (`temperature_site`),
reads the CSV the simulator writes (as an import would), fits the first year and computes the second
year's savings twice: with the hourly time-of-week-and-temperature model and with the daily
change-point model on degree days from hourly temperatures. bench/mv_validation.py prints the table;
tests/unit/test_mv_hourly.py checks a few seeds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agent.analytics.baseline import fit
from agent.analytics.baseline import verdict as daily_verdict
from agent.analytics.degree_days import with_hourly_degree_days
from agent.analytics.hourly import HourlyOptions, fit_hourly, hourly_savings
from agent.analytics.intervals import daily_frame
from agent.analytics.savings import SavingsResult, savings
from agent.config.analytics import BaselineOptions
from simulators.history import generate_history
from simulators.temperature_site import temperature_only_site

__all__ = ["CaseResult", "run_case"]

TZ = "Etc/GMT-8"  # the site's fixed UTC+8 (no DST), as in the scenario


@dataclass(frozen=True)
class CaseResult:
    seed: int
    model: str
    true_fraction: float
    fraction: float
    band90_fraction: float
    true_kwh: float
    savings_kwh: float
    band90_kwh: float
    cv_rmse: float
    nmbe_out_of_sample: float | None
    verdict: str
    seconds: float

    @property
    def error_pp(self) -> float:
        return 100.0 * (self.fraction - self.true_fraction)

    @property
    def within_1pp(self) -> bool:
        return abs(self.error_pp) <= 1.0

    @property
    def inside_band(self) -> bool:
        return abs(self.savings_kwh - self.true_kwh) <= self.band90_kwh


def _read(history_csv: Path) -> pd.DataFrame:
    frame = pd.read_csv(history_csv, usecols=["timestamp", "main_meter_kwh", "temperature_c"])
    index = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True), name="ts")
    return pd.DataFrame(
        {
            "energy_kwh": frame["main_meter_kwh"].to_numpy(),
            "temperature_c": frame["temperature_c"].to_numpy(),
        },
        index=index,
    )


def _result(
    seed: int,
    model: str,
    result: SavingsResult,
    truth: tuple[float, float],
    stats: tuple[float, float | None, str],
    seconds: float,
) -> CaseResult:
    true_kwh, true_fraction = truth
    band = result.band(0.90).absolute_kwh
    return CaseResult(
        seed, model, true_fraction, result.fraction, band / result.baseline_kwh, true_kwh,
        result.savings_kwh, band, stats[0], stats[1], stats[2], seconds,
    )  # fmt: skip


def run_case(
    seed: int,
    fraction: float,
    workdir: Path,
    *,
    segmentation: str = "three_month_weighted",
    daily_mean: bool = False,
) -> list[CaseResult]:
    """[hourly TOWT, daily on hourly degree days] (+ daily on the daily mean with `daily_mean`)."""
    scenario = temperature_only_site(seed, fraction)
    generated = generate_history(scenario, 730, workdir, interval_s=3600)
    truth = json.loads(generated.truth_json.read_text(encoding="utf-8"))
    truth_daily = pd.read_csv(generated.truth_daily_csv)
    after = truth_daily[truth_daily["date"] >= truth["retrofit_date"]]
    true = (float(after["savings_kwh"].sum()), float(truth["true_savings_fraction_after_retrofit"]))
    hourly = _read(generated.history_csv)
    cut = pd.Timestamp(truth["retrofit_date"], tz=TZ).tz_convert("UTC")
    baseline, reporting = hourly[hourly.index < cut], hourly[hourly.index >= cut]

    started = time.perf_counter()
    options = HourlyOptions(segmentation=segmentation)  # type: ignore[arg-type]
    towt = fit_hourly(baseline, TZ, options, required_drivers=("temperature",))
    towt_savings = hourly_savings(towt, reporting)
    judged = towt.verdict(reporting_months=12, fsu_68=towt_savings.band(0.68).fraction_of_savings)
    stats = (towt.stats.cv_rmse, towt.stats.holdout_nmbe, judged.status)
    towt_row = _result(
        seed, f"hourly TOWT ({segmentation})", towt_savings, true, stats, time.perf_counter() - started
    )

    grid = [float(b) for b in np.arange(8.0, 28.5, 1.0)]
    days = daily_frame(hourly["energy_kwh"], TZ, temperature_c=hourly["temperature_c"], interval_minutes=60)
    rows = [
        towt_row,
        _daily_case(seed, with_hourly_degree_days(days, hourly["temperature_c"], TZ, grid), truth, true),
    ]
    if daily_mean:
        rows.append(_daily_case(seed, days, truth, true))
    return rows


def _daily_case(
    seed: int, days: pd.DataFrame, truth: dict[str, object], true: tuple[float, float]
) -> CaseResult:
    started = time.perf_counter()
    first = pd.Timestamp(str(truth["retrofit_date"]))
    model = fit(days[days.index < first], BaselineOptions(), required_drivers=("temperature",))
    daily_savings = savings(model, days[days.index >= first])
    judged = daily_verdict(model, fsu_68=daily_savings.band(0.68).fraction_of_savings)
    nmbe = None if model.out_of_sample is None else model.out_of_sample.nmbe
    source = "hourly degree days" if model.degree_days == "hourly" else "daily-mean temperature"
    stats = (model.stats.cv_rmse, nmbe, judged.status)
    return _result(
        seed, f"daily {model.kind}, {source}", daily_savings, true, stats, time.perf_counter() - started
    )
