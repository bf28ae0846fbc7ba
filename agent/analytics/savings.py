"""Avoided energy and its uncertainty (IPMVP; ASHRAE Guideline 14-2014 Annex B).

    savings = adjusted baseline (model on reporting-period conditions) + non-routine adjustments - actual

Fractional savings uncertainty (Annex B):

    dE/E = 1.26 * t * CV * sqrt((n / n') * (1 + 2 / n') * (1 / m)) / F,   n' = n (1 - rho) / (1 + rho)

with CV the baseline CV(RMSE), n baseline points, rho the lag-1 autocorrelation of baseline residuals
(a negative rho is taken as 0: never claim more independent points than observed), m reporting points,
F = savings / adjusted baseline and t Student's t at the confidence level with n - p degrees of
freedom. The absolute band, dE = 1.26 * t * CV * sqrt(...) * adjusted baseline, needs no division by F
and stays finite when savings are near zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from agent.analytics.baseline import BILLING_PERIOD, BaselineModel, period_frame
from agent.analytics.errors import InsufficientData
from agent.analytics.factors import FactorUsed, co2_from_electricity, comprehensive_energy
from agent.analytics.stats import t_two_sided
from agent.config.analytics import Carrier, ConversionFactor, GridEmissionFactor, default_conversion_factors

__all__ = [
    "NonRoutineAdjustment",
    "SavingsResult",
    "SavingsValue",
    "Uncertainty",
    "absolute_uncertainty",
    "fractional_savings_uncertainty",
    "savings",
    "value_savings",
]


@dataclass(frozen=True)
class NonRoutineAdjustment:
    """Energy to add to the adjusted baseline over [start, end] (local dates, inclusive).

    Positive when a change not caused by the measure adds load the baseline does not know (a new
    line), negative when load went away (a closed workshop). Spread evenly over the reporting days;
    with `per_day`, `kwh` is added to every reporting day inside the window instead (days left out
    for low coverage get none, like their actual energy).
    """

    start: str
    end: str
    kwh: float
    reason: str
    per_day: bool = False


@dataclass(frozen=True)
class Uncertainty:
    confidence: float
    t: float
    absolute_kwh: float
    fraction_of_savings: float
    n: int
    n_effective: float
    m: int
    rho: float
    cv_rmse: float


def _n_effective(n: int, rho: float) -> float:
    rho = min(max(rho, 0.0), 0.99)
    return n * (1.0 - rho) / (1.0 + rho)


def _annex_b_factor(cv: float, n: int, m: int, rho: float, t: float) -> float:
    n_eff = _n_effective(n, rho)
    return 1.26 * t * cv * math.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff) * (1.0 / m))


def fractional_savings_uncertainty(cv: float, n: int, m: int, rho: float, fraction: float, t: float) -> float:
    """Guideline 14 Annex B fractional savings uncertainty (a fraction of the savings)."""
    if fraction == 0:
        return math.inf
    return _annex_b_factor(cv, n, m, rho, t) / abs(fraction)


def absolute_uncertainty(cv: float, n: int, m: int, rho: float, baseline_kwh: float, t: float) -> float:
    """Half-width of the savings band in kWh (= fractional uncertainty x savings)."""
    return _annex_b_factor(cv, n, m, rho, t) * baseline_kwh


@dataclass(frozen=True)
class SavingsResult:
    """Savings per period and in total, with uncertainty bands."""

    periods: pd.DataFrame
    baseline_kwh: float
    actual_kwh: float
    non_routine_kwh: float
    uncertainty: list[Uncertainty]
    model_kind: str
    granularity: str
    warnings: list[str] = field(default_factory=list)

    @property
    def savings_kwh(self) -> float:
        return self.baseline_kwh + self.non_routine_kwh - self.actual_kwh

    @property
    def fraction(self) -> float:
        """F: savings over the adjusted baseline."""
        return self.savings_kwh / (self.baseline_kwh + self.non_routine_kwh)

    def band(self, confidence: float = 0.68) -> Uncertainty:
        for u in self.uncertainty:
            if math.isclose(u.confidence, confidence):
                return u
        raise KeyError(f"no uncertainty at confidence {confidence}")

    def meets_guideline_14(self) -> bool:
        """Savings uncertainty below 50 % of savings at 68 % confidence."""
        return self.band(0.68).fraction_of_savings < 0.5

    def to_dict(self) -> dict[str, Any]:
        periods = self.periods.reset_index()
        periods[periods.columns[0]] = periods[periods.columns[0]].astype(str)
        return {
            "periods": periods.to_dict(orient="records"),
            "baseline_kwh": self.baseline_kwh,
            "actual_kwh": self.actual_kwh,
            "non_routine_kwh": self.non_routine_kwh,
            "savings_kwh": self.savings_kwh,
            "fraction": self.fraction,
            "uncertainty": [asdict(u) for u in self.uncertainty],
            "meets_guideline_14": self.meets_guideline_14(),
            "model_kind": self.model_kind,
            "granularity": self.granularity,
            "warnings": list(self.warnings),
        }


def _reporting_days(model: BaselineModel, daily: pd.DataFrame, min_coverage: float) -> pd.DataFrame:
    coverage = daily["coverage"] if "coverage" in daily.columns else pd.Series(1.0, index=daily.index)
    predicted = model.predict_daily(daily)
    keep = daily["energy_kwh"].notna() & predicted.notna() & (coverage >= min_coverage)
    if not keep.any():
        raise InsufficientData("savings: no reporting day has energy, coverage and model inputs")
    actual = daily.loc[keep, "energy_kwh"] / coverage[keep]
    out = pd.DataFrame({"adjusted_baseline_kwh": predicted[keep], "actual_kwh": actual})
    if BILLING_PERIOD in daily.columns:
        out[BILLING_PERIOD] = daily.loc[keep, BILLING_PERIOD]
    return out


def _non_routine(days: pd.DataFrame, adjustments: Sequence[NonRoutineAdjustment]) -> pd.Series:
    out = pd.Series(0.0, index=days.index, name="non_routine_kwh")
    for adjustment in adjustments:
        dates = pd.DatetimeIndex(days.index)
        inside = (dates >= pd.Timestamp(adjustment.start)) & (dates <= pd.Timestamp(adjustment.end))
        if adjustment.per_day:
            out[inside] += adjustment.kwh
            continue
        if not inside.any():
            raise InsufficientData(
                f"non-routine adjustment {adjustment.reason!r} ({adjustment.start}..{adjustment.end}) "
                "covers no reporting day"
            )
        out[inside] += adjustment.kwh / inside.sum()
    return out


def savings(
    model: BaselineModel,
    reporting_daily: pd.DataFrame,
    *,
    adjustments: Sequence[NonRoutineAdjustment] = (),
    confidences: Sequence[float] = (0.68, 0.90),
    min_period_coverage: float = 0.9,
) -> SavingsResult:
    """Avoided energy over a reporting period, with Annex B uncertainty bands."""
    days = _reporting_days(model, reporting_daily, min_period_coverage)
    days["non_routine_kwh"] = _non_routine(days, adjustments)
    periods = period_frame(days, model.granularity)
    periods["savings_kwh"] = (
        periods["adjusted_baseline_kwh"] + periods["non_routine_kwh"] - periods["actual_kwh"]
    )
    periods["cumulative_savings_kwh"] = periods["savings_kwh"].cumsum()
    baseline = float(periods["adjusted_baseline_kwh"].sum())
    non_routine = float(periods["non_routine_kwh"].sum())
    stats = model.stats
    m = len(periods)
    bands = []
    for confidence in confidences:
        t = t_two_sided(confidence, stats.n - stats.p)
        absolute = absolute_uncertainty(stats.cv_rmse, stats.n, m, stats.rho, baseline + non_routine, t)
        saved = baseline + non_routine - float(periods["actual_kwh"].sum())
        fraction = absolute / abs(saved) if saved else math.inf
        bands.append(
            Uncertainty(
                confidence,
                t,
                absolute,
                fraction,
                stats.n,
                _n_effective(stats.n, stats.rho),
                m,
                stats.rho,
                stats.cv_rmse,
            )
        )
    return SavingsResult(
        periods=periods,
        baseline_kwh=baseline,
        actual_kwh=float(periods["actual_kwh"].sum()),
        non_routine_kwh=non_routine,
        uncertainty=bands,
        model_kind=model.kind,
        granularity=model.granularity,
        warnings=list(model.warnings),
    )


@dataclass(frozen=True)
class SavingsValue:
    """Electricity savings expressed in money, standard coal and CO2, with the factors used."""

    kwh: float
    yuan: float
    kgce: float
    tce: float
    tco2: float
    price_yuan_per_kwh: float
    factors: list[FactorUsed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def value_savings(
    kwh: float,
    price_yuan_per_kwh: float,
    *,
    factors: dict[Carrier, ConversionFactor] | None = None,
    grid: GridEmissionFactor | None = None,
) -> SavingsValue:
    """kWh saved -> yuan (at a price, e.g. `tariff.effective_price` of the load), kgce/tce, tCO2."""
    coal = comprehensive_energy({Carrier.ELECTRICITY: kwh}, factors or default_conversion_factors())
    co2 = co2_from_electricity(kwh, grid)
    return SavingsValue(
        kwh=kwh,
        yuan=kwh * price_yuan_per_kwh,
        kgce=coal.total_kgce,
        tce=coal.total_tce,
        tco2=co2.tco2,
        price_yuan_per_kwh=price_yuan_per_kwh,
        factors=[*coal.factors, co2.factor],
    )
