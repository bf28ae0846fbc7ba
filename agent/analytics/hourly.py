"""Hourly baseline of the CalTRACK 2.0 kind: time of week x occupancy x temperature bins.

    kWh(hour) = a[time of week] + sum_k b_occ[k] * bin_k(T)     (occupied times of week)
                                + sum_k b_unocc[k] * bin_k(T)   (unoccupied times of week)

* Time of week: 168 local hours (Monday 00:00 = 0), one coefficient each.
* Occupancy (CalTRACK 2.0 hourly; eemeter `estimate_hour_of_week_occupancy`): a weighted fit of kWh
  on CDD(65 degF = 18.33 degC) and HDD(50 degF = 10 degC) per hour; a time of week is *occupied* when
  more than 65 % of its residuals are positive (the simple model under-predicts it).
* Temperature bins: endpoints 30, 45, 55, 65, 75, 90 degF (-1.1, 7.2, 12.8, 18.3, 23.9, 32.2 degC);
  an end bin with fewer than 20 hours is merged inward (the outside first), then inner bins. The
  bin features are a connected piecewise-linear function of T (eemeter
  `compute_temperature_bin_features`), with separate slopes for occupied and unoccupied hours.
* Segmentation: ``three_month_weighted`` (CalTRACK's recommendation) fits one model per calendar
  month on that month (weight 1) and its neighbours (weight 0.5); ``single`` one model on the whole
  baseline. Occupancy and bins are found per segment.
* Out of sample: the model is refitted on the first 75 % of the baseline hours and predicts the last
  25 %; a month segment with no training hours falls back to a single-segment fit of the training
  part. The NMBE of those predictions is what the verdict judges.
* Uncertainty: Annex B on *daily* sums of the hourly predictions (n baseline days, rho of the daily
  residuals, m reporting days): hourly residuals are correlated far beyond lag 1, which the
  one-lag correction of Annex B does not capture on hourly points. The CV used is the larger of the
  in-sample daily CV(RMSE) and that of the held-out days: a model with 168+ terms fits its own days
  so closely that the in-sample figure alone gives a band narrower than its real error.

Input is an hourly frame: index = tz-aware UTC hour starts, columns ``energy_kwh`` and
``temperature_c`` (see `hourly_frame` for 15-minute data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from agent.analytics.errors import InsufficientData
from agent.analytics.savings import SavingsResult, Uncertainty, absolute_uncertainty
from agent.analytics.stats import lag1_autocorrelation, t_two_sided
from agent.analytics.verdict import ModelWarning, Verdict, judge

__all__ = [
    "HourlyModel",
    "HourlyOptions",
    "fit_hourly",
    "hourly_frame",
    "hourly_savings",
]

Segmentation = Literal["single", "three_month_weighted"]


def _f_to_c(f: float) -> float:
    return round((f - 32.0) * 5.0 / 9.0, 4)


@dataclass(frozen=True)
class HourlyOptions:
    """CalTRACK 2.0 hourly constants (degF in the method, degC here)."""

    segmentation: Segmentation = "three_month_weighted"
    occupancy_threshold: float = 0.65
    occupancy_cooling_bp_c: float = _f_to_c(65.0)
    occupancy_heating_bp_c: float = _f_to_c(50.0)
    bin_endpoints_c: tuple[float, ...] = tuple(_f_to_c(f) for f in (30, 45, 55, 65, 75, 90))
    min_hours_per_bin: int = 20
    min_coverage: float = 0.9
    holdout_fraction: float = 0.25


@dataclass(frozen=True)
class Segment:
    """One month's (or the whole baseline's) fitted equation."""

    month: int  # 0 = single segment
    occupied: tuple[bool, ...]  # per time of week
    endpoints_c: tuple[float, ...]
    time_of_week: tuple[float, ...]  # 168 coefficients
    occupied_slopes: tuple[float, ...]
    unoccupied_slopes: tuple[float, ...]


@dataclass(frozen=True)
class HourlyStats:
    n_hours: int
    p: int
    cv_rmse: float
    nmbe: float
    rho: float
    mean_kwh: float
    n_days: int
    daily_cv_rmse: float
    daily_rho: float
    holdout_nmbe: float | None
    holdout_cv_rmse: float | None
    holdout_method: str
    holdout_daily_cv_rmse: float | None = None
    holdout_daily_rho: float | None = None

    def band_inputs(self) -> tuple[float, float]:
        """(CV, rho) of daily sums for Annex B: the larger of in-sample and held-out CV(RMSE)."""
        if self.holdout_daily_cv_rmse is not None and self.holdout_daily_cv_rmse > self.daily_cv_rmse:
            return self.holdout_daily_cv_rmse, float(self.holdout_daily_rho or 0.0)
        return self.daily_cv_rmse, self.daily_rho


@dataclass(frozen=True)
class HourlyModel:
    """A fitted time-of-week-and-temperature model (one segment per month, or one in all)."""

    segmentation: Segmentation
    tz: str
    segments: tuple[Segment, ...]
    stats: HourlyStats
    baseline_start: str
    baseline_end: str
    warnings: tuple[ModelWarning, ...] = ()
    notes: list[str] = field(default_factory=list)
    kind: str = "TOWT"
    granularity: Literal["hourly"] = "hourly"

    @property
    def degraded(self) -> bool:
        return any(w.code.startswith("driver_") for w in self.warnings)

    def predict(self, hourly: pd.DataFrame) -> pd.Series:
        """Predicted kWh per hour (NaN where temperature is missing or no segment covers the month)."""
        data = _Design.of(hourly, self.tz)
        out = np.full(len(data.temperature), np.nan)
        by_month = {s.month: s for s in self.segments}
        for month in np.unique(data.month):
            segment = by_month.get(0, by_month.get(int(month)))
            if segment is None:
                continue
            rows = data.month == month
            out[rows] = _predict_segment(segment, data.tow[rows], data.temperature[rows])
        return pd.Series(out, index=hourly.index, name="predicted_kwh")

    def verdict(self, *, reporting_months: int | None = None, fsu_68: float | None = None) -> Verdict:
        s = self.stats
        return judge(
            "hourly",
            cv_rmse=s.cv_rmse,
            nmbe_out_of_sample=s.holdout_nmbe,
            n=s.n_hours,
            p=s.p,
            reporting_months=reporting_months,
            fsu_68=fsu_68,
            warnings=self.warnings,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HourlyModel:
        values = dict(data)
        values["segments"] = tuple(
            Segment(
                int(segment["month"]),
                tuple(bool(v) for v in segment["occupied"]),
                tuple(float(v) for v in segment["endpoints_c"]),
                tuple(float(v) for v in segment["time_of_week"]),
                tuple(float(v) for v in segment["occupied_slopes"]),
                tuple(float(v) for v in segment["unoccupied_slopes"]),
            )
            for segment in values["segments"]
        )
        values["stats"] = HourlyStats(**values["stats"])
        values["warnings"] = tuple(ModelWarning(**w) for w in values.get("warnings", ()))
        return cls(**values)


# ---------------------------------------------------------------- data


def hourly_frame(
    energy_kwh: pd.Series, temperature_c: pd.Series | None, *, interval_minutes: int = 60
) -> pd.DataFrame:
    """Interval energy (UTC index) -> complete hours: energy summed, temperature averaged.

    An hour with any interval missing is left out (NaN), never scaled up.
    """
    per_hour = 60 // interval_minutes if interval_minutes < 60 else 1
    hours = pd.DatetimeIndex(energy_kwh.index).floor("h")
    grouped = energy_kwh.groupby(hours)
    energy = grouped.sum(min_count=1).where(grouped.count() >= per_hour)
    out = pd.DataFrame({"energy_kwh": energy})
    if temperature_c is not None:
        out["temperature_c"] = temperature_c.groupby(pd.DatetimeIndex(temperature_c.index).floor("h")).mean()
    return out


@dataclass(frozen=True)
class _Design:
    tow: np.ndarray
    month: np.ndarray
    temperature: np.ndarray
    day: np.ndarray  # local date as int64 days

    @classmethod
    def of(cls, hourly: pd.DataFrame, tz: str) -> _Design:
        index = hourly.index
        if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
            raise InsufficientData("hourly frame: index must be tz-aware hour starts")
        local = index.tz_convert(tz)
        tow = np.asarray(local.day_of_week * 24 + local.hour, dtype=np.int64)
        day = np.asarray(local.tz_localize(None).normalize().as_unit("s").asi8 // 86_400, dtype=np.int64)
        temperature = hourly["temperature_c"].to_numpy(dtype=float) if "temperature_c" in hourly else None
        if temperature is None:
            temperature = np.full(len(hourly), np.nan)
        return cls(tow, np.asarray(local.month, dtype=np.int64), temperature, day)


# ---------------------------------------------------------------- features


def _bin_features(temperature: np.ndarray, endpoints: Sequence[float]) -> np.ndarray:
    """Connected piecewise-linear temperature features (one column per bin)."""
    edges = [-np.inf, *endpoints, np.inf]
    columns = []
    for i, (left, right) in enumerate(pairwise(edges)):
        if i == 0:
            columns.append(np.minimum(temperature, right))
        else:
            columns.append(np.clip(temperature - left, 0.0, right - left))
    return np.column_stack(columns)


def _fit_endpoints(temperature: np.ndarray, defaults: Sequence[float], min_count: int) -> tuple[float, ...]:
    """Drop endpoints around bins with fewer than `min_count` hours, outside bins first (CalTRACK)."""
    kept = sorted(defaults)
    while kept:
        # bins are right-closed, as in eemeter: (e[i-1], e[i]]
        counts = np.bincount(np.searchsorted(kept, temperature, side="left"), minlength=len(kept) + 1)
        remove: set[float] = set()
        if counts[0] < min_count:
            remove.add(kept[0])
        if counts[-1] < min_count:
            remove.add(kept[-1])
        if not remove:
            remove = {kept[i + 1] for i in range(len(kept) - 1) if counts[i + 1] < min_count}
        if not remove:
            break
        kept = [e for e in kept if e not in remove]
    return tuple(kept)


def _occupancy(
    y: np.ndarray, w: np.ndarray, tow: np.ndarray, temperature: np.ndarray, o: HourlyOptions
) -> np.ndarray:
    x = np.column_stack(
        [
            np.ones_like(temperature),
            np.maximum(0.0, temperature - o.occupancy_cooling_bp_c),
            np.maximum(0.0, o.occupancy_heating_bp_c - temperature),
        ]
    )
    root = np.sqrt(w)
    beta = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
    positive = (y - x @ beta) > 0
    counts = np.bincount(tow, minlength=168)
    share = np.bincount(tow, weights=positive.astype(float), minlength=168) / np.maximum(counts, 1)
    occupied: np.ndarray = share > o.occupancy_threshold
    return occupied


def _temperature_columns(
    tow: np.ndarray, temperature: np.ndarray, occupied: np.ndarray, endpoints: Sequence[float]
) -> np.ndarray:
    bins = _bin_features(temperature, endpoints)
    occ = occupied[tow].astype(float)[:, None]
    return np.hstack([bins * occ, bins * (1.0 - occ)])


def _solve_towt(
    tow: np.ndarray, b: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of y on [168 time-of-week indicators | b], by eliminating the
    indicators (their Gram block is diagonal): the dense 8760 x 182 solve costs ~50x more.
    A time of week without hours gets 0; `lstsq` on the small Schur complement copes with a bin
    that has no hours."""
    d = np.bincount(tow, weights=w, minlength=168)
    dy = np.bincount(tow, weights=w * y, minlength=168)
    db = np.stack([np.bincount(tow, weights=w * b[:, j], minlength=168) for j in range(b.shape[1])], axis=1)
    inverse = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    wb = b * w[:, None]
    schur = wb.T @ b - db.T @ (db * inverse[:, None])
    rhs = wb.T @ y - db.T @ (dy * inverse)
    slopes: np.ndarray = np.linalg.lstsq(schur, rhs, rcond=None)[0]
    levels: np.ndarray = (dy - db @ slopes) * inverse
    return levels, slopes


