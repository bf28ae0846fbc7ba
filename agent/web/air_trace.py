"""The compressed-air page's time series (`GET /api/compressors/trace`): header pressure with its band,
and per machine per interval the loaded / unloaded / off shares and the discharge pressure.

Read from the history store through the same series names the recorder writes (`agent.mv.series`):
per compressor `{device}.loaded_h`, `.running_h`, `.pressure_bar`, `.pressure_min_bar`, and the
header transmitter's `air.header_pressure_bar` / `air.header_pressure_min_bar`. A site without a
header transmitter gets the lowest machine discharge pressure per interval instead, and the answer
says so (`header.source`). Long windows are served in buckets of whole intervals so a browser never
draws more than about `MAX_POINTS` points per series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from agent.history.store import HistoryStore
from agent.mv.series import compressor_series

__all__ = [
    "HEADER_MEAN_SERIES",
    "HEADER_MIN_SERIES",
    "MAX_HOURS",
    "MAX_POINTS",
    "PressureBand",
    "compressor_trace",
]

# The header transmitter's recorder series (issue 18 contract, section 4).
HEADER_MEAN_SERIES = "air.header_pressure_bar"
HEADER_MIN_SERIES = "air.header_pressure_min_bar"
MAX_HOURS = 24 * 31
MAX_POINTS = 500
_SHARES = ("loaded", "unloaded", "off")

JsonDict = dict[str, Any]
PressureBand = tuple[float, float] | None


def _bucket_size(intervals: int) -> int:
    return max(1, math.ceil(intervals / MAX_POINTS))


def _grid(start: pd.Timestamp, end: pd.Timestamp, interval_min: int) -> pd.DatetimeIndex:
    """Interval starts in [start, end), aligned to the interval length (UTC)."""
    step = pd.Timedelta(minutes=interval_min)
    first = start.floor(step)
    return pd.date_range(first, end, freq=step, inclusive="left")


def _bucketed(frame: pd.DataFrame, size: int, how: Mapping[str, str]) -> pd.DataFrame:
    """Groups of `size` consecutive intervals: each column reduced with its own function."""
    if size == 1 or frame.empty:
        return frame
    keys = np.arange(len(frame)) // size
    grouped = frame.groupby(keys).agg({c: how.get(c, "mean") for c in frame.columns})
    grouped.index = frame.index[::size][: len(grouped)]
    return grouped


def _values(series: pd.Series) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), 4) for v in series.to_numpy(dtype=float)]


def _shares(frame: pd.DataFrame, completeness: pd.Series, interval_h: float) -> pd.DataFrame:
    """Loaded / unloaded / off share of each interval's measured time; NaN where nothing was recorded.

    The unfinished interval holds only the hours measured so far: its shares are of that part
    (`completeness`), not of a whole interval, so the current interval never reads as mostly off."""
    covered = interval_h * completeness.reindex(frame.index).fillna(1.0).clip(lower=1e-9, upper=1.0)
    running = (frame["running_h"] / covered).clip(0.0, 1.0)
    loaded = (frame["loaded_h"] / covered).clip(0.0, 1.0)
    loaded = loaded.where(loaded <= running, running)
    return pd.DataFrame({"loaded": loaded, "unloaded": running - loaded, "off": 1.0 - running})


def compressor_trace(
    store: HistoryStore,
    devices: Sequence[str],
    *,
    now: pd.Timestamp,
    hours: int,
    interval_min: int,
    timezone: str,
    band: PressureBand,
    band_source: str,
    minimum_bar: float | None,
    minimum_source: str,
) -> JsonDict:
    """The trace JSON over the `hours` before `now` (UTC); x in the site's local time."""
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be 1..{MAX_HOURS}, got {hours}")
    start = now - pd.Timedelta(hours=hours)
    grid = _grid(start, now, interval_min)
    size = _bucket_size(len(grid))
    interval_h = interval_min / 60.0
    names = {
        device: {f: compressor_series(device, f) for f in ("loaded_h", "running_h", "pressure_bar")}
        | {"pressure_min_bar": compressor_series(device, "pressure_min_bar")}
        for device in devices
    }
    wanted = [n for fields in names.values() for n in fields.values()]
    first = grid[0]  # hours >= 1 and an interval <= 60 min: never empty
    raw = store.series([*wanted, HEADER_MEAN_SERIES, HEADER_MIN_SERIES], first, now).reindex(grid)
    completeness = store.series_completeness([names[d]["running_h"] for d in devices], first, now)
    completeness = completeness.reindex(grid)

    machines: dict[str, JsonDict] = {}
    discharge_mean: dict[str, pd.Series] = {}
    discharge_min: dict[str, pd.Series] = {}
    for device in devices:
        cols = names[device]
        frame = pd.DataFrame({f: raw[n] for f, n in cols.items()})
        shares = _shares(frame, completeness[cols["running_h"]], interval_h)
        pressure = frame["pressure_bar"]
        pressure_min = frame["pressure_min_bar"].fillna(pressure)
        discharge_mean[device], discharge_min[device] = pressure, pressure_min
        out = _bucketed(
            pd.concat([shares, pressure.rename("bar"), pressure_min.rename("min_bar")], axis=1),
            size,
            {"min_bar": "min"},
        )
        recorded = bool(frame[["loaded_h", "running_h"]].notna().all(axis=1).any())
        machines[device] = {
            "recorded": recorded,
            "shares": {k: _values(out[k]) for k in _SHARES},
            "pressure": {"bar": _values(out["bar"]), "min_bar": _values(out["min_bar"])},
        }

    header = _header(raw, discharge_mean, discharge_min, size)
    local = grid[::size].tz_convert(timezone).tz_localize(None)
    return {
        "available": header["recorded"] or any(m["recorded"] for m in machines.values()),
        "hours": hours,
        "start": start,
        "end": now,
        "timezone": timezone,
        "interval_minutes": interval_min,
        "step_minutes": interval_min * size,
        "x": [t.isoformat() for t in local],
        "header": header,
        "band": {
            "low_bar": None if band is None else band[0],
            "high_bar": None if band is None else band[1],
            "source": band_source,
        },
        "minimum": {"bar": minimum_bar, "source": minimum_source},
        "machines": machines,
    }


