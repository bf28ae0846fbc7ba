"""Read an interval CSV (a meter, utility or MES export) into checked, UTC-indexed columns.

The one reader behind `energy-agent import` (into a site's history store) and `energy-agent savings
--baseline B.csv --reporting R.csv` (no site at all). Pure: no store, no config, no I/O beyond
reading the file.

The file: a header row, then one row per interval. `timestamp` is the interval *start*, ISO 8601,
either with a UTC offset (`2026-03-29T03:00:00+02:00`, `...Z`) or naive local time in the time zone
the caller gives (`2026-03-29 03:00`, or a date alone for daily data). Every other column must be
one the caller's `ColumnMap` knows; it names the series the column becomes and converts its unit
(`temperature_f` -> degrees Celsius).

Naive local times are DST-correct: the hour that repeats when clocks go back is resolved by
position (in a file going forward in time, its first occurrence is summer time, the second winter
time; a file going backward the other way round), and a time that does not exist because clocks
jumped forward is an error with its row. The interval is taken from the data (the most common step:
15 min, hourly, daily, or any step that divides a day); daily rows are local days (23 or 25 hours
on a DST change).

Errors are collected, not stopped at: every bad number, bad time, duplicate time or unknown column is
a `ConfigIssue(file, row, column, message)` (row 1 is the header, so rows are the file's line
numbers), and one `ConfigError` carries them all. Nothing is returned from a bad file, so a caller
cannot half-import it. Empty cells are missing data (NaN), never zero.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from agent.errors import ConfigError, ConfigIssue

__all__ = [
    "TIME_COLUMN",
    "Column",
    "ColumnMap",
    "IntervalData",
    "interval_label",
    "read_interval_csv",
    "temperature_column",
]

TIME_COLUMN = "timestamp"
DAY_S = 86400
MAX_ISSUES = 20  # listed; the rest are counted, so a wrong file does not print 35,000 lines

# a time of day followed by Z or an offset: +08:00, +0800, -05 (a date alone has no offset)
_OFFSET = re.compile(r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    """What a CSV column becomes: series `name`, value = raw x scale + offset (a unit conversion)."""

    name: str
    scale: float = 1.0
    offset: float = 0.0


ColumnMap = Callable[[str], Column | None]
"""Header -> Column, or None for a column the caller does not accept (an error naming it)."""


def temperature_column(header: str, unit: str | None = None) -> Column | None:
    """`temperature_c`, `temperature_f` (converted to degC), or `temperature` in `unit` ("C" or "F")."""
    fahrenheit = Column("temperature_c", 5 / 9, -32 * 5 / 9)
    if header == "temperature_c":
        return Column("temperature_c")
    if header == "temperature_f":
        return fahrenheit
    if header == "temperature" and unit is not None:
        return fahrenheit if unit.upper() == "F" else Column("temperature_c")
    return None


def interval_label(seconds: int) -> str:
    if seconds == DAY_S:
        return "daily"
    if seconds == 3600:
        return "hourly"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


@dataclass(frozen=True)
class IntervalData:
    """A checked interval file: values by series name on a sorted UTC index of interval starts."""

    source: str
    values: pd.DataFrame  # index: UTC interval starts ("start"); one float column per series; NaN = missing
    seconds: np.ndarray  # length of each row's interval, s (daily rows: 82,800..90,000 across DST)
    interval_s: int  # the file's nominal step: 900, 3600, 86400, ...
    headers: dict[str, str] = field(default_factory=dict)  # series name -> the header it came from

    @property
    def granularity(self) -> str:
        """ "daily", "hourly", "15 min", ..."""
        return interval_label(self.interval_s)

    @property
    def rows(self) -> int:
        return len(self.values)


class _Issues:
    def __init__(self, source: str) -> None:
        self.source = source
        self.listed: list[ConfigIssue] = []
        self.more = 0

    def add(self, row: int | None, column: str, message: str) -> None:
        if len(self.listed) < MAX_ISSUES:
            self.listed.append(ConfigIssue(self.source, row, column, message))
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if not self.listed:
            return
        issues = list(self.listed)
        if self.more:
            issues.append(ConfigIssue(self.source, None, "", f"... and {self.more} more problem(s)"))
        raise ConfigError(issues)


def read_interval_csv(path: Path, columns: ColumnMap, *, timezone: str | None = None) -> IntervalData:
    """Read and check `path`; naive times are local times in `timezone` (an IANA name)."""
    source = str(path)
    issues = _Issues(source)
    zone = _zone(timezone, source)
    header, lines, rows = _read_rows(path, issues)
    mapped = _map_header(header, columns, issues)
    issues.raise_if_any()
    table = np.array(rows, dtype=object).reshape(len(rows), len(header)) if rows else None
    if table is None or len(rows) < 2:
        raise ConfigError(
            [ConfigIssue(source, None, "", "needs at least two data rows (the interval is read from them)")]
        )
    line_numbers = np.asarray(lines)
    times = _parse_times(table[:, header.index(TIME_COLUMN)], line_numbers, zone, timezone, issues)
    values = {
        col.name: _parse_numbers(table[:, i], line_numbers, header[i], col, issues)
        for i, col in mapped.items()
    }
    issues.raise_if_any()
    order = np.argsort(times, kind="stable")
    starts = times[order]
    _check_duplicates(starts, line_numbers[order], issues)
    issues.raise_if_any()
    interval_s = _detect_interval(starts, line_numbers[order], issues)
    issues.raise_if_any()
    index = pd.DatetimeIndex(pd.to_datetime(starts, unit="s", utc=True), name="start")
    frame = pd.DataFrame({name: v[order] for name, v in values.items()}, index=index)
    return IntervalData(
        source,
        frame,
        _row_seconds(index, interval_s, zone),
        interval_s,
        {col.name: header[i] for i, col in mapped.items()},
    )


def _zone(timezone: str | None, source: str) -> ZoneInfo | None:
    if timezone is None:
        return None
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError([ConfigIssue(source, None, "", f"unknown time zone {timezone!r}")]) from None


def _read_rows(path: Path, issues: _Issues) -> tuple[list[str], list[int], list[list[str]]]:
    """Header, the line number of each data row, the rows (blank lines skipped, numbering kept)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:  # -sig: Excel's byte-order mark
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            lines, rows = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    issues.add(reader.line_num, "", f"{len(row)} fields, the header has {len(header)}")
                    continue
                lines.append(reader.line_num)
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError([ConfigIssue(str(path), None, "", f"cannot read the CSV: {exc}")]) from None
    return header, lines, rows


