"""Baseline energy models for IPMVP Option B / C, judged by ASHRAE Guideline 14-2014.

Input is a *daily* frame (see `intervals.daily_frame`): index = local dates, columns `energy_kwh`,
`coverage` (0-1), and when available `production` and `temperature_c`. Every model is a per-day
equation; a monthly model sums the same equation over the days of each month, so daily and monthly
coefficients mean the same thing and partial months compare like with like.

    energy/day = b0 + bp * production                                  1P (production only)
               + bt * T                                                2P
               + bh * max(0, Th - T)                                   3PH
               + bc * max(0, T - Tc)                                   3PC
               + bh * max(0, Tb - T) + bc * max(0, T - Tb)             4P (one change point)
               + bh * max(0, Th - T) + bc * max(0, T - Tc), Th < Tc    5P

Balance points are found by grid search; a candidate qualifies only when each temperature term has
the physical sign (bh, bc > 0) and |t| >= min_t_stat, and its degree days are non-zero often enough
(CalTRACK-style sufficiency). The qualifying candidate with the highest adjusted R2 wins.

Degree days: when the daily frame carries `hdd_<b>` / `cdd_<b>` columns for every grid balance point
(`degree_days.with_hourly_degree_days`, from hourly temperatures) they replace max(0, b - mean T);
the model records which form it used (`degree_days`) and needs the same columns to predict.

Out of sample: after the fit, the chosen model form (same terms and balance points) is refitted on
the first part of the baseline and predicts the last `holdout_fraction` of its periods; the NMBE and
CV(RMSE) of those predictions are what the verdict judges (in sample an OLS NMBE is ~0 by
construction). `verdict()` turns the statistics into a `verdict.Verdict`; `accept()` is its older,
flat form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from agent.analytics.degree_days import degree_day_column, has_degree_days
from agent.analytics.errors import InsufficientData
from agent.analytics.stats import lag1_autocorrelation, ols
from agent.analytics.verdict import ModelWarning, Verdict, cv_rmse_rule, judge
from agent.config.analytics import BaselineOptions

__all__ = [
    "Acceptance",
    "BaselineModel",
    "Check",
    "FitStats",
    "ModelKind",
    "OutOfSample",
    "accept",
    "balance_point_grid",
    "cv_rmse_limit",
    "fit",
    "period_frame",
    "verdict",
]

ModelKind = Literal["1P", "2P", "3PH", "3PC", "4P", "5P"]
DegreeDays = Literal["daily_mean", "hourly"]
_G14 = "ASHRAE Guideline 14-2014"


@dataclass(frozen=True)
class FitStats:
    """Goodness of fit on the baseline periods (totals per period)."""

    n: int
    p: int
    r2: float
    adj_r2: float
    cv_rmse: float
    nmbe: float
    rho: float
    mean_kwh: float
    t_stats: dict[str, float]
    std_errors: dict[str, float]


@dataclass(frozen=True)
class OutOfSample:
    """Predictions of the held-out last periods by the model form refitted on the earlier ones."""

    method: str
    n_train: int
    n_test: int
    nmbe: float
    cv_rmse: float


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    limit: str
    passed: bool
    source: str
    outcome: str = ""


@dataclass(frozen=True)
class Acceptance:
    """Guideline 14 verdict: passed only if every check passed."""

    passed: bool
    checks: list[Check]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- data preparation


def _usable_days(daily: pd.DataFrame, options: BaselineOptions) -> tuple[pd.DataFrame, list[str]]:
    """Days that may enter a fit; partly covered days are scaled up to a full day."""
    if "energy_kwh" not in daily.columns:
        raise InsufficientData("daily frame: column 'energy_kwh' missing")
    notes: list[str] = []
    coverage = daily["coverage"] if "coverage" in daily.columns else pd.Series(1.0, index=daily.index)
    keep = daily["energy_kwh"].notna() & (coverage >= options.min_period_coverage)
    for column in ("production", "temperature_c"):
        if column in daily.columns and daily[column].notna().any():
            keep &= daily[column].notna()
    days = daily.loc[keep].copy()
    days["energy_kwh"] = days["energy_kwh"] / coverage[keep].clip(lower=1e-9)
    if (coverage[keep] < 1).any():
        notes.append("days with coverage below 100 % were scaled up to a full day")
    return days, notes


def _group_keys(index: pd.Index, granularity: str) -> pd.DatetimeIndex:
    dates = pd.DatetimeIndex(index)
    if granularity == "daily":
        return dates
    return dates.normalize() - pd.to_timedelta(dates.day - 1, unit="D")


BILLING_PERIOD = "billing_period"


def _billed(frame: pd.DataFrame, granularity: str) -> bool:
    return granularity == "monthly" and BILLING_PERIOD in frame.columns


def _period_keys(frame: pd.DataFrame, granularity: str) -> pd.DatetimeIndex:
    """The period of each day row: the day, its calendar month, or its bill (`billing_period`)."""
    if _billed(frame, granularity):
        return pd.DatetimeIndex(frame[BILLING_PERIOD])
    return _group_keys(frame.index, granularity)


def _coverage_check(daily: pd.DataFrame, days: pd.DataFrame, options: BaselineOptions) -> pd.Index:
    """Periods usable for fitting; refuses the data when too few or too sparse."""
    dates = pd.DatetimeIndex(daily.index)
    window = pd.date_range(dates.min(), dates.max(), freq="D")
    if _billed(daily, options.granularity):
        all_keys = pd.Series(1, index=_period_keys(daily, options.granularity))
    else:
        all_keys = pd.Series(1, index=_group_keys(window, options.granularity))
    day_counts = all_keys.groupby(level=0).size()
    usable_counts = pd.Series(1, index=_period_keys(days, options.granularity)).groupby(level=0).size()
    share = usable_counts.reindex(day_counts.index, fill_value=0) / day_counts
    if options.granularity == "daily":
        usable = share[share > 0].index
    else:
        usable = share[share >= options.min_period_coverage].index
    minimum = options.min_points_daily if options.granularity == "daily" else options.min_points_monthly
    overall = len(usable) / len(day_counts)
    if overall < options.min_overall_coverage:
        raise InsufficientData(
            f"baseline: only {overall:.0%} of {options.granularity} periods from {window[0].date()} to "
            f"{window[-1].date()} are usable (need {options.min_overall_coverage:.0%})"
        )
    if len(usable) < minimum:
        raise InsufficientData(
            f"baseline: {len(usable)} usable {options.granularity} periods, need at least {minimum}"
        )
    return usable


def _day_features(
    days: pd.DataFrame,
    kind: str,
    heating_bp: float | None,
    cooling_bp: float | None,
    use_production: bool,
    degree_days: DegreeDays = "daily_mean",
) -> pd.DataFrame:
    x = pd.DataFrame({"intercept": 1.0}, index=days.index)
    if use_production:
        x["production"] = days["production"].astype(float)
    if kind == "1P":
        return x
    temperature = days["temperature_c"].astype(float)
    if kind == "2P":
        x["temperature"] = temperature
    if heating_bp is not None:
        x["hdd"] = _degree_days(days, "hdd", heating_bp, degree_days)
    if cooling_bp is not None:
        x["cdd"] = _degree_days(days, "cdd", cooling_bp, degree_days)
    return x


def _degree_days(days: pd.DataFrame, kind: str, balance_point: float, source: DegreeDays) -> pd.Series:
    if source == "hourly":
        column = degree_day_column(kind, balance_point)
        if column not in days.columns:
            raise InsufficientData(f"model uses hourly degree days: column {column!r} missing")
        return days[column].astype(float)
    temperature = days["temperature_c"].astype(float)
    difference = balance_point - temperature if kind == "hdd" else temperature - balance_point
    return difference.clip(lower=0.0)


def period_frame(frame: pd.DataFrame, granularity: str) -> pd.DataFrame:
    """Sum per-day rows to the model's periods: calendar months, or bills when the rows carry a
    `billing_period` column (identity for daily)."""
    if granularity == "daily":
        return frame
    keys = _period_keys(frame, granularity).rename("period_start")
    return frame.drop(columns=[BILLING_PERIOD], errors="ignore").groupby(keys).sum(min_count=1)


# ---------------------------------------------------------------- model


@dataclass(frozen=True)
class BaselineModel:
    """A fitted baseline: per-day coefficients, balance points, statistics and notes."""

    kind: ModelKind
    granularity: Literal["daily", "monthly"]
    ipmvp_option: Literal["B", "C"]
    coefficients: dict[str, float]
    heating_bp_c: float | None
    cooling_bp_c: float | None
    stats: FitStats
    baseline_start: str
    baseline_end: str
    warnings: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    degree_days: DegreeDays = "daily_mean"
    out_of_sample: OutOfSample | None = None
    named_warnings: tuple[ModelWarning, ...] = ()
    choice_reason: str = ""

    @property
    def uses_production(self) -> bool:
        return "production" in self.coefficients

    @property
    def degraded(self) -> bool:
        """A configured driver was missing or unusable (see `named_warnings`)."""
        return any(w.code.startswith("driver_") for w in self.named_warnings)

    def features(self, daily: pd.DataFrame) -> pd.DataFrame:
        return _day_features(
            daily, self.kind, self.heating_bp_c, self.cooling_bp_c, self.uses_production, self.degree_days
        )

    def predict_daily(self, daily: pd.DataFrame) -> pd.Series:
        """Predicted kWh per day (NaN where a needed input is missing)."""
        x = self.features(daily)
        beta = pd.Series(self.coefficients)
        return (x[beta.index] * beta).sum(axis=1, min_count=len(beta)).rename("predicted_kwh")

    def predict(self, daily: pd.DataFrame) -> pd.Series:
        """Predicted kWh per model period (day or month) from daily conditions."""
        per_day = self.predict_daily(daily).to_frame()
        if BILLING_PERIOD in daily.columns:
            per_day[BILLING_PERIOD] = daily[BILLING_PERIOD]
        per_day = per_day.dropna(subset=["predicted_kwh"])
        return period_frame(per_day, self.granularity)["predicted_kwh"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaselineModel:
        values = dict(data)
        values["stats"] = FitStats(**values["stats"])
        if values.get("out_of_sample") is not None:
            values["out_of_sample"] = OutOfSample(**values["out_of_sample"])
        values["named_warnings"] = tuple(ModelWarning(**w) for w in values.get("named_warnings", ()))
        return cls(**values)


@dataclass(frozen=True)
class _Candidate:
    kind: ModelKind
    heating_bp: float | None
    cooling_bp: float | None
    columns: list[str]
    beta: np.ndarray
    t_stats: np.ndarray
    std_error: np.ndarray
    residuals: np.ndarray
    fitted: np.ndarray
    adj_r2: float
    qualified: bool
    reason: str


def balance_point_grid(options: BaselineOptions | None = None) -> list[float]:
    """The balance points the grid search tries (the degree-day columns a frame needs)."""
    return [float(b) for b in _grid(options or BaselineOptions())]


def _grid(options: BaselineOptions) -> np.ndarray:
    span = options.balance_point_max_c - options.balance_point_min_c
    count = round(span / options.balance_point_step_c)
    return options.balance_point_min_c + options.balance_point_step_c * np.arange(count + 1)


def _balance_points(kind: str, grid: np.ndarray) -> list[tuple[float | None, float | None]]:
    if kind in ("1P", "2P"):
        return [(None, None)]
    if kind == "3PH":
        return [(float(b), None) for b in grid]
    if kind == "3PC":
        return [(None, float(b)) for b in grid]
    if kind == "4P":
        return [(float(b), float(b)) for b in grid]
    return [(float(h), float(c)) for h in grid for c in grid if c > h]


@dataclass(frozen=True)
class _Weather:
    """Temperature and, when the frame has them, hourly degree days (numpy, for the grid search)."""

    temperature: np.ndarray
    hourly: dict[str, np.ndarray] | None

    def degree_days(self, kind: str, balance_point: float) -> np.ndarray:
        if self.hourly is not None:
            return self.hourly[degree_day_column(kind, balance_point)]
        if kind == "hdd":
            return np.maximum(0.0, balance_point - self.temperature)
        return np.maximum(0.0, self.temperature - balance_point)


def _day_matrix(
    weather: _Weather, base: np.ndarray, kind: str, bps: tuple[float | None, float | None]
) -> tuple[np.ndarray, list[str]]:
    """Numpy twin of `_day_features` for the grid search (pandas per candidate is too slow)."""
    columns: list[np.ndarray] = [base]
    names: list[str] = []
    if kind == "2P":
        columns.append(weather.temperature[:, None])
        names.append("temperature")
    if bps[0] is not None:
        columns.append(weather.degree_days("hdd", bps[0])[:, None])
        names.append("hdd")
    if bps[1] is not None:
        columns.append(weather.degree_days("cdd", bps[1])[:, None])
        names.append("cdd")
    return np.hstack(columns), names


def _assess(
    kind: ModelKind,
    bps: tuple[float | None, float | None],
    day_x: np.ndarray,
    columns: list[str],
    grouping: np.ndarray | None,
    y: np.ndarray,
    options: BaselineOptions,
) -> _Candidate | None:
    first_dd = len(columns) - sum(c in ("hdd", "cdd") for c in columns)
    if ((day_x[:, first_dd:] > 0).mean(axis=0) < options.min_degree_day_share).any():
        return None
    result = ols(day_x if grouping is None else grouping @ day_x, y)
    if result is None:
        return None
    n, p = y.size, len(columns)
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - result.sse / sst if sst > 0 else 0.0
    adj_r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - p)
    reason = ""
    t = result.t_stats
    for i, column in enumerate(columns):
        if column in ("hdd", "cdd") and result.beta[i] <= 0:
            reason = f"{column} slope {result.beta[i]:.4g} has the wrong sign"
        elif column in ("hdd", "cdd", "temperature") and abs(t[i]) < options.min_t_stat:
            reason = f"{column} |t| = {abs(t[i]):.2f} < {options.min_t_stat}"
    return _Candidate(
        kind, bps[0], bps[1], columns, result.beta, t, result.std_error,
        result.residuals, result.fitted, adj_r2, not reason, reason,
    )  # fmt: skip


def _grouping(days: pd.DataFrame, granularity: str) -> np.ndarray | None:
    """Matrix summing day rows into period rows (None for daily: no summing)."""
    if granularity == "daily":
        return None
    keys = _period_keys(days, granularity)
    periods = keys.unique()
    matrix: np.ndarray = (np.asarray(keys)[None, :] == np.asarray(periods)[:, None]).astype(float)
    return matrix


def _weather(
    days: pd.DataFrame, has_temperature: bool, degree_days: DegreeDays, grid: np.ndarray
) -> _Weather:
    temperature = days["temperature_c"].to_numpy(dtype=float) if has_temperature else np.zeros(len(days))
    if degree_days == "daily_mean":
        return _Weather(temperature, None)
    names = [degree_day_column(kind, float(b)) for kind in ("hdd", "cdd") for b in grid]
    return _Weather(temperature, {name: days[name].to_numpy(dtype=float) for name in names})


def _candidates(
    days: pd.DataFrame,
    y: np.ndarray,
    options: BaselineOptions,
    use_production: bool,
    has_temperature: bool,
    degree_days: DegreeDays,
) -> list[_Candidate]:
    grid = _grid(options)
    base_frame = _day_features(days, "1P", None, None, use_production)
    base = base_frame.to_numpy(dtype=float)
    weather = _weather(days, has_temperature, degree_days, grid)
    grouping = _grouping(days, options.granularity)
    out: list[_Candidate] = []
    for kind in options.models:
        if kind != "1P" and not has_temperature:
            continue
        for bps in _balance_points(kind, grid):
            day_x, extra = _day_matrix(weather, base, kind, bps)
            candidate = _assess(kind, bps, day_x, [*base_frame.columns, *extra], grouping, y, options)
            if candidate is not None:
                out.append(candidate)
    return out


def _fit_stats(best: _Candidate, y: np.ndarray) -> FitStats:
    n, p = y.size, len(best.columns)
    mean = float(y.mean())
    sse = float(best.residuals @ best.residuals)
    sst = float(((y - mean) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else 0.0
    return FitStats(
        n=n,
        p=p,
        r2=r2,
        adj_r2=best.adj_r2,
        cv_rmse=float(np.sqrt(sse / (n - p)) / mean),
        nmbe=float(best.residuals.sum() / ((n - p) * mean)),
        rho=lag1_autocorrelation(best.residuals),
        mean_kwh=mean,
        t_stats={c: float(v) for c, v in zip(best.columns, best.t_stats, strict=True)},
        std_errors={c: float(v) for c, v in zip(best.columns, best.std_error, strict=True)},
    )


def _production_usable(
    days: pd.DataFrame, notes: list[str], named: list[ModelWarning], required: Sequence[str]
) -> bool:
    configured = "production" in required
    if "production" not in days.columns or days["production"].isna().all():
        notes.append("no production data: the model has no production term")
        if configured:
            named.append(
                ModelWarning("driver_missing", "production is configured as a driver but has no data")
            )
        return False
    if float(days["production"].std()) == 0.0:
        notes.append("production is constant in the baseline: the term was dropped")
        if configured:
            named.append(
                ModelWarning("driver_constant", "production is configured as a driver but never varies")
            )
        return False
    return True


def _temperature_usable(days: pd.DataFrame, named: list[ModelWarning], required: Sequence[str]) -> bool:
    usable = "temperature_c" in days.columns and bool(days["temperature_c"].notna().all())
    if not usable and "temperature" in required:
        named.append(ModelWarning("driver_missing", "temperature is configured as a driver but has no data"))
    return usable


def _candidate_summary(candidates: list[_Candidate]) -> list[dict[str, Any]]:
    best_per_kind: dict[str, _Candidate] = {}
    for c in candidates:
        held = best_per_kind.get(c.kind)
        if held is None or (c.qualified, c.adj_r2) > (held.qualified, held.adj_r2):
            best_per_kind[c.kind] = c
    return [
        {"kind": c.kind, "heating_bp_c": c.heating_bp, "cooling_bp_c": c.cooling_bp,
         "adj_r2": c.adj_r2, "qualified": c.qualified, "reason": c.reason}
        for c in best_per_kind.values()
    ]  # fmt: skip


def _degree_day_source(days: pd.DataFrame, options: BaselineOptions) -> DegreeDays:
    return "hourly" if has_degree_days(days, [float(b) for b in _grid(options)]) else "daily_mean"


def fit(
    daily: pd.DataFrame,
    options: BaselineOptions | None = None,
    *,
    required_drivers: Sequence[str] = (),
    holdout_fraction: float = 0.25,
) -> BaselineModel:
    """Fit the best qualifying change-point model; raises InsufficientData with the reason.

    `required_drivers` names the drivers the site configures ("production", "temperature"): one that
    is missing or constant is a named warning and marks the model degraded (savings not verified).
    """
    options = options or BaselineOptions()
    days, notes = _usable_days(daily, options)
    degree_days = _degree_day_source(days, options)
    if degree_days == "hourly":
        days = days.loc[days.filter(regex=r"^(hdd|cdd)_").notna().all(axis=1)]
        notes.append("degree days are means of hourly values (not of the daily mean temperature)")
    if days.empty:
        raise InsufficientData("baseline: no usable days (energy, coverage, production, temperature)")
    usable = _coverage_check(daily, days, options)
    days = days.loc[_period_keys(days, options.granularity).isin(usable)]
    named: list[ModelWarning] = []
    use_production = _production_usable(days, notes, named, required_drivers)
    has_temperature = _temperature_usable(days, named, required_drivers)
    energy = (
        days[["energy_kwh", BILLING_PERIOD]] if _billed(days, options.granularity) else days[["energy_kwh"]]
    )
    y = period_frame(energy, options.granularity)["energy_kwh"].to_numpy(dtype=float)
    candidates = _candidates(days, y, options, use_production, has_temperature, degree_days)
    qualified = [c for c in candidates if c.qualified]
    if not qualified:
        raise InsufficientData("baseline: no candidate model could be fitted (data without variation?)")
    if _billed(days, options.granularity):
        notes.append(f"periods are the {y.size} bills of the baseline, not calendar months")
    best = max(qualified, key=lambda c: c.adj_r2)
    coefficients = {c: float(b) for c, b in zip(best.columns, best.beta, strict=True)}
    notes.extend(_coefficient_notes(coefficients, best, options))
    notes.extend(w.message for w in named)
    return BaselineModel(
        kind=best.kind,
        granularity=options.granularity,
        ipmvp_option=options.ipmvp_option,
        coefficients=coefficients,
        heating_bp_c=best.heating_bp,
        cooling_bp_c=best.cooling_bp,
        stats=_fit_stats(best, y),
        baseline_start=str(pd.Timestamp(days.index.min()).date()),
        baseline_end=str(pd.Timestamp(days.index.max()).date()),
        warnings=notes,
        candidates=_candidate_summary(candidates),
        degree_days=degree_days,
        out_of_sample=_holdout(days, y, best, use_production, degree_days, options, holdout_fraction),
        named_warnings=tuple(named),
        choice_reason=_choice_reason(
            options.granularity, best.kind, len(qualified), degree_days if has_temperature else None
        ),
    )


def _choice_reason(granularity: str, kind: str, qualified: int, degree_days: str | None) -> str:
    """Why this model: the granularity's family, how the form was picked, the temperature source."""
    if degree_days is None:
        temperature = "no temperature data"
    elif degree_days == "hourly":
        temperature = "temperature as degree days summed from hourly temperatures"
    else:
        temperature = "temperature as the period mean"
    return (
        f"{granularity} data: change-point family (1P-5P, production as an extra regressor); "
        f"{kind} has the highest adjusted R2 of {qualified} qualifying form(s); {temperature}"
    )


