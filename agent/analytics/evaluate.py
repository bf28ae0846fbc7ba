"""Interval data in, verified (or not) savings out: choose the model, fit, compute, judge.

`evaluate(baseline, reporting, interval_minutes=..., tz=...)` takes interval frames (tz-aware UTC
index of interval starts; `energy_kwh`, optional `temperature_c` and `production`), picks the model
for the granularity and drivers (`choice.choose_model`, reason kept), fits it on the baseline,
computes the reporting period's savings with their Annex B bands and judges the result
(`verdict.Verdict`, including the savings uncertainty). `Evaluation.to_dict()` holds the figures a
CLI or report prints: savings_kwh, savings_percent, fsu_68, fsu_90, cv_rmse, nmbe (out of sample),
the verdict, model and granularity. Money, coal and CO2 are not here: they need a tariff and
factors the caller must name (`savings.value_savings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from agent.analytics.baseline import BaselineModel, balance_point_grid, fit, verdict
from agent.analytics.choice import ModelChoice, choose_model
from agent.analytics.degree_days import with_hourly_degree_days
from agent.analytics.errors import InsufficientData
from agent.analytics.hourly import HourlyModel, fit_hourly, hourly_frame, hourly_savings
from agent.analytics.intervals import daily_frame
from agent.analytics.savings import SavingsResult, savings
from agent.analytics.verdict import Verdict
from agent.config.analytics import BaselineOptions

__all__ = ["Evaluation", "evaluate"]

_DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class Evaluation:
    choice: ModelChoice
    model: BaselineModel | HourlyModel
    result: SavingsResult
    verdict: Verdict

    @property
    def model_name(self) -> str:
        if isinstance(self.model, HourlyModel):
            return f"hourly TOWT ({self.model.segmentation})"
        degree_days = ", hourly degree days" if self.model.degree_days == "hourly" else ""
        production = " + production" if self.model.uses_production else ""
        return f"{self.model.granularity} {self.model.kind}{production}{degree_days}"

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        cv = self.verdict.check("cv_rmse").value
        nmbe = self.verdict.check("nmbe_out_of_sample").value
        return {
            "model": self.model_name,
            "granularity": self.choice.model,
            "model_reason": self.choice.reason,
            "baseline": {"start": self.model.baseline_start, "end": self.model.baseline_end},
            "reporting": {"start": str(r.periods.index[0].date()), "end": str(r.periods.index[-1].date())},
            "adjusted_baseline_kwh": r.baseline_kwh,
            "actual_kwh": r.actual_kwh,
            "savings_kwh": r.savings_kwh,
            "savings_percent": 100.0 * r.fraction,
            "band_68_kwh": r.band(0.68).absolute_kwh,
            "band_90_kwh": r.band(0.90).absolute_kwh,
            "fsu_68": r.band(0.68).fraction_of_savings,
            "fsu_90": r.band(0.90).fraction_of_savings,
            "cv_rmse": cv,
            "nmbe": None if nmbe != nmbe else nmbe,  # NaN: no hold-out possible
            "status": self.verdict.status,
            "verdict": self.verdict.to_dict(),
            "warnings": list(r.warnings),
        }


def _present(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _daily(
    frame: pd.DataFrame, tz: str, minutes: int, choice: ModelChoice, grid: list[float]
) -> pd.DataFrame:
    temperature = frame["temperature_c"] if _present(frame, "temperature_c") else None
    production = frame["production"] if _present(frame, "production") else None
    days = daily_frame(
        frame["energy_kwh"], tz, production=production, temperature_c=temperature, interval_minutes=minutes
    )
    if choice.degree_days == "hourly" and temperature is not None:
        days = with_hourly_degree_days(days, temperature, tz, grid)
    return days


def evaluate(
    baseline: pd.DataFrame,
    reporting: pd.DataFrame,
    *,
    interval_minutes: int,
    tz: str,
    required_drivers: Sequence[str] = (),
    options: BaselineOptions | None = None,
) -> Evaluation:
    """Savings of the reporting period against a baseline model chosen for the data (see module)."""
    choice = choose_model(
        interval_minutes,
        has_temperature=_present(baseline, "temperature_c"),
        has_production=_present(baseline, "production"),
    )
    if choice.model == "monthly":
        raise InsufficientData(
            "billing-period data: build the day rows with billing.billing_daily_frame and fit monthly"
        )
    if choice.model == "hourly":
        temperature = "temperature_c"
        hourly_b = hourly_frame(
            baseline["energy_kwh"], baseline[temperature], interval_minutes=interval_minutes
        )
        hourly_r = hourly_frame(
            reporting["energy_kwh"], reporting.get(temperature), interval_minutes=interval_minutes
        )
        towt = fit_hourly(hourly_b, tz, required_drivers=required_drivers)
        result = hourly_savings(towt, hourly_r)
        months = round(len(result.periods) / _DAYS_PER_MONTH)
        judged = towt.verdict(reporting_months=months, fsu_68=result.band(0.68).fraction_of_savings)
        return Evaluation(choice, towt, result, judged)
    options = options or BaselineOptions()
    grid = balance_point_grid(options)
    model = fit(
        _daily(baseline, tz, interval_minutes, choice, grid), options, required_drivers=required_drivers
    )
    result = savings(model, _daily(reporting, tz, interval_minutes, choice, grid))
    months = round(len(result.periods) / (1 if model.granularity == "monthly" else _DAYS_PER_MONTH))
    judged = verdict(model, reporting_months=months, fsu_68=result.band(0.68).fraction_of_savings)
    return Evaluation(choice, model, result, judged)
