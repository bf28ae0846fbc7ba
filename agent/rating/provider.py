"""The rating data package of a period, from the site's M&V model (`agent.mv`) and rating files.

One function, `rating_package`, used by `energy-agent rating`, by the dashboard and by the runtime
(publish the package retained on `{prefix}/{site}/rating`) through `agent.rating.site.
site_rating_provider`. It reads the period's figures from the M&V model (`read_period`: the same
site energy, production, baseline and savings, adjustments included, that the dashboard and
`energy-agent savings` show), measures the indicators (`agent.rating.measure`), adds the site's
declared values and curves, and builds the package; every measured indicator the data cannot
support is named in the package's warnings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from agent.analytics.errors import AnalyticsError, InsufficientData
from agent.analytics.intervals import aggregate
from agent.analytics.windows import local_day_bounds
from agent.config.loader import LoadedConfig
from agent.mv.model import MvModel
from agent.mv.results import Savings
from agent.mv.site import mv_site
from agent.rating.files import SiteRating
from agent.rating.measure import PeriodData, measure
from agent.rating.package import build_package
from agent.rating.period import RatingPeriod, parse_period
from agent.rating.rubric import Rubric

__all__ = [
    "HISTORY_FILE",
    "NoRatingData",
    "default_history_path",
    "rating_package",
    "rating_provider",
    "read_period",
]

HISTORY_FILE = "history.db"


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
    *,
    model: MvModel | None = None,
) -> dict[str, Any]:
    """The data package of `period` ('2026-10', '2026-Q4', '2026').

    A running period is measured up to `generated_at`. Raises ValueError for a bad period text,
    NoRatingData when the history (or the site's energy in the period) is missing. `model`: the
    site's M&V model over `history_path` (default: built from the config), shared by a caller that
    rates many periods so that the baseline is fitted once.
    """
    if isinstance(period, str):
        period = parse_period(period)
    if not history_path.is_file():
        raise NoRatingData(f"no history store at {history_path}")
    config = loaded.config
    now = pd.Timestamp(generated_at).tz_convert("UTC")
    model = model or MvModel(mv_site(config, loaded.path), history_path)
    data = read_period(model, period, now)
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
        as_of=now.tz_convert(model.site.timezone).date(),
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
    model = MvModel(mv_site(loaded.config, loaded.path), history_path, cache_seconds=cache_seconds)

    def provide(label: str) -> Mapping[str, Any] | None:
        with lock:
            hit = cache.get(label)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            package = rating_package(loaded, history_path, rubric, site_rating, label, now(), model=model)
            cache[label] = (time.monotonic() + cache_seconds, package)
            return package

    return provide


# ---------------------------------------------------------------- reading the history


def read_period(model: MvModel, period: RatingPeriod, now: pd.Timestamp) -> PeriodData:
    """The period's figures from the site's M&V model (clipped to `now`); NoRatingData without energy."""
    tz = model.site.timezone
    start, end = local_day_bounds(period.start, period.end - timedelta(days=1), tz)
    end = min(end, now)
    if end <= start:
        raise NoRatingData(f"period {period.label} has not begun yet")
    with model.store() as store:
        site = model.figures(start, end, store)
        if not site.site_meters or site.intervals_complete == 0:
            raise NoRatingData(f"the history {store.path} holds no energy for {period.label}")
        production = model.production(store, start, end)
        last_start, last_end = _year_earlier(period, tz, end - start)
        last_year = model.figures(last_start, last_end, store)
        compressors = model.compressor_frames(store, start, end)
    savings, reason = _savings(model, period, now)
    return PeriodData(
        start=start,
        end=end,
        months=_months(period),
        site=site,
        production_by_month=_by_month(production, tz),
        last_year=last_year,
        last_year_label=f"{period.start.year - 1} (same stretch)",
        savings=savings,
        savings_reason=reason,
        compressors=compressors,
        production=production,
    )


def _savings(model: MvModel, period: RatingPeriod, now: pd.Timestamp) -> tuple[Savings | None, str]:
    """The M&V result of the period's days after the baseline, or None with the reason."""
    today = now.tz_convert(model.site.timezone).date()
    try:
        return model.savings(period.start, period.end - timedelta(days=1), today), ""
    except AnalyticsError as exc:
        return None, str(exc)


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
