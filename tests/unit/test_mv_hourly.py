"""The hourly time-of-week-and-temperature model, model choice, and savings on simulated
temperature-only sites against their truth (two seeds here; bench/mv_validation.py runs more)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.analytics.baseline import BaselineModel
from agent.analytics.choice import choose_model
from agent.analytics.errors import InsufficientData
from agent.analytics.evaluate import evaluate
from agent.analytics.hourly import (
    HourlyModel,
    HourlyOptions,
    _fit_endpoints,
    fit_hourly,
    hourly_frame,
    hourly_savings,
)
from simulators.validation import run_case

TZ = "Etc/GMT-8"


def office(
    days: int, *, seed: int, start: str = "2024-01-01", reduction: float = 0.0, tz: str = TZ
) -> pd.DataFrame:
    """Weekdays 08-18 occupied (+40 kWh), cooling 3 kWh/degC above 18 degC, noise 2 kWh."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=days * 24, freq="h", tz=tz).tz_convert("UTC")
    local = index.tz_convert(tz)
    hours = np.arange(index.size)
    temperature = (
        17 + 9 * np.sin(2 * np.pi * (hours / 8766 - 0.3)) + 4 * np.sin(2 * np.pi * (hours % 24 - 9) / 24)
    )
    occupied = (local.day_of_week < 5) & (local.hour >= 8) & (local.hour < 18)
    energy = 20 + 40 * occupied + 3 * np.maximum(0, temperature - 18)
    energy = energy * (1 - reduction) + rng.normal(0, 2, index.size)
    return pd.DataFrame({"energy_kwh": energy, "temperature_c": temperature}, index=index)


def test_occupancy_follows_the_working_hours() -> None:
    model = fit_hourly(office(365, seed=1), TZ, HourlyOptions(segmentation="single"))
    occupied = np.asarray(model.segments[0].occupied).reshape(7, 24)
    assert occupied[:5, 9:17].all()  # weekdays inside working hours
    assert not occupied[:, :7].any()  # nights
    assert not occupied[5:].any()  # weekend


def test_a_known_ten_percent_saving_is_recovered_with_a_band() -> None:
    model = fit_hourly(office(366, seed=2), TZ)
    assert len(model.segments) == 12
    assert model.stats.cv_rmse < 0.10
    assert model.stats.holdout_nmbe is not None
    assert abs(model.stats.holdout_nmbe) < 0.05  # judged against 10 %
    result = hourly_savings(model, office(365, seed=3, start="2025-01-01", reduction=0.10))
    assert result.fraction == pytest.approx(0.10, abs=0.005)
    assert result.granularity == "hourly"
    assert len(result.periods) == 365
    assert 0 < result.band(0.90).absolute_kwh < 0.02 * result.baseline_kwh
    assert model.verdict(reporting_months=12).passed


def test_hourly_model_round_trips_through_json() -> None:
    model = fit_hourly(office(200, seed=11), TZ, required_drivers=("production",))
    again = HourlyModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again == model
    frame = office(10, seed=12, start="2024-05-01")
    predicted = again.predict(frame).to_numpy()
    assert not np.isnan(predicted).any()
    assert np.array_equal(predicted, model.predict(frame).to_numpy())
    assert model.predict(office(2, seed=13, start="2024-09-01")).isna().all()  # no September segment
    result = hourly_savings(model, office(45, seed=14, start="2024-07-17"))
    assert len(result.periods) == 15  # July only
    assert any("720 reporting hours left out" in w for w in result.warnings)


def test_out_of_sample_nmbe_fails_an_hourly_model_of_a_drifting_load() -> None:
    frame = office(366, seed=15)
    months = np.arange(len(frame)) / (24 * 30.4)
    frame["energy_kwh"] = frame["energy_kwh"] * (1 + 0.02 * months)  # +2 % a month, no term for it
    model = fit_hourly(frame, TZ, HourlyOptions(segmentation="single"))
    assert abs(model.stats.nmbe) < 1e-9  # in sample: zero by construction
    assert model.stats.holdout_nmbe is not None
    assert model.stats.holdout_nmbe > 0.10
    assert model.verdict().check("nmbe_out_of_sample").outcome == "fail"
    assert model.verdict().summary().startswith("savings not verified: nmbe_out_of_sample")


def test_sparse_temperature_bins_are_merged_from_the_outside_in() -> None:
    temperature = np.concatenate(
        [np.full(10, -5.0), np.full(500, 10.0), np.full(500, 20.0), np.full(5, 35.0)]
    )
    defaults = HourlyOptions().bin_endpoints_c
    assert _fit_endpoints(temperature, defaults, 20) == (
        12.7778,
    )  # then the empty 12.8-18.3 bin loses its right end


def test_too_few_hours_are_refused_with_the_share() -> None:
    frame = office(60, seed=4)
    frame.loc[frame.index[::3], "energy_kwh"] = np.nan
    with pytest.raises(InsufficientData, match="67% of the 1440 hours"):
        fit_hourly(frame, TZ)


def test_a_short_baseline_and_a_configured_production_are_named() -> None:
    model = fit_hourly(office(120, seed=5), TZ, required_drivers=("production",))
    codes = [w.code for w in model.warnings]
    assert codes == ["driver_missing", "baseline_short"]
    assert model.degraded
    assert model.verdict().status == "not verified"


