"""Interval energy: reshape, aggregate to calendar periods and shifts, completeness, meter tree.

Input convention (what a 15-minute CSV loads into):

* **long**: one row per (interval start, device) with columns `ts` (UTC or offset-aware ISO time),
  `device`, `kwh` and optionally `quality` ('good' / 'stale' / 'bad'); `to_wide` turns it into
* **wide**: a DataFrame indexed by the tz-aware UTC interval *start*, one column per device, kWh in
  that interval; NaN means missing or not good. All functions below take the wide form.

Calendar periods are the site's local wall-clock periods; their labels are naive local period starts
(`period_start` index) so that a day or month is never shifted by a UTC offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from agent.analytics.errors import AnalyticsError
from agent.config.analytics import Shift, minutes_of

__all__ = [
    "Completeness",
    "Freq",
    "MeterTree",
    "aggregate",
    "aggregate_by_shift",
    "completeness",
    "configuration_rate",
    "daily_frame",
    "period_keys",
    "shift_labels",
    "to_wide",
]

Freq = Literal["hour", "day", "week", "month"]


def to_wide(
    long: pd.DataFrame,
    *,
    time: str = "ts",
    device: str = "device",
    value: str = "kwh",
    quality: str | None = "quality",
) -> pd.DataFrame:
    """Long rows -> wide kWh frame (UTC index, one column per device); non-good values become NaN."""
    for column in (time, device, value):
        if column not in long.columns:
            raise AnalyticsError(f"long energy frame: column {column!r} missing (have {list(long.columns)})")
    values = pd.to_numeric(long[value], errors="coerce").astype(float)
    if quality is not None and quality in long.columns:
        values = values.where(long[quality].astype(str) == "good")
    stamps = pd.to_datetime(long[time], utc=True)
    frame = pd.DataFrame({"ts": stamps, "device": long[device].astype(str), "kwh": values})
    # duplicates are summed, but a cell with only missing values stays missing (not 0)
    wide = frame.groupby(["ts", "device"])["kwh"].sum(min_count=1).unstack("device")
    wide.columns.name = None
    return wide.sort_index()


def _require_utc(index: pd.Index, what: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise AnalyticsError(f"{what}: index must be a tz-aware DatetimeIndex (UTC interval starts)")
    return index


def _local_naive(index: pd.Index, tz: str, what: str) -> pd.DatetimeIndex:
    return _require_utc(index, what).tz_convert(tz).tz_localize(None)


def period_keys(index: pd.Index, freq: Freq, tz: str) -> pd.DatetimeIndex:
    """Naive local start of the calendar period each UTC timestamp falls in (weeks start Monday)."""
    local = _local_naive(index, tz, "period_keys")
    if freq == "hour":
        return local.floor("h")
    day = local.normalize()
    if freq == "day":
        return day
    if freq == "week":
        return day - pd.to_timedelta(day.day_of_week, unit="D")
    return day - pd.to_timedelta(day.day - 1, unit="D")


def aggregate(frame: pd.DataFrame | pd.Series, freq: Freq, tz: str) -> pd.DataFrame:
    """Sum interval energy to local periods; a period with no value at all is NaN, not 0."""
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    keys = period_keys(data.index, freq, tz)
    out = data.groupby(keys.rename("period_start")).sum(min_count=1)
    return out


def _expected_counts(starts: pd.DatetimeIndex, freq: Freq, tz: str, interval_minutes: int) -> pd.Series:
    """Intervals a complete local period holds (a 23-hour DST day holds 92 quarter hours)."""
    if freq == "hour":
        return pd.Series(60 // interval_minutes, index=starts, dtype=float)
    step = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1)}
    ends = starts + step[freq]
    utc_start = starts.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    utc_end = ends.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    minutes = (utc_end - utc_start).total_seconds() / 60.0
    return pd.Series(np.asarray(minutes) / interval_minutes, index=starts, dtype=float)


@dataclass(frozen=True)
class Completeness:
    """Per local period and device: intervals expected, present (good), and the share present."""

    expected: pd.Series
    present: pd.DataFrame
    share: pd.DataFrame

    def missing(self) -> pd.DataFrame:
        return self.present.rsub(self.expected, axis=0)


def completeness(
    frame: pd.DataFrame | pd.Series, freq: Freq, tz: str, *, interval_minutes: int = 15
) -> Completeness:
    """Good intervals present vs expected per period. Only periods touched by the index are listed:
    reindex the frame to the full window first to see wholly missing periods."""
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    keys = period_keys(data.index, freq, tz).rename("period_start")
    present = data.notna().groupby(keys).sum().astype(float)
    expected = _expected_counts(pd.DatetimeIndex(present.index), freq, tz, interval_minutes)
    share = present.div(expected, axis=0).clip(upper=1.0)
    return Completeness(expected=expected, present=present, share=share)


# ---------------------------------------------------------------- shifts


def _shift_table(shifts: Sequence[Shift]) -> np.ndarray:
    """Minute-of-day -> shift number; every minute must belong to exactly one shift."""
    owner = np.full(24 * 60, -1, dtype=np.int16)
    for number, shift in enumerate(shifts):
        start, end = minutes_of(shift.start), minutes_of(shift.end)
        minutes = np.arange(start, end) if end > start else np.r_[np.arange(start, 1440), np.arange(0, end)]
        if (owner[minutes] >= 0).any():
            raise AnalyticsError(f"shift {shift.name!r} overlaps another shift")
        owner[minutes] = number
    if (owner < 0).any():
        first = int(np.argmax(owner < 0))
        raise AnalyticsError(f"shift table leaves {first // 60:02d}:{first % 60:02d} uncovered")
    return owner


def shift_labels(index: pd.Index, shifts: Sequence[Shift], tz: str) -> pd.DataFrame:
    """Per timestamp: the shift name and the shift date (the local date on which that shift began)."""
    local = _local_naive(index, tz, "shift_labels")
    owner = _shift_table(shifts)
    minute = np.asarray(local.hour * 60 + local.minute)
    number = owner[minute]
    starts = np.array([minutes_of(s.start) for s in shifts])
    began_yesterday = minute < starts[number]
    date = local.normalize() - pd.to_timedelta(began_yesterday.astype(int), unit="D")
    names = np.array([s.name for s in shifts], dtype=object)[number]
    return pd.DataFrame({"shift_date": date, "shift": names}, index=index)


def aggregate_by_shift(frame: pd.DataFrame | pd.Series, shifts: Sequence[Shift], tz: str) -> pd.DataFrame:
    """Sum interval energy per (shift date, shift)."""
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    labels = shift_labels(data.index, shifts, tz)
    keys = [labels["shift_date"].to_numpy(), labels["shift"].to_numpy()]
    out = data.groupby(keys).sum(min_count=1)
    out.index = out.index.set_names(["shift_date", "shift"])
    return out


# ---------------------------------------------------------------- baseline input


def daily_frame(
    energy_kwh: pd.Series,
    tz: str,
    *,
    production: pd.Series | None = None,
    temperature_c: pd.Series | None = None,
    interval_minutes: int = 15,
) -> pd.DataFrame:
    """Interval series -> one row per local day: energy_kwh, production, temperature_c, coverage.

    Production is summed (a count per interval), temperature averaged (a gauge), coverage is the
    share of the day's energy intervals present. This is the input of `baseline.fit`.
    """
    energy = aggregate(energy_kwh.rename("energy_kwh"), "day", tz)["energy_kwh"]
    cover = completeness(energy_kwh, "day", tz, interval_minutes=interval_minutes).share.iloc[:, 0]
    out = pd.DataFrame({"energy_kwh": energy, "coverage": cover})
    if production is not None:
        out["production"] = aggregate(production.rename("p"), "day", tz)["p"]
    if temperature_c is not None:
        keys = period_keys(temperature_c.index, "day", tz).rename("period_start")
        out["temperature_c"] = temperature_c.groupby(keys).mean()
    return out


# ---------------------------------------------------------------- meter tree


class MeterTree:
    """Main meters and their sub-meters (`parents[meter] = parent or None`)."""

    def __init__(self, parents: Mapping[str, str | None]) -> None:
        self.parents = dict(parents)
        for meter, parent in self.parents.items():
            if parent is not None and parent not in self.parents:
                raise AnalyticsError(f"meter tree: parent {parent!r} of {meter!r} is not a meter")
        for meter in self.parents:
            self.depth(meter)

    def depth(self, meter: str) -> int:
        seen = [meter]
        parent = self.parents[meter]
        while parent is not None:
            if parent in seen:
                raise AnalyticsError(f"meter tree: cycle through {' -> '.join([*seen, parent])}")
            seen.append(parent)
            parent = self.parents[parent]
        return len(seen) - 1

    def children(self, meter: str) -> list[str]:
        return [m for m, p in self.parents.items() if p == meter]

    def roots(self) -> list[str]:
        return [m for m, p in self.parents.items() if p is None]

    def to_dict(self) -> dict[str, str | None]:
        return dict(self.parents)

    def balance(self, totals: Mapping[str, float] | pd.Series) -> pd.DataFrame:
        """Per parent meter: its energy, the sum of its sub-meters, and what they leave unaccounted."""
        energy = pd.Series(totals, dtype=float)
        rows = []
        for meter in self.parents:
            kids = self.children(meter)
            if not kids:
                continue
            parent_kwh = float(energy[meter])
            kids_kwh = float(energy[kids].sum())
            unaccounted = parent_kwh - kids_kwh
            share = unaccounted / parent_kwh if parent_kwh else float("nan")
            rows.append((meter, parent_kwh, kids_kwh, unaccounted, share, len(kids)))
        columns = ["meter", "meter_kwh", "children_kwh", "unaccounted_kwh", "unaccounted_share", "children"]
        return pd.DataFrame(rows, columns=columns).set_index("meter")


def configuration_rate(installed: Iterable[str], required: Iterable[str]) -> float:
    """GB 17167 configuration rate: required instruments that are installed / required instruments."""
    need = set(required)
    if not need:
        raise AnalyticsError("configuration_rate: the list of required instruments is empty")
    return len(need & set(installed)) / len(need)
