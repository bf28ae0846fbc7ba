"""Utility bills (billing periods with their own read dates) as input of the monthly model.

A bill covers `start`..`end` (local dates, both inclusive) with one energy total (and optionally a
production total). `billing_daily_frame` spreads each bill evenly over its days and tags the days
with the bill (`billing_period` = its start), and joins daily weather (`temperature_c`, and the
hourly degree-day columns when present). `baseline.fit(frame, BaselineOptions(granularity=
"monthly"))` then fits the per-day equation on bill totals (the even spread never enters the fit:
only the bills' sums of days do), and `savings` sums predictions over the reporting bills, so a
30-day bill and a 33-day bill compare like with like. Guideline 14's monthly limits apply.
"""

from __future__ import annotations

import pandas as pd

from agent.analytics.baseline import BILLING_PERIOD
from agent.analytics.errors import InsufficientData

__all__ = ["billing_daily_frame"]


def billing_daily_frame(bills: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """Bills (`start`, `end`, `energy_kwh`[, `production`]) + daily weather -> tagged day rows."""
    for column in ("start", "end", "energy_kwh"):
        if column not in bills.columns:
            raise InsufficientData(f"bills: column {column!r} missing (have {list(bills.columns)})")
    starts = pd.to_datetime(bills["start"]).dt.normalize()
    ends = pd.to_datetime(bills["end"]).dt.normalize()
    energy = pd.to_numeric(bills["energy_kwh"], errors="coerce").astype(float)
    production = (
        pd.to_numeric(bills["production"], errors="coerce").astype(float) if "production" in bills else None
    )
    order = starts.sort_values().index
    rows = []
    previous_end: pd.Timestamp | None = None
    for position, i in enumerate(order, start=1):
        start, end = starts[i], ends[i]
        if end < start:
            raise InsufficientData(f"bills row {position}: end {end.date()} is before start {start.date()}")
        if previous_end is not None and start <= previous_end:
            raise InsufficientData(f"bills row {position}: starts {start.date()}, inside the previous bill")
        previous_end = end
        days = pd.date_range(start, end, freq="D")
        row = pd.DataFrame(
            {
                "energy_kwh": energy[i] / len(days),
                "coverage": 1.0,
                BILLING_PERIOD: start,
            },
            index=days,
        )
        if production is not None:
            row["production"] = production[i] / len(days)
        rows.append(row)
    frame = pd.concat(rows)
    weather_columns = [c for c in weather.columns if c not in frame.columns]
    return frame.join(weather[weather_columns].set_axis(pd.DatetimeIndex(weather.index)), how="left")