def _map_header(header: list[str], columns: ColumnMap, issues: _Issues) -> dict[int, Column]:
    if TIME_COLUMN not in header:
        issues.add(1, TIME_COLUMN, f"the header has no {TIME_COLUMN!r} column (the interval start)")
    mapped: dict[int, Column] = {}
    seen: dict[str, str] = {}
    for i, name in enumerate(header):
        if name == TIME_COLUMN:
            continue
        if header.index(name) != i:
            issues.add(1, name, "this column appears twice in the header")
            continue
        column = columns(name)
        if column is None:
            issues.add(1, name, "unknown column")
        elif column.name in seen:
            issues.add(1, name, f"gives the same series ({column.name}) as column {seen[column.name]!r}")
        else:
            seen[column.name] = name
            mapped[i] = column
    return mapped


def _parse_numbers(
    cells: np.ndarray, lines: np.ndarray, header: str, column: Column, issues: _Issues
) -> np.ndarray:
    try:  # the common case, a clean column, in one conversion
        numbers = cells.astype(float)
    except ValueError:  # an empty or bad cell somewhere: find which
        text = pd.Series(cells, dtype=object).str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=float)
        for i in np.flatnonzero(np.isnan(numbers) & (text != "").to_numpy()):
            issues.add(int(lines[i]), header, f"not a number: {cells[i]!r}")
    for i in np.flatnonzero(np.isinf(numbers)):
        issues.add(int(lines[i]), header, f"not a number: {cells[i]!r}")
    scaled: np.ndarray = numbers * column.scale + column.offset
    return scaled


def _parse_times(
    cells: np.ndarray, lines: np.ndarray, zone: ZoneInfo | None, zone_name: str | None, issues: _Issues
) -> np.ndarray:
    """UTC epoch seconds of every row (garbage where an issue was recorded)."""
    text = pd.Series(cells, dtype=object).str.strip()
    with_offset = text.str.contains(_OFFSET).to_numpy(dtype=bool)
    seconds = np.zeros(len(text), dtype=np.int64)
    for i in np.flatnonzero((text == "").to_numpy()):
        issues.add(int(lines[i]), TIME_COLUMN, "no time")
    if with_offset.any() and not with_offset.all():
        first = int(lines[np.flatnonzero(with_offset)[0]])
        for i in np.flatnonzero(~with_offset & (text != "").to_numpy()):
            issues.add(
                int(lines[i]),
                TIME_COLUMN,
                f"{cells[i]!r} has no UTC offset, row {first} has one: use one form",
            )
        return seconds
    if with_offset.all():
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        _report_unparsed(parsed, cells, lines, issues)
        return _epoch(parsed)
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    _report_unparsed(parsed, cells, lines, issues)
    if issues.listed:
        return seconds
    if zone is None:
        issues.add(int(lines[0]), TIME_COLUMN, "times have no UTC offset: give the time zone they are in")
        return seconds
    return _localize(pd.DatetimeIndex(parsed), lines, zone, zone_name or str(zone), issues)