def _header(
    raw: pd.DataFrame,
    discharge_mean: Mapping[str, pd.Series],
    discharge_min: Mapping[str, pd.Series],
    size: int,
) -> JsonDict:
    """The header transmitter's series; without one, the lowest discharge pressure per interval."""
    if raw[HEADER_MEAN_SERIES].notna().any():
        mean = raw[HEADER_MEAN_SERIES]
        low = raw[HEADER_MIN_SERIES].fillna(mean)
        source = "header"
        detail = f"header pressure transmitter ({HEADER_MEAN_SERIES})"
    elif discharge_mean and any(s.notna().any() for s in discharge_mean.values()):
        # The header is downstream of every machine: it is at most the lowest discharge pressure
        # (less the dryer and filter drop, which is not measured here).
        mean = pd.DataFrame(discharge_mean).min(axis=1, skipna=True)
        low = pd.DataFrame(discharge_min).min(axis=1, skipna=True)
        source = "discharge"
        detail = "no header pressure transmitter: lowest machine discharge pressure per interval"
    else:
        empty = pd.Series(np.nan, index=raw.index)
        mean, low = empty, empty
        source = "none"
        detail = "no pressure recorded (no header transmitter, no machine discharge pressure)"
    out = _bucketed(pd.DataFrame({"bar": mean, "min_bar": low}), size, {"min_bar": "min"})
    return {
        "source": source,
        "detail": detail,
        "recorded": bool(mean.notna().any()),
        "bar": _values(out["bar"]),
        "min_bar": _values(out["min_bar"]),
    }
