"""`MvModel`: the site's M&V figures from its history store, as typed results.

One object per (site definition, history file). It reads the store (opened per call: SQLite
connections belong to one thread, and the web server answers from a thread pool), applies the
definitions of `MvSite` and returns `agent.mv.results` objects. The baseline fit and each savings
window are cached for `cache_seconds`, because the fit tries a few hundred candidate models and an
open dashboard asks every few seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from agent.analytics.baseline import accept, fit, verdict
from agent.analytics.compressors import RoomKpis, room_kpis
from agent.analytics.errors import InsufficientData
from agent.analytics.intervals import daily_frame
from agent.analytics.savings import NonRoutineAdjustment, savings, value_savings
from agent.analytics.tariff import effective_price
from agent.analytics.windows import baseline_days, local_day_bounds
from agent.config.analytics import AnalyticsConfig
from agent.history.store import HistoryStore
from agent.mv.results import AppliedAdjustment, Baseline, PeriodFigures, Savings, Verdict
from agent.mv.series import COMPRESSOR_FIELDS
from agent.mv.site import MvSite

__all__ = ["MvModel", "compressed_air_room"]

T = TypeVar("T")
REPORTING_MIN_COVERAGE = 0.9  # a reporting day with less interval coverage is left out of savings


class MvModel:
    """Site energy, production, baseline and savings of one site's history (see `MvSite`)."""

    def __init__(self, site: MvSite, history_path: Path | str, *, cache_seconds: float = 60.0) -> None:
        self.site = site
        self.history_path = Path(history_path)
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def store(self) -> Iterator[HistoryStore]:
        store = HistoryStore(self.history_path)
        try:
            yield store
        finally:
            store.close()

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                value: T = hit[1]
                return value
            fresh = compute()
            self._cache[key] = (time.monotonic() + self._cache_seconds, fresh)
            return fresh

    @property
    def _tz(self) -> str:
        return self.site.timezone

    # ------------------------------------------------------------ the site's series

    def site_meters(self, store: HistoryStore) -> tuple[str, ...]:
        """The meters whose sum is the site energy; () when the history cannot tell."""
        if self.site.site_meters:
            return self.site.site_meters
        devices = store.devices()
        return tuple(devices) if len(devices) == 1 else ()

    def site_energy(
        self, store: HistoryStore, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.Series:
        """kWh per interval summed over the site meters; NaN where any site meter lacks the interval."""
        meters = list(self.site_meters(store))
        if not meters:
            return pd.Series(dtype=float, name="energy_kwh")
        frame = store.energy(meters, start, end)
        return frame.sum(axis=1, min_count=len(meters)).rename("energy_kwh")

    def named(
        self, store: HistoryStore, name: str, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.Series | None:
        """A history series without its gaps; None when it has no value in the window."""
        frame = store.series([name], start, end)
        column = frame[name].dropna() if name in frame.columns else pd.Series(dtype=float)
        return None if column.empty else column

    def production(
        self, store: HistoryStore, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.Series | None:
        return self.named(store, self.site.production_series, start, end)

    def temperature(
        self, store: HistoryStore, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.Series | None:
        return self.named(store, self.site.temperature_series, start, end)

    def compressor_frames(
        self, store: HistoryStore, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> dict[str, pd.DataFrame]:
        """Per configured compressor, per interval: kwh and its `agent.mv.series` fields with data
        (loaded_h, running_h, air_m3, pressure_bar, pressure_min_bar)."""
        machines = {}
        for spec in self.site.analytics.compressors:
            names = {self.site.compressor_series(spec.device, f): f for f in COMPRESSOR_FIELDS}
            series = store.series(list(names), start, end).rename(columns=names)
            energy = store.energy([spec.device], start, end)[spec.device].rename("kwh")
            machines[spec.device] = series.join(energy, how="outer").dropna(axis=1, how="all")
        return machines

    def compressed_air(
        self, store: HistoryStore, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> RoomKpis:
        """The compressor room's figures over UTC [start, end) (`compressed_air_room`); raises
        InsufficientData with the reason when there are none."""
        return compressed_air_room(
            self.site.analytics, self.compressor_frames(store, start, end), self.production(store, start, end)
        )

    def has_energy(self) -> bool:
        if not self.history_path.is_file():
            return False
        with self.store() as store:
            return bool(self.site_meters(store)) and bool(store.devices())

    # ------------------------------------------------------------ figures of a period

    def figures(
        self, start: pd.Timestamp, end: pd.Timestamp, store: HistoryStore | None = None
    ) -> PeriodFigures:
        """Site energy, production and energy per unit over UTC [start, end)."""
        if store is None:
            with self.store() as opened:
                return self.figures(start, end, opened)
        energy = self.site_energy(store, start, end)
        energy = energy[(energy.index >= start) & (energy.index < end)]
        production = self.production(store, start, end)
        minutes = (end - start).total_seconds() / 60.0
        return PeriodFigures(
            start=start,
            end=end,
            site_meters=self.site_meters(store),
            energy_kwh=float(energy.sum()),
            production=None if production is None else float(production.sum()),
            production_unit=self.site.production_unit,
            intervals_expected=max(1, math.floor(minutes / self.site.interval_minutes + 1e-9)),
            intervals_complete=int(energy.notna().sum()),
        )

    def figures_of_days(self, first: date, last: date, store: HistoryStore | None = None) -> PeriodFigures:
        """`figures` of the local days first..last (both included)."""
        start, end = local_day_bounds(first, last, self._tz)
        return self.figures(start, end, store)

    def daily(self, store: HistoryStore, first: date, last: date) -> pd.DataFrame:
        """One row per local day: energy_kwh, coverage, production, temperature_c (`daily_frame`)."""
        start, end = local_day_bounds(first, last, self._tz)
        return daily_frame(
            self.site_energy(store, start, end),
            self._tz,
            production=self.production(store, start, end),
            temperature_c=self.temperature(store, start, end),
            interval_minutes=self.site.interval_minutes,
        )

    # ------------------------------------------------------------ baseline

    def baseline_window(self, store: HistoryStore) -> tuple[date, date]:
        span = store.span()
        if span is None:
            raise InsufficientData("baseline: the history is empty")
        first, last = (ts.tz_convert(self._tz).date() for ts in span)
        try:
            return baseline_days(first, last, self.site.baseline_start, self.site.baseline_end)
        except InsufficientData as exc:
            raise InsufficientData(f"{exc} (analytics.baseline.period_end)") from None

    def baseline(self) -> Baseline:
        """The fitted baseline (cached); raises InsufficientData when the data cannot support one."""

        def compute() -> Baseline:
            with self.store() as store:
                if not self.site_meters(store):
                    raise InsufficientData(
                        "baseline: no site meter (configure electricity meters or analytics.site_meters)"
                    )
                start, end = self.baseline_window(store)
                days = self.daily(store, start, end)
            model = fit(days, self.site.analytics.baseline)
            units = float(days["production"].sum()) if "production" in days.columns else 0.0
            eui = float(days["energy_kwh"].sum()) / units if units > 0 else None
            return Baseline(model, start, end, eui)

        return self._cached(("baseline",), compute)

    # ------------------------------------------------------------ savings

    def savings(self, start: date | None, end: date | None, today: date) -> Savings:
        """Avoided energy from the day after the baseline (or `start`) to `today` (or `end`).

        Raises InsufficientData (or another AnalyticsError) when the data cannot support a result.
        """
        base = self.baseline()
        first = max(start or base.end, base.end + timedelta(days=1))
        last = min(end or today, today)
        if last < first:
            raise InsufficientData(f"savings: no reporting days between {first} and {last}")
        return self._cached(("savings", first, last), lambda: self._savings(base, first, last))

    def _savings(self, base: Baseline, first: date, last: date) -> Savings:
        with self.store() as store:
            all_days = self.daily(store, first, last)
            t0, t1 = local_day_bounds(first, last, self._tz)
            shape = self.site_energy(store, t0, t1).dropna()
            site = self.figures(t0, t1, store)
        days = all_days[all_days["coverage"] > 0]
        if days.empty:
            raise InsufficientData(f"savings: no reporting data between {first} and {last}")
        applied, per_day = self._adjustments(days, first, last)
        result = savings(base.model, days, adjustments=per_day, min_period_coverage=REPORTING_MIN_COVERAGE)
        analytics = self.site.analytics
        price = effective_price(shape, analytics.tariff, self._tz)
        months = max(1, len(days) // 30)
        acceptance = accept(base.model, reporting_months=months)
        fsu = result.band(0.68).fraction_of_savings
        value = value_savings(
            result.savings_kwh,
            price,
            factors=dict(analytics.conversion_factors),
            grid=analytics.grid_emission,
        )
        return Savings(
            first=first,
            last=last,
            baseline=base,
            result=result,
            verdict=Verdict(acceptance, fsu, verdict(base.model, reporting_months=months, fsu_68=fsu)),
            value=value,
            adjustments=applied,
            site=site,
            reporting_days=len(days),
            coverage=min(1.0, float(days["coverage"].clip(upper=1.0).sum()) / len(all_days)),
            tariff_name=analytics.tariff.name,
            tariff_source=analytics.tariff.source,
        )

    def _adjustments(
        self, days: pd.DataFrame, first: date, last: date
    ) -> tuple[tuple[AppliedAdjustment, ...], list[NonRoutineAdjustment]]:
        """The configured adjustments that overlap [first, last], as daily rates on the counted days."""
        counted = pd.DatetimeIndex(days.index[days["coverage"] >= REPORTING_MIN_COVERAGE])
        applied, per_day = [], []
        for adjustment in self.site.adjustments:
            lo, hi = max(adjustment.start, first), min(adjustment.end, last)
            if hi < lo:
                continue
            rate = adjustment.daily_kwh
            inside = int(((counted >= pd.Timestamp(lo)) & (counted <= pd.Timestamp(hi))).sum())
            per_day.append(NonRoutineAdjustment(str(lo), str(hi), rate, adjustment.reason, per_day=True))
            applied.append(
                AppliedAdjustment(
                    adjustment.start, adjustment.end, rate * inside, rate, adjustment.reason, inside
                )
            )
        return tuple(applied), per_day


_NEEDED = ["kwh", "loaded_h", "running_h"]


def compressed_air_room(
    analytics: AnalyticsConfig, frames: dict[str, pd.DataFrame], production: pd.Series | None
) -> RoomKpis:
    """The one definition of the compressed-air figures (dashboard, report, rating, CLI): the
    configured machines with energy and hours, idle = intervals where the production series is 0,
    the declared base demand and required pressure of `analytics`."""
    if not analytics.compressors:
        raise InsufficientData("no compressors configured (analytics.compressors)")
    machines = {
        device: frame.dropna(subset=_NEEDED)
        for device, frame in frames.items()
        if set(_NEEDED) <= set(frame.columns) and frame[_NEEDED].notna().all(axis=1).any()
    }
    if not machines:
        raise InsufficientData("no compressor data (energy, loaded_h, running_h) in the window")
    air = analytics.compressed_air
    return room_kpis(
        machines,
        [s for s in analytics.compressors if s.device in machines],
        no_production=None if production is None else production <= 0,
        required_pressure_bar=analytics.required_pressure_bar or air.minimum_pressure_bar,
        base_demand_m3_min=air.base_demand_m3_min,
    )
