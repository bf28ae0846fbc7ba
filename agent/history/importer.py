"""Import interval CSV files (an MES/ERP export, or the simulator's history) into the history store.

Format: one row per interval, a `timestamp` column (ISO 8601 with a UTC offset; naive times are read
in the given site time zone) and one column per quantity. Columns named `<device>_kwh` for a known
device (or for any device when none are given) become interval energy; every other numeric column is
stored as a named series (production units, temperature, compressor loaded seconds, ...).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from agent.errors import ConfigError, ConfigIssue
from agent.history.store import HistoryStore

__all__ = ["ImportSummary", "import_interval_csv"]


@dataclass(frozen=True)
class ImportSummary:
    rows: int
    energy_devices: tuple[str, ...]
    series: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp


def import_interval_csv(
    path: Path,
    store: HistoryStore,
    *,
    devices: Collection[str] | None = None,
    timezone: str = "Asia/Shanghai",
    interval_s: int = 900,
) -> ImportSummary:
    """Read `path` and upsert its contents; re-importing the same file changes nothing."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError([ConfigIssue(str(path), None, "", f"cannot read CSV: {exc}")]) from None
    if "timestamp" not in frame.columns:
        raise ConfigError([ConfigIssue(str(path), 1, "timestamp", "the header has no 'timestamp' column")])
    index = _parse_times(frame.pop("timestamp"), path, timezone)
    frame.index = index
    energy_cols = {
        c: c.removesuffix("_kwh")
        for c in frame.columns
        if c.endswith("_kwh") and (devices is None or c.removesuffix("_kwh") in devices)
    }
    energy = frame[list(energy_cols)].rename(columns=energy_cols)
    store.write_energy_frame(energy.astype(float), seconds=interval_s, method="imported")
    series = [c for c in frame.columns if c not in energy_cols and pd.api.types.is_numeric_dtype(frame[c])]
    for name in series:
        store.write_series(name, frame[name].astype(float))
    return ImportSummary(len(frame), tuple(energy.columns), tuple(series), index.min(), index.max())


def _parse_times(column: pd.Series, path: Path, timezone: str) -> pd.DatetimeIndex:
    try:
        parsed = pd.to_datetime(column, format="ISO8601", utc=False)
    except (ValueError, TypeError) as exc:
        raise ConfigError([ConfigIssue(str(path), None, "timestamp", f"not ISO 8601 times: {exc}")]) from None
    index = pd.DatetimeIndex(parsed)
    if index.tz is None:
        index = index.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    bad = int(pd.isna(index).sum())
    if bad:
        raise ConfigError([ConfigIssue(str(path), None, "timestamp", f"{bad} time(s) missing or not valid")])
    return index.tz_convert("UTC")
