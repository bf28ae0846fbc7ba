"""A synthetic site with known answers for the dashboard and report tests.

Baseline 2025-01-01 .. 2025-07-19 (200 days), then every meter uses exactly 10 % less than the
same model predicts (a retrofit with known true savings), up to NOW = 2025-10-15 14:00 local.
Daily site energy = 2000 + 0.5 x production + 30 x CDD(22 degC) kWh, with 2 % noise; sub-meters
take fixed shares of the site (line-1 60 %, air-room 30 %; 10 % unaccounted); two compressors
hang below air-room with known load/unload hours. A header pressure transmitter records a pressure
that cycles inside 6.6 .. 7.1 bar (mean) with its interval minimum 0.15 bar lower, inside the declared
band 6.5 .. 7.2 bar, minimum 6.3 bar (optional: `build_site(..., header=False)` is a room without one).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from agent.config.analytics import AnalyticsConfig, CompressedAirConfig, CompressorSpec
from agent.history.store import HistoryStore
from agent.mv.site import MvSite
from agent.web.source import DashboardSettings

__all__ = [
    "HEADER_HIGH_BAR",
    "HEADER_LOW_BAR",
    "HEADER_MIN_DROP_BAR",
    "NOW",
    "REPORTING_START",
    "TZ",
    "SyntheticSite",
    "build_site",
    "settings",
]

TZ = "Asia/Shanghai"
FIRST_DAY = date(2025, 1, 1)
BASELINE_END = date(2025, 7, 19)
REPORTING_START = date(2025, 7, 20)
NOW = pd.Timestamp("2025-10-15 14:00", tz=TZ).tz_convert("UTC")
REDUCTION = 0.10
# Share of a day's energy in each local hour: low at night, a working-day plateau.
_HOUR_SHAPE = np.array([0.5] * 7 + [1.2] * 12 + [0.7] * 5)
_HOUR_SHAPE = _HOUR_SHAPE / _HOUR_SHAPE.sum()


@dataclass(frozen=True)
class SyntheticSite:
    path: Path
    settings: DashboardSettings
    energy: pd.DataFrame  # the wide kWh frame written (UTC index)
    production: pd.Series


def _days(rng: np.random.Generator) -> pd.DataFrame:
    days = pd.date_range(FIRST_DAY, NOW.tz_convert(TZ).date(), freq="D")
    doy = days.day_of_year.to_numpy()
    temperature = 18 - 11 * np.cos(2 * np.pi * (doy - 15) / 365) + rng.normal(0, 1.5, len(days))
    weekday = days.day_of_week < 5
    production = np.where(weekday, 4000.0, 1000.0) * rng.uniform(0.9, 1.1, len(days))
    cdd = np.clip(temperature - 22, 0, None)
    model = 2000 + 0.5 * production + 30 * cdd
    energy = model * rng.normal(1.0, 0.02, len(days))
    energy = np.where(days.date >= REPORTING_START, energy * (1 - REDUCTION), energy)
    return pd.DataFrame({"energy": energy, "production": production, "temperature": temperature}, index=days)


def _intervals(days: pd.DataFrame) -> pd.DataFrame:
    local = pd.date_range(
        pd.Timestamp(days.index[0]).tz_localize(TZ), NOW.tz_convert(TZ), freq="15min", inclusive="left"
    )
    day_key = local.tz_localize(None).normalize()
    per_day = days.reindex(day_key)
    hour_share = _HOUR_SHAPE[local.hour] / 4
    working = ((local.hour >= 8) & (local.hour < 20)).astype(float)
    return pd.DataFrame(
        {
            "main": per_day["energy"].to_numpy() * hour_share,
            "production": per_day["production"].to_numpy() * working / 48,
            "temperature_c": per_day["temperature"].to_numpy(),
        },
        index=local.tz_convert("UTC"),
    )


# header pressure: a load/unload cycle of 7 intervals between these bounds (bar(g))
HEADER_LOW_BAR, HEADER_HIGH_BAR = 6.6, 7.1
HEADER_MIN_DROP_BAR = 0.15


def _header(frame: pd.DataFrame) -> dict[str, pd.Series]:
    phase = np.arange(len(frame)) % 7 / 6.0  # 0 .. 1 within each cycle
    mean = HEADER_LOW_BAR + (HEADER_HIGH_BAR - HEADER_LOW_BAR) * np.abs(2 * phase - 1)
    return {
        "air.header_pressure_bar": pd.Series(mean, index=frame.index),
        "air.header_pressure_min_bar": pd.Series(mean - HEADER_MIN_DROP_BAR, index=frame.index),
    }


def _compressors(frame: pd.DataFrame) -> dict[str, pd.Series]:
    local_hour = frame.index.tz_convert(TZ).hour
    day = (local_hour >= 8) & (local_hour < 20)
    series = {
        "comp-1.running_h": pd.Series(0.25, index=frame.index),
        "comp-1.loaded_h": pd.Series(np.where(day, 0.20, 0.075), index=frame.index),
        "comp-1.pressure_bar": pd.Series(np.where(day, 7.1, 7.4), index=frame.index),
        "comp-2.running_h": pd.Series(np.where(day, 0.25, 0.0), index=frame.index),
        "comp-2.loaded_h": pd.Series(np.where(day, 0.10, 0.0), index=frame.index),
        "comp-2.pressure_bar": pd.Series(np.where(day, 7.0, np.nan), index=frame.index),
        "comp-1.pressure_min_bar": pd.Series(np.where(day, 6.9, 7.3), index=frame.index),
        "comp-2.pressure_min_bar": pd.Series(np.where(day, 6.8, np.nan), index=frame.index),
    }
    return series


def settings(**overrides: object) -> DashboardSettings:
    analytics = AnalyticsConfig(
        timezone=TZ,
        compressed_air=CompressedAirConfig(pressure_band_bar=(6.5, 7.2), minimum_pressure_bar=6.3),
        compressors=(
            CompressorSpec(
                device="comp-1", rated_power_kw=37, rated_fad_m3_min=6.0, nameplate_specific_power=6.2
            ),
            CompressorSpec(device="comp-2", rated_power_kw=22, rated_fad_m3_min=3.6),
        ),
    )
    values: dict[str, object] = {
        "display_name": "Synthetic Plant",
        "analytics": analytics,
        "baseline_start": FIRST_DAY,
        "baseline_end": BASELINE_END,
    }
    values.update(overrides)
    parents = {"main": None, "line-1": "main", "air-room": "main", "comp-1": "air-room", "comp-2": "air-room"}
    return DashboardSettings(MvSite.of_tree("synthetic-plant", parents, **values))


def build_site(path: Path, seed: int = 1, *, header: bool = True) -> SyntheticSite:
    """The synthetic site's history at `path`, written through HistoryStore's public writers.

    Writing it takes about 1.7 s (13 executemany batches); a dozen test modules want the same site.
    The first call per (seed, header) in a process writes it and keeps a pristine copy of the closed
    file; later calls copy that file to their own `path`, so every caller still owns the file it may
    add to or damage, and the frames returned are copies too."""
    key = (seed, header)
    if key not in _BUILT:
        energy, production = _write_site(path, seed, header)
        keep = Path(tempfile.mkdtemp(prefix="synthetic-site-"))
        atexit.register(shutil.rmtree, keep, ignore_errors=True)
        shutil.copyfile(path, keep / "history.sqlite")
        _BUILT[key] = (keep / "history.sqlite", energy, production)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_BUILT[key][0], path)
    _, energy, production = _BUILT[key]
    return SyntheticSite(path, settings(), energy.copy(), production.copy())


# (seed, header) -> the pristine written file and the frames it holds
_BUILT: dict[tuple[int, bool], tuple[Path, pd.DataFrame, pd.Series]] = {}


def _write_site(path: Path, seed: int, header: bool) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = _intervals(_days(rng))
    energy = pd.DataFrame(
        {
            "main": frame["main"],
            "line-1": frame["main"] * 0.6,
            "air-room": frame["main"] * 0.3,
            "comp-1": frame["main"] * 0.3 * 0.55,
            "comp-2": frame["main"] * 0.3 * 0.40,
        }
    )
    with HistoryStore(path) as store:
        store.write_energy_frame(energy, 900, method="counter")
        store.write_series("production", frame["production"])
        store.write_series("temperature_c", frame["temperature_c"])
        series = _compressors(frame) | (_header(frame) if header else {})
        for name, values in series.items():
            store.write_series(name, values)
    production: pd.Series = frame["production"]
    return energy, production
