"""The monthly model on utility bills with their own read dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agent.analytics.baseline import fit, verdict
from agent.analytics.billing import billing_daily_frame
from agent.analytics.errors import InsufficientData
from agent.analytics.savings import savings
from agent.config.analytics import BaselineOptions


def weather_and_use(
    days: int, seed: int, reduction_from: int | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-03", periods=days, freq="D")
    doy = np.asarray(dates.day_of_year)
    temperature = 17 + 10 * np.sin(2 * np.pi * (doy - 100) / 365) + rng.normal(0, 3, days)
    use = (
        400
        + 12 * np.maximum(0, temperature - 19)
        + 8 * np.maximum(0, 11 - temperature)
        + rng.normal(0, 10, days)
    )
    if reduction_from is not None:
        use[reduction_from:] *= 0.9
    return pd.DataFrame({"temperature_c": temperature}, index=dates), pd.Series(use, index=dates)


def bills_of(use: pd.Series, lengths: list[int]) -> pd.DataFrame:
    rows, start = [], 0
    for length in lengths:
        days = use.index[start : start + length]
        rows.append(
            {
                "start": days[0].date(),
                "end": days[-1].date(),
                "energy_kwh": float(use.iloc[start : start + length].sum()),
            }
        )
        start += length
    return pd.DataFrame(rows)


LENGTHS = [29, 33, 27, 31, 34, 28, 30, 32, 29, 31, 33, 28, 30] * 2  # 26 bills, 789 days


def test_bills_of_uneven_length_fit_and_predict_their_totals() -> None:
    weather, use = weather_and_use(800, seed=1)
    bills = bills_of(use, LENGTHS)
    frame = billing_daily_frame(bills.iloc[:13], weather)
    model = fit(frame, BaselineOptions(granularity="monthly"))
    assert model.stats.n == 13
    assert model.kind in ("4P", "5P")
    assert any("13 bills" in note for note in model.warnings)
    predicted = model.predict(frame)
    assert len(predicted) == 13
    assert np.allclose(predicted.to_numpy(), bills["energy_kwh"].iloc[:13].to_numpy(), rtol=0.03)
    judged = verdict(model, reporting_months=12)
    assert judged.check("cv_rmse").limit == 0.25  # Guideline 14 monthly, 12-60 reporting months
    assert judged.check("cv_rmse").outcome == "pass"


def test_a_ten_percent_saving_on_bills_is_recovered() -> None:
    cut = sum(LENGTHS[:13])
    weather, use = weather_and_use(800, seed=2, reduction_from=cut)
    bills = bills_of(use, LENGTHS)
    model = fit(billing_daily_frame(bills.iloc[:13], weather), BaselineOptions(granularity="monthly"))
    result = savings(model, billing_daily_frame(bills.iloc[13:], weather))
    assert len(result.periods) == 13
    assert result.fraction == pytest.approx(0.10, abs=0.01)
    assert result.actual_kwh == pytest.approx(float(bills["energy_kwh"].iloc[13:].sum()))


def test_overlapping_bills_are_refused_with_the_row() -> None:
    weather, use = weather_and_use(100, seed=3)
    bills = bills_of(use, [30, 30, 30])
    bills.loc[2, "start"] = bills.loc[1, "end"]
    with pytest.raises(InsufficientData, match=r"bills row 3: starts \S+, inside the previous bill"):
        billing_daily_frame(bills, weather)