def test_fifteen_minute_intervals_become_complete_hours_only() -> None:
    index = pd.date_range("2024-01-01", periods=8, freq="15min", tz="UTC")
    energy = pd.Series([1.0, 1, 1, 1, 2, 2, np.nan, 2], index=index)
    frame = hourly_frame(energy, pd.Series(np.arange(8.0), index=index), interval_minutes=15)
    assert frame["energy_kwh"].iloc[0] == 4.0
    assert np.isnan(frame["energy_kwh"].iloc[1])  # a missing quarter: not scaled up
    assert frame["temperature_c"].tolist() == [1.5, 5.5]


@pytest.mark.parametrize(
    ("minutes", "temperature", "production", "model", "degree_days"),
    [
        (60, True, False, "hourly", None),
        (15, True, True, "daily", "hourly"),
        (1440, True, False, "daily", "daily_mean"),
        (43200, True, False, "monthly", "daily_mean"),
        (60, False, False, "daily", None),
    ],
)
def test_the_model_follows_the_granularity_and_says_why(
    minutes: int, temperature: bool, production: bool, model: str, degree_days: str | None
) -> None:
    choice = choose_model(minutes, has_temperature=temperature, has_production=production)
    assert (choice.model, choice.degree_days) == (model, degree_days)
    assert len(choice.reason) > 40


@pytest.mark.parametrize(("seed", "fraction"), [(1, 0.05), (2, 0.10)])
def test_simulated_temperature_only_site_savings_match_the_truth(
    tmp_path: Path, seed: int, fraction: float
) -> None:
    for result in run_case(seed, fraction, tmp_path):
        assert result.true_fraction == pytest.approx(fraction, abs=1e-9)
        assert result.within_1pp, result
        assert result.inside_band, result
        assert result.verdict == "verified", result


# ---------------------------------------------------------------- evaluate: choose, fit, save, judge


def quarter_hours(hourly: pd.DataFrame) -> pd.DataFrame:
    index = pd.DatetimeIndex(hourly.index).repeat(4) + pd.to_timedelta(
        np.tile([0, 15, 30, 45], len(hourly)), unit="min"
    )
    return pd.DataFrame(
        {
            "energy_kwh": np.repeat(hourly["energy_kwh"].to_numpy() / 4, 4),
            "temperature_c": np.repeat(hourly["temperature_c"].to_numpy(), 4),
        },
        index=index,
    )


@pytest.mark.parametrize("tz", ["Etc/GMT-8", "Europe/Berlin"])  # Berlin: 23- and 25-hour days
@pytest.mark.parametrize("minutes", [60, 15])
def test_interval_data_gets_the_hourly_model_and_a_complete_answer(tz: str, minutes: int) -> None:
    baseline = office(366, seed=6, tz=tz)
    reporting = office(365, seed=7, start="2025-01-01", reduction=0.10, tz=tz)
    if minutes == 15:
        baseline, reporting = quarter_hours(baseline), quarter_hours(reporting)
    result = evaluate(baseline, reporting, interval_minutes=minutes, tz=tz)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["granularity"] == "hourly"
    assert data["model"] == "hourly TOWT (three_month_weighted)"
    assert "CalTRACK" in data["model_reason"]
    assert data["savings_percent"] == pytest.approx(10.0, abs=0.5)
    assert 0 < data["fsu_68"] < data["fsu_90"] < 0.5
    assert data["cv_rmse"] < 0.30
    assert abs(data["nmbe"]) < 0.10
    assert data["status"] == "verified"
    assert data["reporting"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert {c["statistic"] for c in data["verdict"]["checks"]} == {
        "cv_rmse",
        "nmbe_out_of_sample",
        "points",
        "fsu_68",
    }


def test_interval_data_with_production_gets_the_daily_model_on_hourly_degree_days() -> None:
    baseline, reporting = office(366, seed=8), office(365, seed=9, start="2025-01-01", reduction=0.10)
    for frame in (baseline, reporting):
        local = pd.DatetimeIndex(frame.index).tz_convert(TZ)
        frame["production"] = np.where(
            (local.day_of_week < 5) & (local.hour >= 8) & (local.hour < 18), 10.0, 0.0
        )
    result = evaluate(baseline, reporting, interval_minutes=60, tz=TZ, required_drivers=("production",))
    assert result.choice.model == "daily"
    assert isinstance(result.model, BaselineModel)
    assert result.model.degree_days == "hourly"
    assert result.model.uses_production
    assert result.model_name.startswith("daily ")
    assert result.model_name.endswith("+ production, hourly degree days")
    assert result.to_dict()["savings_percent"] == pytest.approx(10.0, abs=1.0)
    assert result.verdict.check("cv_rmse").outcome == "no_limit"


def test_daily_data_gets_the_daily_model_on_the_daily_mean() -> None:
    hours = office(366, seed=10)
    local_days = pd.DatetimeIndex(hours.index).tz_convert(TZ).normalize()
    daily = hours.groupby(local_days).agg({"energy_kwh": "sum", "temperature_c": "mean"})
    daily.index = pd.DatetimeIndex(daily.index).tz_convert("UTC")
    result = evaluate(daily.iloc[:240], daily.iloc[240:], interval_minutes=1440, tz=TZ)
    assert result.choice.model == "daily"
    assert isinstance(result.model, BaselineModel)
    assert result.model.degree_days == "daily_mean"
    assert result.to_dict()["savings_percent"] == pytest.approx(0.0, abs=3.0)
