"""Which baseline model fits the data's granularity and drivers, and why (the reason is shown).

* <= 60 min intervals, temperature, no production: hourly TOWT (`hourly.fit_hourly`). CalTRACK
  2.0's hourly method; the load shape by time of week and occupancy is in the data; Guideline 14
  has hourly limits (CV(RMSE) 30 %, NMBE 10 %).
* <= 60 min intervals with production: daily change-point with production, degree days summed from
  the hourly temperatures. Production is counted per day or shift; the hourly model has no
  production term.
* <= 60 min intervals, neither driver: daily 1P (the mean day).
* daily data: daily change-point, degree days from the daily mean (no hourly temperatures to sum).
* billing periods (>= 28 days): monthly (the daily equation summed per month); Guideline 14's
  monthly limits apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ModelChoice", "choose_model"]


@dataclass(frozen=True)
class ModelChoice:
    model: Literal["hourly", "daily", "monthly"]
    degree_days: Literal["hourly", "daily_mean"] | None
    reason: str


def choose_model(interval_minutes: float, *, has_temperature: bool, has_production: bool) -> ModelChoice:
    """The model for data of `interval_minutes` with these drivers (see the module table)."""
    if interval_minutes >= 28 * 1440:
        return ModelChoice(
            "monthly",
            "daily_mean" if has_temperature else None,
            "billing-period data: monthly model (the daily equation summed over each bill's days, "
            "billing.billing_daily_frame); "
            "Guideline 14's monthly CV(RMSE) and NMBE limits apply",
        )
    if interval_minutes >= 1440:
        return ModelChoice(
            "daily",
            "daily_mean" if has_temperature else None,
            "daily data: daily change-point model on degree days from the daily mean temperature "
            "(no hourly temperatures to sum); Guideline 14 publishes no daily limit",
        )
    if has_production:
        return ModelChoice(
            "daily",
            "hourly" if has_temperature else None,
            "interval data with production: daily change-point model with production"
            + (", degree days summed from hourly temperatures" if has_temperature else "")
            + " (production is counted per day; the hourly model has no production term)",
        )
    if has_temperature:
        return ModelChoice(
            "hourly",
            None,
            "interval data with temperature and no production: CalTRACK 2.0-style hourly model "
            "(time of week x occupancy x temperature bins); Guideline 14 hourly limits apply",
        )
    return ModelChoice(
        "daily",
        None,
        "interval data without temperature or production: daily mean-day (1P) model, nothing to "
        "normalise against",
    )
