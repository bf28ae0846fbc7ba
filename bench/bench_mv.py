"""Fit + savings for a year of hourly data: the hourly TOWT model and the daily degree-day model.

    .venv/bin/python bench/bench_mv.py

A year of hourly baseline and a year of reporting from the temperature-only simulated site (seed 1,
10 % saving); each figure is the median of 5 runs, in seconds, on this machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from agent.analytics.baseline import fit
from agent.analytics.degree_days import with_hourly_degree_days
from agent.analytics.hourly import HourlyOptions, fit_hourly, hourly_savings
from agent.analytics.intervals import daily_frame
from agent.analytics.savings import savings
from simulators.history import generate_history
from simulators.temperature_site import temperature_only_site

TZ = "Etc/GMT-8"


def _median(run: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        generated = generate_history(temperature_only_site(1, 0.10), 730, Path(workdir), interval_s=3600)
        raw = pd.read_csv(generated.history_csv, usecols=["timestamp", "main_meter_kwh", "temperature_c"])
    index = pd.DatetimeIndex(pd.to_datetime(raw["timestamp"], utc=True))
    hourly = pd.DataFrame(
        {"energy_kwh": raw["main_meter_kwh"].to_numpy(), "temperature_c": raw["temperature_c"].to_numpy()},
        index=index,
    )
    baseline, reporting = hourly.iloc[:8760], hourly.iloc[8760:]
    print(f"{len(baseline)} baseline hours, {len(reporting)} reporting hours")
    for segmentation in ("three_month_weighted", "single"):
        options = HourlyOptions(segmentation=segmentation)  # type: ignore[arg-type]

        def towt(options: HourlyOptions = options) -> object:
            return hourly_savings(fit_hourly(baseline, TZ, options), reporting)

        print(f"hourly TOWT ({segmentation}) fit + savings: {_median(towt):.3f} s")
    grid = [float(b) for b in np.arange(8.0, 28.5, 1.0)]

    def daily() -> object:
        days = daily_frame(
            hourly["energy_kwh"], TZ, temperature_c=hourly["temperature_c"], interval_minutes=60
        )
        days = with_hourly_degree_days(days, hourly["temperature_c"], TZ, grid)
        cut = days.index[365]
        return savings(fit(days[days.index < cut]), days[days.index >= cut])

    print(f"daily change-point, hourly degree days (frame + fit + savings): {_median(daily):.3f} s")


if __name__ == "__main__":
    main()