def _fit_segment(
    month: int, y: np.ndarray, w: np.ndarray, tow: np.ndarray, temperature: np.ndarray, o: HourlyOptions
) -> Segment:
    use = w > 0
    y, w, tow, temperature = y[use], w[use], tow[use], temperature[use]
    occupied = _occupancy(y, w, tow, temperature, o)
    endpoints = _fit_endpoints(temperature, o.bin_endpoints_c, o.min_hours_per_bin)
    levels, slopes = _solve_towt(tow, _temperature_columns(tow, temperature, occupied, endpoints), y, w)
    k = len(endpoints) + 1
    return Segment(
        month,
        tuple(bool(v) for v in occupied),
        endpoints,
        tuple(float(v) for v in levels),
        tuple(float(v) for v in slopes[:k]),
        tuple(float(v) for v in slopes[k:]),
    )


def _predict_segment(segment: Segment, tow: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    occupied = np.asarray(segment.occupied)
    slopes = np.concatenate([segment.occupied_slopes, segment.unoccupied_slopes])
    columns = _temperature_columns(tow, temperature, occupied, segment.endpoints_c)
    prediction: np.ndarray = np.asarray(segment.time_of_week)[tow] + columns @ slopes
    return prediction


def _month_weights(month: np.ndarray, segment_month: int) -> np.ndarray:
    before = (segment_month - 2) % 12 + 1
    after = segment_month % 12 + 1
    return np.where(month == segment_month, 1.0, np.where((month == before) | (month == after), 0.5, 0.0))


def _fit_segments(
    y: np.ndarray, data: _Design, segmentation: Segmentation, o: HourlyOptions
) -> tuple[Segment, ...]:
    if segmentation == "single":
        return (_fit_segment(0, y, np.ones_like(y), data.tow, data.temperature, o),)
    segments = []
    for month in sorted(int(m) for m in np.unique(data.month)):
        weights = _month_weights(data.month, month)
        segments.append(_fit_segment(month, y, weights, data.tow, data.temperature, o))
    return tuple(segments)


def _predict_rows(segments: Sequence[Segment], data: _Design, rows: np.ndarray) -> np.ndarray:
    out = np.full(int(rows.sum()), np.nan)
    by_month = {s.month: s for s in segments}
    months = data.month[rows]
    tow, temperature = data.tow[rows], data.temperature[rows]
    for month in np.unique(months):
        segment = by_month.get(0, by_month.get(int(month)))
        if segment is not None:
            inside = months == month
            out[inside] = _predict_segment(segment, tow[inside], temperature[inside])
    return out


# ---------------------------------------------------------------- fit


def _usable(hourly: pd.DataFrame, o: HourlyOptions) -> tuple[pd.DataFrame, list[ModelWarning]]:
    for column in ("energy_kwh", "temperature_c"):
        if column not in hourly.columns:
            raise InsufficientData(
                f"hourly baseline: column {column!r} missing (have {list(hourly.columns)})"
            )
    frame = hourly.sort_index()
    span_h = (frame.index[-1] - frame.index[0]) / pd.Timedelta(hours=1) + 1
    usable = frame.dropna(subset=["energy_kwh", "temperature_c"])
    coverage = len(usable) / span_h
    if coverage < o.min_coverage:
        raise InsufficientData(
            f"hourly baseline: {coverage:.0%} of the {span_h:.0f} hours from {frame.index[0]} to "
            f"{frame.index[-1]} have energy and temperature (need {o.min_coverage:.0%}, CalTRACK 2.0)"
        )
    warnings = []
    if span_h < 365 * 24 - 24:
        warnings.append(
            ModelWarning(
                "baseline_short",
                f"baseline covers {span_h / 24:.0f} days; CalTRACK and IPMVP expect a full year of "
                "operating conditions",
            )
        )
    return usable, warnings


def _daily_residual_stats(
    residuals: np.ndarray, actual: np.ndarray, day: np.ndarray
) -> tuple[int, float, float]:
    _, inverse = np.unique(day, return_inverse=True)
    daily_residual = np.bincount(inverse, weights=residuals)
    daily_actual = np.bincount(inverse, weights=actual)
    n = daily_residual.size
    cv = float(np.sqrt((daily_residual @ daily_residual) / max(n - 1, 1)) / daily_actual.mean())
    return n, cv, lag1_autocorrelation(daily_residual)


_Holdout = tuple[float | None, float | None, str, float | None, float | None]


def _holdout(y: np.ndarray, data: _Design, o: HourlyOptions, segmentation: Segmentation) -> _Holdout:
    n_test = math.ceil(y.size * o.holdout_fraction)
    n_train = y.size - n_test
    if n_test < 1 or n_train < 168 * 2:
        return None, None, "too few hours to hold any out", None, None
    train = np.arange(y.size) < n_train
    train_data = _Design(data.tow[train], data.month[train], data.temperature[train], data.day[train])
    segments = list(_fit_segments(y[train], train_data, segmentation, o))
    if segmentation != "single":
        fallback = _fit_segment(0, y[train], np.ones(n_train), train_data.tow, train_data.temperature, o)
        trained_months = set(np.unique(train_data.month).tolist())
        segments = [s for s in segments if s.month in trained_months]
        missing = set(np.unique(data.month[~train]).tolist()) - trained_months
        segments += [
            Segment(m, fallback.occupied, fallback.endpoints_c, fallback.time_of_week,
                    fallback.occupied_slopes, fallback.unoccupied_slopes)
            for m in sorted(missing)
        ]  # fmt: skip
    predicted = _predict_rows(segments, data, ~train)
    actual = y[~train]
    error = actual - predicted
    mean = float(actual.mean())
    method = f"hold-out: last {n_test} of {y.size} hours"
    _, daily_cv, daily_rho = _daily_residual_stats(error, actual, data.day[~train])
    nmbe = float(error.sum() / (n_test * mean))
    return nmbe, float(np.sqrt((error @ error) / n_test) / mean), method, daily_cv, daily_rho


def fit_hourly(
    hourly: pd.DataFrame,
    tz: str,
    options: HourlyOptions | None = None,
    *,
    required_drivers: Sequence[str] = (),
) -> HourlyModel:
    """Fit the time-of-week-and-temperature model; raises InsufficientData with the reason."""
    o = options or HourlyOptions()
    warnings: list[ModelWarning] = []
    if "production" in required_drivers:
        warnings.append(
            ModelWarning(
                "driver_missing",
                "production is configured as a driver; the hourly model has no production term",
            )
        )
    frame, sufficiency = _usable(hourly, o)
    warnings += sufficiency
    data = _Design.of(frame, tz)
    y = frame["energy_kwh"].to_numpy(dtype=float)
    segments = _fit_segments(y, data, o.segmentation, o)
    predicted = _predict_rows(segments, data, np.ones(y.size, dtype=bool))
    residuals = y - predicted
    p = 168 + 2 * (max(len(s.endpoints_c) for s in segments) + 1)
    mean = float(y.mean())
    n_days, daily_cv, daily_rho = _daily_residual_stats(residuals, y, data.day)
    holdout_nmbe, holdout_cv, method, holdout_daily_cv, holdout_daily_rho = _holdout(
        y, data, o, o.segmentation
    )
    stats = HourlyStats(
        n_hours=y.size,
        p=p,
        cv_rmse=float(np.sqrt((residuals @ residuals) / (y.size - p)) / mean),
        nmbe=float(residuals.sum() / ((y.size - p) * mean)),
        rho=lag1_autocorrelation(residuals),
        mean_kwh=mean,
        n_days=n_days,
        daily_cv_rmse=daily_cv,
        daily_rho=daily_rho,
        holdout_nmbe=holdout_nmbe,
        holdout_cv_rmse=holdout_cv,
        holdout_method=method,
        holdout_daily_cv_rmse=holdout_daily_cv,
        holdout_daily_rho=holdout_daily_rho,
    )
    local = pd.DatetimeIndex(frame.index).tz_convert(tz)
    return HourlyModel(
        segmentation=o.segmentation,
        tz=tz,
        segments=segments,
        stats=stats,
        baseline_start=str(local[0].date()),
        baseline_end=str(local[-1].date()),
        warnings=tuple(warnings),
        notes=[w.message for w in warnings],
    )


# ---------------------------------------------------------------- savings


def hourly_savings(
    model: HourlyModel, reporting: pd.DataFrame, *, confidences: Sequence[float] = (0.68, 0.90)
) -> SavingsResult:
    """Avoided energy over the reporting hours, per local day, with Annex B bands on daily sums."""
    predicted = model.predict(reporting)
    keep = reporting["energy_kwh"].notna() & predicted.notna()
    unpredicted = int((reporting["energy_kwh"].notna() & predicted.isna()).sum())
    notes = list(model.notes)
    if unpredicted:
        notes.append(
            f"{unpredicted} reporting hours left out: no temperature, or a month the baseline has no "
            "segment for"
        )
    if not keep.any():
        raise InsufficientData(
            "hourly savings: no reporting hour has energy, temperature and a model segment"
        )
    local_days = pd.DatetimeIndex(reporting.index[keep]).tz_convert(model.tz).tz_localize(None).normalize()
    hours = pd.DataFrame(
        {
            "adjusted_baseline_kwh": predicted[keep].to_numpy(),
            "actual_kwh": reporting.loc[keep, "energy_kwh"].to_numpy(dtype=float),
            "non_routine_kwh": 0.0,
        },
        index=pd.DatetimeIndex(local_days, name="period_start"),
    )
    periods = hours.groupby(level=0).sum()
    periods["savings_kwh"] = periods["adjusted_baseline_kwh"] - periods["actual_kwh"]
    periods["cumulative_savings_kwh"] = periods["savings_kwh"].cumsum()
    baseline = float(periods["adjusted_baseline_kwh"].sum())
    actual = float(periods["actual_kwh"].sum())
    s = model.stats
    cv, rho = s.band_inputs()
    m = len(periods)
    bands = []
    for confidence in confidences:
        t = t_two_sided(confidence, s.n_days - 1)
        absolute = absolute_uncertainty(cv, s.n_days, m, rho, baseline, t)
        saved = baseline - actual
        fraction = absolute / abs(saved) if saved else math.inf
        n_eff = s.n_days * (1 - min(max(rho, 0.0), 0.99)) / (1 + min(max(rho, 0.0), 0.99))
        bands.append(Uncertainty(confidence, t, absolute, fraction, s.n_days, n_eff, m, rho, cv))
    if (periods["actual_kwh"] <= 0).all():
        raise InsufficientData("hourly savings: the reporting period has no energy")
    return SavingsResult(
        periods=periods,
        baseline_kwh=baseline,
        actual_kwh=actual,
        non_routine_kwh=0.0,
        uncertainty=bands,
        model_kind=model.kind,
        granularity="hourly",
        warnings=notes,
    )
