"""Local calendar windows shared by the dashboard, the report and the rating.

Dates here are the site's local dates; the history is indexed in UTC, so every read of a local window
goes through `local_day_bounds`. The default baseline rule lives here once so that the dashboard's
savings and the rating's verified savings rate can never fit different baselines.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from agent.analytics.errors import InsufficientData

__all__ = ["DEFAULT_BASELINE_DAYS", "MIN_HISTORY_DAYS_FOR_DEFAULT", "baseline_days", "local_day_bounds"]

DEFAULT_BASELINE_DAYS = 365
# a default baseline needs a year plus a month of reporting, or the savings would cover nothing
MIN_HISTORY_DAYS_FOR_DEFAULT = 395


def local_day_bounds(first: date, last: date, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC [start, end) of the local days `first`..`last` (both included)."""
    start = pd.Timestamp(first).tz_localize(tz).tz_convert("UTC")
    end = pd.Timestamp(last + timedelta(days=1)).tz_localize(tz).tz_convert("UTC")
    return start, end


def baseline_days(
    history_first: date, history_last: date, start: date | None, last: date | None
) -> tuple[date, date]:
    """The baseline's first and last local day (both included).

    A configured last day wins (first day: the configured one, else the history's first); without
    one, the history's first 365 days, provided the history spans at least 13 months.
    """
    if last is not None:
        return (start or history_first), last
    if (history_last - history_first).days < MIN_HISTORY_DAYS_FOR_DEFAULT:
        raise InsufficientData("baseline: set baseline_end (the history is shorter than 13 months)")
    return history_first, history_first + timedelta(days=DEFAULT_BASELINE_DAYS - 1)