def _holdout(
    days: pd.DataFrame,
    y: np.ndarray,
    best: _Candidate,
    use_production: bool,
    degree_days: DegreeDays,
    options: BaselineOptions,
    fraction: float,
) -> OutOfSample | None:
    """Refit the chosen form on the first periods, predict the last `fraction` of them."""
    n_test = math.ceil(y.size * fraction)
    n_train = y.size - n_test
    if n_test < 1 or n_train <= len(best.columns):
        return None
    features = _day_features(days, best.kind, best.heating_bp, best.cooling_bp, use_production, degree_days)
    day_x = features[best.columns].to_numpy(dtype=float)
    grouping = _grouping(days, options.granularity)
    x = day_x if grouping is None else grouping @ day_x
    result = ols(x[:n_train], y[:n_train])
    if result is None:
        return None
    actual = y[n_train:]
    error = actual - x[n_train:] @ result.beta
    mean = float(actual.mean())
    return OutOfSample(
        method=f"hold-out: last {n_test} of {y.size} {options.granularity} periods",
        n_train=n_train,
        n_test=n_test,
        nmbe=float(error.sum() / (n_test * mean)),
        cv_rmse=float(np.sqrt((error @ error) / n_test) / mean),
    )


def _coefficient_notes(
    coefficients: dict[str, float], best: _Candidate, options: BaselineOptions
) -> list[str]:
    notes = []
    if "production" in coefficients:
        t = float(best.t_stats[best.columns.index("production")])
        if coefficients["production"] <= 0:
            notes.append("production coefficient is not positive: check the production data")
        elif abs(t) < options.min_t_stat:
            notes.append(f"production term not significant (|t| = {abs(t):.2f})")
    if coefficients["intercept"] < 0:
        notes.append("negative base load (intercept): the model extrapolates poorly at low output")
    return notes


