"""Analytics timings: a year of 15-minute data for 100 meters, and a baseline fit.

Run: .venv/bin/python bench/bench_analytics.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from agent.analytics import aggregate, aggregate_by_shift, completeness, cost, daily_frame, fit, to_wide
from agent.config.analytics import BaselineOptions, chongqing_industrial_tou, default_shifts

TZ = "Asia/Shanghai"


def timed(label: str, action: Callable[[], object], repeat: int = 3) -> None:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58} {best * 1000:9.1f} ms")


def main() -> None:
    rng = np.random.default_rng(0)
    index = pd.date_range("2025-01-01", periods=96 * 365, freq="15min", tz=TZ).tz_convert("UTC")
    meters = [f"m{i:03d}" for i in range(100)]
    wide = pd.DataFrame(rng.uniform(0, 50, (len(index), len(meters))), index=index, columns=meters)
    wide = wide.mask(rng.random(wide.shape) < 0.01)
    print(f"{len(index)} intervals x {len(meters)} meters = {wide.size:,} values")
    for freq in ("hour", "day", "month"):
        timed(f"aggregate to {freq}", lambda f=freq: aggregate(wide, f, TZ))  # type: ignore[misc]
    timed("aggregate to shifts", lambda: aggregate_by_shift(wide, default_shifts(), TZ))
    timed("completeness per day", lambda: completeness(wide, "day", TZ))
    timed("TOU cost (Chongqing, critical peak)", lambda: cost(wide, chongqing_industrial_tou(), TZ))
    long = wide.iloc[: 96 * 31].stack().rename("kwh").reset_index()
    long.columns = pd.Index(["ts", "device", "kwh"])
    timed(f"to_wide from {len(long):,} long rows (one month)", lambda: to_wide(long, quality=None))

    temperature = pd.Series(18 + 10 * np.sin(np.arange(len(index)) / (96 * 58)), index=index)
    production = pd.Series(rng.uniform(0, 3, len(index)), index=index)
    energy = 25 + 2 * production + 1.2 * (temperature - 18).clip(lower=0) + rng.normal(0, 2, len(index))
    days = daily_frame(energy, TZ, production=production, temperature_c=temperature)
    timed("daily_frame (one meter, a year)", lambda: daily_frame(energy, TZ, production=production))
    timed("baseline fit, daily, 365 points, 6 model kinds", lambda: fit(days))
    timed("baseline fit, monthly, 12 points", lambda: fit(days, BaselineOptions(granularity="monthly")))


if __name__ == "__main__":
    main()
