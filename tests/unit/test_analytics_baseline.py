import json

import numpy as np
import pandas as pd
import pytest

from agent.analytics import (
    BaselineModel,
    InsufficientData,
    NonRoutineAdjustment,
    absolute_uncertainty,
    accept,
    cv_rmse_limit,
    fit,
    fractional_savings_uncertainty,
    savings,
    value_savings,
)
from agent.analytics.stats import lag1_autocorrelation, t_cdf, t_two_sided
from agent.config.analytics import BaselineOptions


def synthetic_days(
    start: str,
    days: int,
    *,
    seed: int,
    reduction: float = 0.0,
    noise_kwh: float = 5.0,
    heating: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """energy = 100 + 2 production + 5 max(0, T - 18) (or 4 max(0, 15 - T)) + noise; returns truth."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    doy = np.asarray(dates.day_of_year)
    temperature = 18 + 10 * np.sin(2 * np.pi * (doy - 100) / 365) + rng.normal(0, 3, days)
    production = rng.uniform(50, 150, days)
    weather = 4 * np.maximum(0, 15 - temperature) if heating else 5 * np.maximum(0, temperature - 18)
    truth = 100 + 2 * production + weather
    energy = truth * (1 - reduction) + rng.normal(0, noise_kwh, days)
    frame = pd.DataFrame(
        {"energy_kwh": energy, "production": production, "temperature_c": temperature, "coverage": 1.0},
        index=dates,
    )
    return frame, truth


def test_fit_recovers_coefficients_and_cooling_balance_point() -> None:
    model = fit(synthetic_days("2024-01-01", 365, seed=1)[0])
    assert model.kind == "3PC"
    assert model.cooling_bp_c == 18.0
    assert model.coefficients["intercept"] == pytest.approx(100, abs=3)
    assert model.coefficients["production"] == pytest.approx(2, abs=0.05)
    assert model.coefficients["cdd"] == pytest.approx(5, abs=0.2)
    assert model.stats.t_stats["cdd"] > 10


def test_fit_recovers_a_heating_balance_point() -> None:
    model = fit(synthetic_days("2024-01-01", 365, seed=2, heating=True)[0])
    assert model.kind == "3PH"
    assert model.heating_bp_c == 15.0
    assert model.coefficients["hdd"] == pytest.approx(4, abs=0.2)


def test_without_weather_dependence_the_production_model_wins() -> None:
    frame, _ = synthetic_days("2024-01-01", 365, seed=3)
    frame["energy_kwh"] = 100 + 2 * frame["production"] + np.random.default_rng(99).normal(0, 5, 365)
    model = fit(frame)
    assert model.kind == "1P"
    assert any(not c["qualified"] for c in model.candidates)


def test_wrong_sign_candidates_are_disqualified_with_a_reason() -> None:
    model = fit(synthetic_days("2024-01-01", 365, seed=1)[0])
    heating = next(c for c in model.candidates if c["kind"] == "3PH")
    assert not heating["qualified"]
    assert "wrong sign" in heating["reason"] or "|t|" in heating["reason"]


def test_statistics_on_the_baseline() -> None:
    model = fit(synthetic_days("2024-01-01", 365, seed=1)[0])
    stats = model.stats
    assert stats.n == 365
    assert stats.p == 3
    assert 0.98 < stats.adj_r2 <= stats.r2 < 1
    assert stats.cv_rmse == pytest.approx(5 / stats.mean_kwh, rel=0.15)
    assert abs(stats.nmbe) < 1e-9  # OLS with an intercept
    assert abs(stats.rho) < 0.2  # white noise


def test_too_few_days_are_refused_with_the_count() -> None:
    with pytest.raises(InsufficientData, match="30 usable daily periods, need at least 90"):
        fit(synthetic_days("2024-01-01", 30, seed=1)[0])


def test_sparse_coverage_is_refused() -> None:
    frame, _ = synthetic_days("2024-01-01", 365, seed=1)
    frame.loc[frame.index[::5], "coverage"] = 0.5  # 20 % of days below the 90 % interval coverage
    with pytest.raises(InsufficientData, match="80% of daily periods"):
        fit(frame)


def test_partly_covered_days_are_scaled_to_a_full_day() -> None:
    frame, _ = synthetic_days("2024-01-01", 365, seed=1)
    frame.loc[frame.index[::7], "energy_kwh"] *= 0.95
    frame.loc[frame.index[::7], "coverage"] = 0.95
    model = fit(frame)
    assert model.coefficients["production"] == pytest.approx(2, abs=0.05)
    assert any("scaled" in w for w in model.warnings)


def test_model_round_trips_through_json() -> None:
    frame, _ = synthetic_days("2024-01-01", 365, seed=1)
    model = fit(frame)
    again = BaselineModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again == model
    pd.testing.assert_series_equal(again.predict(frame), model.predict(frame))


def test_monthly_model_sums_the_daily_equation_per_month() -> None:
    frame, truth = synthetic_days("2023-01-01", 730, seed=4)
    model = fit(frame, BaselineOptions(granularity="monthly", models=("1P", "3PC")))
    assert model.granularity == "monthly"
    assert model.stats.n == 24
    predicted = model.predict(frame)
    assert len(predicted) == 24
    monthly_truth = pd.Series(truth, index=frame.index).resample("MS").sum()
    assert np.allclose(predicted.to_numpy(), monthly_truth.to_numpy(), rtol=0.01)
    assert accept(model, reporting_months=6).passed


def test_a_noisy_daily_baseline_shows_its_cv_rmse_with_no_published_limit() -> None:
    # Guideline 14 sets no daily CV(RMSE) limit: the statistic is shown, never called a pass.
    frame, _ = synthetic_days("2024-01-01", 365, seed=5, noise_kwh=150.0)
    verdict = accept(fit(frame))
    cv = next(c for c in verdict.checks if c.name == "cv_rmse")
    assert cv.value > 0.30
    assert cv.outcome == "no_limit"
    assert cv.limit == "no published limit"
    assert json.dumps(verdict.to_dict())


@pytest.mark.parametrize(
    ("granularity", "months", "limit"),
    [
        ("monthly", 6, 0.20),
        ("monthly", 12, 0.25),
        ("monthly", 60, 0.25),
        ("monthly", 61, 0.30),
        ("hourly", 6, 0.30),
        ("daily", 6, None),
    ],
)
def test_guideline_14_cv_rmse_limits(granularity: str, months: int, limit: float | None) -> None:
    assert cv_rmse_limit(granularity, months) == limit


# ---------------------------------------------------------------- savings


def test_a_known_ten_percent_reduction_is_recovered_within_the_band() -> None:
    model = fit(synthetic_days("2024-01-01", 365, seed=1)[0])
    reporting, truth = synthetic_days("2025-01-01", 180, seed=6, reduction=0.10)
    result = savings(model, reporting)
    true_savings = 0.10 * truth.sum()
    band = result.band(0.90)
    assert abs(result.savings_kwh - true_savings) <= band.absolute_kwh
    assert result.fraction == pytest.approx(0.10, abs=0.01)
    assert result.meets_guideline_14()
    assert result.band(0.68).absolute_kwh < band.absolute_kwh
    assert result.periods["cumulative_savings_kwh"].iloc[-1] == pytest.approx(result.savings_kwh)
    assert json.dumps(result.to_dict())


def test_non_routine_adjustment_is_added_to_the_baseline() -> None:
    model = fit(synthetic_days("2024-01-01", 365, seed=1)[0])
    reporting, _ = synthetic_days("2025-01-01", 60, seed=6, reduction=0.10)
    plain = savings(model, reporting)
    reporting.loc["2025-02-01":"2025-02-10", "energy_kwh"] += 100.0  # a new line: +100 kWh/day
    added = NonRoutineAdjustment(start="2025-02-01", end="2025-02-10", kwh=1000.0, reason="new line")
    adjusted = savings(model, reporting, adjustments=[added])
    assert adjusted.non_routine_kwh == pytest.approx(1000.0)
    assert adjusted.savings_kwh == pytest.approx(plain.savings_kwh)


def test_adjustment_outside_the_reporting_period_is_refused() -> None:
    model = fit(synthetic_days("2024-01-01", 365, seed=1)[0])
    reporting, _ = synthetic_days("2025-01-01", 30, seed=6)
    stray = NonRoutineAdjustment(start="2026-01-01", end="2026-01-02", kwh=1.0, reason="typo")
    with pytest.raises(InsufficientData, match="typo"):
        savings(model, reporting, adjustments=[stray])


def test_annex_b_formula_on_a_hand_example() -> None:
    # 1.26 * 1.0 * 0.1 * sqrt((12/12) * (1 + 2/12) / 12) / 0.2 = 0.196437
    assert fractional_savings_uncertainty(0.1, 12, 12, 0.0, 0.2, 1.0) == pytest.approx(0.196437, abs=1e-6)
    # rho = 0.5: n' = 12 * 0.5 / 1.5 = 4 -> sqrt(3 * 1.5 / 12) = 0.612372 -> 0.385795
    assert fractional_savings_uncertainty(0.1, 12, 12, 0.5, 0.2, 1.0) == pytest.approx(0.385795, abs=1e-6)
    # absolute band = fraction x savings = factor x baseline
    assert absolute_uncertainty(0.1, 12, 12, 0.0, 1000.0, 1.0) == pytest.approx(
        0.196437 * 0.2 * 1000, abs=1e-3
    )


def test_negative_autocorrelation_never_inflates_the_point_count() -> None:
    assert fractional_savings_uncertainty(0.1, 12, 12, -0.5, 0.2, 1.0) == fractional_savings_uncertainty(
        0.1, 12, 12, 0.0, 0.2, 1.0
    )


@pytest.mark.parametrize(
    ("confidence", "dof", "t"), [(0.95, 10, 2.228139), (0.90, 30, 1.697261), (0.68, 1e6, 0.994458)]
)
def test_student_t_quantiles_match_tables(confidence: float, dof: float, t: float) -> None:
    assert t_two_sided(confidence, dof) == pytest.approx(t, abs=1e-5)
    assert t_cdf(t, dof) == pytest.approx(0.5 + confidence / 2, abs=1e-7)


def test_lag1_autocorrelation_of_an_alternating_series_is_negative() -> None:
    assert lag1_autocorrelation(np.array([1.0, -1.0, 1.0, -1.0])) == pytest.approx(-0.75)


def test_savings_value_in_yuan_coal_and_co2() -> None:
    value = value_savings(1000.0, 0.762307)
    assert value.yuan == pytest.approx(762.307)
    assert value.kgce == pytest.approx(122.9)
    assert value.tce == pytest.approx(0.1229)
    assert value.tco2 == pytest.approx(0.5306)
    assert {f.unit for f in value.factors} == {"kgce/kWh", "kgCO2/kWh"}