# ---------------------------------------------------------------- acceptance


def cv_rmse_limit(granularity: str, reporting_months: int | None) -> float | None:
    """Guideline 14 CV(RMSE) limit: monthly 20 % (< 12 months reporting), 25 % (12-60), 30 % beyond;
    hourly 30 %; daily None (no published limit, see `verdict.cv_rmse_rule`)."""
    if granularity not in ("hourly", "daily", "monthly"):
        raise ValueError(f"granularity {granularity!r}: expected hourly, daily or monthly")
    return cv_rmse_rule(granularity, reporting_months)[0]  # type: ignore[arg-type]


def verdict(
    model: BaselineModel, *, reporting_months: int | None = None, fsu_68: float | None = None
) -> Verdict:
    """The baseline's verdict: CV(RMSE), out-of-sample NMBE, points, drivers (and FSU when given)."""
    s = model.stats
    return judge(
        model.granularity,
        cv_rmse=s.cv_rmse,
        nmbe_out_of_sample=None if model.out_of_sample is None else model.out_of_sample.nmbe,
        n=s.n,
        p=s.p,
        reporting_months=reporting_months,
        fsu_68=fsu_68,
        warnings=model.named_warnings,
    )


def accept(
    model: BaselineModel, *, reporting_months: int | None = None, nmbe_limit: float | None = None
) -> Acceptance:
    """The flat form of `verdict` for older callers; a no_limit check counts as not failing.

    `nmbe_limit` overrides the granularity's out-of-sample NMBE limit (e.g. a programme's own)."""
    judged = verdict(model, reporting_months=reporting_months)
    checks = []
    for c in judged.checks:
        limit, outcome = c.limit, c.outcome
        if c.statistic == "nmbe_out_of_sample" and nmbe_limit is not None:
            limit = nmbe_limit
            outcome = "pass" if abs(c.value) <= nmbe_limit else "fail"
        name = {"nmbe_out_of_sample": "nmbe"}.get(c.statistic, c.statistic)
        text = "no published limit" if limit is None else _limit_text(c.comparison, limit)
        checks.append(Check(name, c.value, text, outcome != "fail", c.source, outcome))
    if judged.degraded:
        for w in judged.warnings:
            checks.append(Check(w.code, math.nan, "configured driver present", False, w.message, "fail"))
    return Acceptance(passed=all(c.passed for c in checks), checks=checks)


def _limit_text(comparison: str, limit: float) -> str:
    if comparison == "abs<=":
        return f"within +/-{limit:.0%}"
    if comparison == ">":
        return f"> {limit:g}"
    return f"{comparison} {limit:.0%}"
