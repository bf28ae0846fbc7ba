"""The rating data package of a period, straight from a site's config and history store.

One function, `rating_package`, used by `energy-agent rating`, by the dashboard (through
`rating_provider`, a `RatingProvider` for `HistorySource`) and by the runtime (publish the package
retained on `{prefix}/{site}/rating`). It reads the period's history (`read_period`), measures the
indicators (`agent.rating.measure`), adds the site's declared values and curves, and builds the
package; every measured indicator the data cannot support is named in the package's warnings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from agent.analytics.errors import InsufficientData
from agent.analytics.intervals import aggregate, daily_frame
from agent.analytics.windows import baseline_days, local_day_bounds
from agent.config.loader import LoadedConfig
from agent.config.site import SiteConfig
from agent.history.store import HistoryStore
from agent.rating.files import SiteRating
from agent.rating.measure import PeriodData, electricity_tree, measure, site_meters
from agent.rating.package import build_package
from agent.rating.period import RatingPeriod, parse_period
from agent.rating.rubric import Rubric

__all__ = [
    "COMPRESSOR_SERIES",
    "HISTORY_FILE",
    "TEMPERATURE_SERIES",
    "NoRatingData",
    "default_history_path",
    "rating_package",
    "rating_provider",
    "read_period",
]

HISTORY_FILE = "history.db"
# the same series names the dashboard reads (DashboardSettings defaults)
TEMPERATURE_SERIES = "temperature_c"
COMPRESSOR_SERIES = "{device}.{field}"
_COMPRESSOR_FIELDS = ("loaded_h", "running_h", "air_m3")


class NoRatingData(InsufficientData):
    """The history holds no site energy for the period: there is nothing to rate."""


def default_history_path(loaded: LoadedConfig) -> Path:
    """`<sinks.local_store.path>/history.db`; a relative store path is taken from the config's folder."""
    store = loaded.config.sinks.local_store.path
    directory = store if store.is_absolute() else (loaded.path.parent / store).resolve()
    return directory / HISTORY_FILE


def rating_package(
    loaded: LoadedConfig,
    history_path: Path,
    rubric: Rubric,
    site_rating: SiteRating | None,
    period: RatingPeriod | str,
    generated_at: datetime,
) -> dict[str, Any]:
    """The data package of `period` ('2026-10', '2026-Q4', '2026').

    A running period is measured up to `generated_at`. Raises ValueError for a bad period text,
    NoRatingData when the history (or the site's energy in the period) is missing.
    """
    if isinstance(period, str):
        period = parse_period(period)
    if not history_path.is_file():
        raise NoRatingData(f"no history store at {history_path}")
    config = loaded.config
    now = pd.Timestamp(generated_at).tz_convert("UTC")
    with HistoryStore(history_path) as store:
        data = read_period(store, config, period, now)
    measurement = measure(data, config)
    active = site_rating.rubric if site_rating is not None else rubric
    package = build_package(
        active,
        measurement.values,
        site_rating.declared if site_rating is not None else {},
        period=period,
        site=config.site.name,
        factors=measurement.factors,
        generated_at=generated_at,
    )
    known = {indicator.id for indicator in active.indicators}
    extra = [
        w for key, w in zip(measurement.not_measured, measurement.warnings(), strict=True) if key in known
    ]
    if site_rating is not None and site_rating.site != config.site.name:
        extra.append(f"site rating file is for {site_rating.site!r}, the config for {config.site.name!r}")
    package["warnings"] = [*package["warnings"], *extra]
    return package


def rating_provider(
    loaded: LoadedConfig,
    history_path: Path,
    rubric: Rubric,
    site_rating: SiteRating | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    cache_seconds: float = 300.0,
) -> Callable[[str], Mapping[str, Any] | None]:
    """A `RatingProvider` for the dashboard: period label -> package, cached per label.

    The cache matters: the overview asks for the year's rating on every refresh, and the verified
    savings rate fits a baseline (a few hundred candidate models) each time it is computed.
    """
    now = clock or (lambda: datetime.now().astimezone())
    cache: dict[str, tuple[float, dict[str, Any]]] = {}
    lock = threading.Lock()

    def provide(label: str) -> Mapping[str, Any] | None:
        with lock:
            hit = cache.get(label)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            package = rating_package(loaded, history_path, rubric, site_rating, label, now())
            cache[label] = (time.monotonic() + cache_seconds, package)
            return package

    return provide


# ---------------------------------------------------------------- reading the history


