"""Degree days per local day from interval (e.g. hourly) temperatures.

A day's heating degree days at balance point b are the mean over its readings of max(0, b - T),
cooling degree days the mean of max(0, T - b) (degC-days per day). On a day whose temperature
crosses the balance point this is larger than max(0, b - mean T): the daily-mean form misses the
cold nights of a warm day, and a daily model fitted on it under-reads weather-driven energy (CalTRACK
issue #120 "Calculate degree days using degree hours when available").

The daily frame carries one column per grid balance point (`hdd_<b>`, `cdd_<b>`, see
`degree_day_column`); `baseline.fit` uses them instead of the daily mean when they are present.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from agent.analytics.errors import AnalyticsError
from agent.analytics.intervals import period_keys

__all__ = ["degree_day_column", "has_degree_days", "hourly_degree_days", "with_hourly_degree_days"]


def degree_day_column(kind: str, balance_point_c: float) -> str:
    """Column name of one balance point's degree days: `hdd_15`, `cdd_17.5`."""
    return f"{kind}_{balance_point_c:g}"


def hourly_degree_days(temperature_c: pd.Series, tz: str, balance_points_c: Sequence[float]) -> pd.DataFrame:
    """Per local day (naive date index): `hdd_<b>` and `cdd_<b>` for every balance point b."""
    values = pd.to_numeric(temperature_c, errors="coerce").astype(float)
    if values.dropna().empty:
        raise AnalyticsError("degree days: the temperature series has no values")
    values = values.dropna()
    keys = period_keys(values.index, "day", tz)
    points = np.asarray(balance_points_c, dtype=float)
    t = values.to_numpy()[:, None]
    heating = np.maximum(0.0, points[None, :] - t)
    cooling = np.maximum(0.0, t - points[None, :])
    columns = [degree_day_column("hdd", b) for b in points] + [degree_day_column("cdd", b) for b in points]
    frame = pd.DataFrame(np.hstack([heating, cooling]), index=keys, columns=columns)
    out = frame.groupby(level=0).mean()
    out.index.name = "period_start"
    return out


def with_hourly_degree_days(
    daily: pd.DataFrame, temperature_c: pd.Series, tz: str, balance_points_c: Sequence[float]
) -> pd.DataFrame:
    """The daily frame with hourly-derived degree-day columns joined on its dates."""
    table = hourly_degree_days(temperature_c, tz, balance_points_c)
    kept = daily.drop(columns=[c for c in table.columns if c in daily.columns])
    return kept.join(table, how="left")


def has_degree_days(frame: pd.DataFrame, balance_points_c: Sequence[float]) -> bool:
    """True when the frame carries degree-day columns for every balance point."""
    return all(
        degree_day_column(kind, b) in frame.columns for kind in ("hdd", "cdd") for b in balance_points_c
    )