def _report_unparsed(parsed: pd.Series, cells: np.ndarray, lines: np.ndarray, issues: _Issues) -> None:
    for i in np.flatnonzero(parsed.isna().to_numpy()):
        if str(cells[i]).strip():
            issues.add(int(lines[i]), TIME_COLUMN, f"not an ISO 8601 time: {cells[i]!r}")


def _epoch(parsed: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """UTC epoch seconds of tz-aware times (0 where NaT: those rows carry an issue)."""
    index = pd.DatetimeIndex(parsed)
    out: np.ndarray = np.where(index.isna(), 0, index.as_unit("s").asi8).astype(np.int64)
    return out


def _localize(
    naive: pd.DatetimeIndex, lines: np.ndarray, zone: ZoneInfo, zone_name: str, issues: _Issues
) -> np.ndarray:
    """Naive local times -> UTC seconds: repeated hour by position, skipped hour an error."""
    n = len(naive)
    summer = naive.tz_localize(zone, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT")
    winter = naive.tz_localize(zone, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT")
    wall = naive.as_unit("s").asi8  # local wall-clock seconds, the key of a repeated time
    summer_s, winter_s = _epoch(summer), _epoch(winter)
    for i in np.flatnonzero(np.asarray(summer.isna())):
        when = pd.Timestamp(int(wall[i]), unit="s")
        issues.add(
            int(lines[i]),
            TIME_COLUMN,
            f"{when:%Y-%m-%d %H:%M} does not exist in {zone_name} (clocks jump forward then)",
        )
    ambiguous = np.flatnonzero(np.asarray(~np.asarray(summer.isna())) & (summer_s != winter_s))
    forward = wall[-1] >= wall[0]
    use_summer = np.ones(n, dtype=bool)
    occurrences: dict[int, int] = {}
    for i in ambiguous:  # file order: the first of a repeated local time is the earlier instant
        k = occurrences.get(int(wall[i]), 0)
        occurrences[int(wall[i])] = k + 1
        use_summer[i] = (k == 0) == forward
    chosen: np.ndarray = np.where(use_summer, summer_s, winter_s)
    return chosen


def _check_duplicates(starts: np.ndarray, lines: np.ndarray, issues: _Issues) -> None:
    for i in np.flatnonzero(np.diff(starts) == 0):
        first, again = sorted((int(lines[i]), int(lines[i + 1])))
        when = pd.Timestamp(int(starts[i]), unit="s", tz="UTC")
        issues.add(again, TIME_COLUMN, f"duplicate time {when:%Y-%m-%d %H:%M}Z (same instant as row {first})")


def _detect_interval(starts: np.ndarray, lines: np.ndarray, issues: _Issues) -> int:
    """The most common step; every row must sit on its grid (gaps of whole steps are fine)."""
    steps = np.diff(starts)
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    if step in (DAY_S - 3600, DAY_S + 3600):
        step = DAY_S
    if step == DAY_S:
        off = np.abs(steps - np.round(steps / DAY_S) * DAY_S) > 3600
    elif step >= 60 and DAY_S % step == 0:
        off = (starts[1:] - starts[0]) % step != 0
    else:
        issues.add(None, TIME_COLUMN, f"the rows are {step} s apart: expected a step that divides a day")
        return step
    for i in np.flatnonzero(off):
        issues.add(
            int(lines[i + 1]),
            TIME_COLUMN,
            f"off the file's {interval_label(step)} grid (row {int(lines[0])} starts it)",
        )
    return step


def _row_seconds(index: pd.DatetimeIndex, interval_s: int, zone: ZoneInfo | None) -> np.ndarray:
    if interval_s != DAY_S or zone is None:
        return np.full(len(index), interval_s, dtype=np.int64)
    local = index.tz_convert(zone)
    days = local + pd.DateOffset(days=1)  # the same wall-clock time next day: 23, 24 or 25 h later
    out: np.ndarray = (days.as_unit("s").asi8 - local.as_unit("s").asi8).astype(np.int64)
    return out