def read_period(
    store: HistoryStore, config: SiteConfig, period: RatingPeriod, now: pd.Timestamp
) -> PeriodData:
    """The period's frames (clipped to `now`); raises NoRatingData without site energy."""
    tz = config.analytics.timezone
    start, end = local_day_bounds(period.start, period.end - timedelta(days=1), tz)
    end = min(end, now)
    if end <= start:
        raise NoRatingData(f"period {period.label} has not begun yet")
    meters = _meters(store, config, start, end)
    if meters.empty:
        raise NoRatingData(f"the history {store.path} holds no energy for {period.label}")
    site = site_meters(config, list(meters.columns))
    production = _series(store, config.analytics.production.column, start, end)
    last_start, last_end = _year_earlier(period, tz, end - start)
    baseline, reason = _baseline(store, config, site)
    return PeriodData(
        start=start,
        end=end,
        meters=meters,
        months=_months(period),
        production=production,
        production_by_month=_by_month(production, tz),
        last_year_site=store.energy(site, last_start, last_end).dropna(axis=1, how="all"),
        last_year_production=_series(store, config.analytics.production.column, last_start, last_end),
        last_year_label=f"{period.start.year - 1} (same stretch)",
        baseline_days=baseline[0] if baseline else None,
        baseline_reason=reason,
        reporting_days=_reporting(store, config, site, period, baseline[1] if baseline else None, now),
        compressors=_compressors(store, config, start, end),
    )


def _meters(store: HistoryStore, config: SiteConfig, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    tree = list(electricity_tree(config))
    frame = store.energy(tree or None, start, end)
    return frame.dropna(axis=1, how="all")


def _series(store: HistoryStore, name: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series | None:
    frame = store.series([name], start, end)
    column = frame[name].dropna() if name in frame.columns else pd.Series(dtype=float)
    return None if column.empty else column


def _by_month(production: pd.Series | None, tz: str) -> dict[str, float]:
    if production is None:
        return {}
    months = aggregate(production.rename("units"), "month", tz)["units"]
    labels = pd.DatetimeIndex(months.index).strftime("%Y-%m")
    return {str(label): float(value) for label, value in zip(labels, months.to_numpy(), strict=True)}


def _months(period: RatingPeriod) -> tuple[str, ...]:
    months, day = [], period.start
    while day < period.end:
        months.append(day.strftime("%Y-%m"))
        day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return tuple(months)


def _year_earlier(period: RatingPeriod, tz: str, span: pd.Timedelta) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The same stretch one year earlier (a running period compares as many days as it has)."""
    first = period.start.replace(year=period.start.year - 1)
    start, _ = local_day_bounds(first, first, tz)
    return start, start + span


def _site_energy(store: HistoryStore, site: list[str], start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    frame = store.energy(site, start, end)
    # an interval counts only when every site meter has it, or a missing feeder would read as savings
    return frame.sum(axis=1, min_count=len(site)).rename("energy_kwh")


def _daily(store: HistoryStore, config: SiteConfig, site: list[str], first: date, last: date) -> pd.DataFrame:
    tz = config.analytics.timezone
    start, end = local_day_bounds(first, last, tz)
    return daily_frame(
        _site_energy(store, site, start, end),
        tz,
        production=_series(store, config.analytics.production.column, start, end),
        temperature_c=_series(store, TEMPERATURE_SERIES, start, end),
        interval_minutes=config.analytics.interval_minutes,
    )


def _baseline(
    store: HistoryStore, config: SiteConfig, site: list[str]
) -> tuple[tuple[pd.DataFrame, date] | None, str]:
    """(baseline daily frame, its last day) or None with the reason."""
    options = config.analytics.baseline
    span = store.span()
    if span is None:
        return None, "the history is empty"
    tz = config.analytics.timezone
    first, last = (ts.tz_convert(tz).date() for ts in span)
    configured_last = None if options.period_end is None else options.period_end - timedelta(days=1)
    try:
        window = baseline_days(first, last, options.period_start, configured_last)
    except InsufficientData as exc:
        return None, f"{exc} (analytics.baseline.period_end)"
    return (_daily(store, config, site, *window), window[1]), ""


def _reporting(
    store: HistoryStore,
    config: SiteConfig,
    site: list[str],
    period: RatingPeriod,
    baseline_last: date | None,
    now: pd.Timestamp,
) -> pd.DataFrame | None:
    if baseline_last is None:
        return None
    first = max(period.start, baseline_last + timedelta(days=1))
    last = min(period.end - timedelta(days=1), now.tz_convert(config.analytics.timezone).date())
    if last < first:
        return None
    return _daily(store, config, site, first, last)


def _compressors(
    store: HistoryStore, config: SiteConfig, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    machines = {}
    for spec in config.analytics.compressors:
        names = {COMPRESSOR_SERIES.format(device=spec.device, field=f): f for f in _COMPRESSOR_FIELDS}
        series = store.series(list(names), start, end).rename(columns=names)
        energy = store.energy([spec.device], start, end)[spec.device].rename("kwh")
        machines[spec.device] = series.join(energy, how="outer").dropna(axis=1, how="all")
    return machines
