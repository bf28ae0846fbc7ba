"""The simulated factory's physics: exact counters, determinism, weather, retrofit counterfactual."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.errors import ConfigError
from simulators.environment import local_days, outdoor_temperature_c
from simulators.physics import compute_days
from simulators.scenario import load_scenario
from simulators.site import SiteModel
from tests.scenarios import shipped_scenario

TINY = shipped_scenario("tiny")
DAY = 86400.0


def _integral_of_gauge(model: SiteModel, device: str, point: str, t0: float, t1: float, dt: float) -> float:
    times = np.arange(t0, t1, dt)
    # Midpoint rule: gauges are piecewise constant, so this converges to the exact integral.
    return sum(model.values(device, t + dt / 2)[point] for t in times) * dt / 3600.0


def test_meter_energy_counter_is_the_integral_of_its_power_gauge_over_a_day() -> None:
    model = SiteModel(TINY)
    t0 = TINY.start.timestamp() + 2 * DAY + 17.0  # not aligned to steps
    energy = (
        model.counters("main_meter", t0 + DAY)["import_kwh"] - model.counters("main_meter", t0)["import_kwh"]
    )
    integral = _integral_of_gauge(model, "main_meter", "active_power_total_kw", t0, t0 + DAY, 10.0)
    assert energy > 100
    assert energy == pytest.approx(integral, rel=1e-3)


def test_compressor_energy_counter_integrates_its_load_unload_power() -> None:
    model = SiteModel(TINY)
    t0 = TINY.start.timestamp() + 1 * DAY + 3 * 3600  # night: c1 alone cycles on the leaks
    states = {model.values("c1", t0 + s)["state"] for s in range(0, 600, 5)}
    assert {1.0, 2.0} <= states, "c1 should load and unload within ten minutes"
    energy = model.counters("c1", t0 + 7200)["energy_kwh"] - model.counters("c1", t0)["energy_kwh"]
    integral = _integral_of_gauge(model, "c1", "active_power_kw", t0, t0 + 7200, 1.0)
    assert energy == pytest.approx(integral, rel=1e-3)


def test_unloaded_power_is_a_fifth_to_a_quarter_of_loaded_power() -> None:
    model = SiteModel(TINY)
    t0 = TINY.start.timestamp() + DAY + 3 * 3600
    power = {
        model.values("c1", t0 + s)["state"]: model.values("c1", t0 + s)["active_power_kw"] for s in range(600)
    }
    assert 0.2 <= power[1.0] / power[2.0] <= 0.25


def test_meter_counter_at_the_start_is_its_initial_reading() -> None:
    model = SiteModel(TINY)
    assert model.counters("main_meter", TINY.start.timestamp())["import_kwh"] == pytest.approx(12000.0)


def test_days_are_the_same_whatever_order_they_are_computed_in() -> None:
    first, second = SiteModel(TINY), SiteModel(TINY)
    t = TINY.start.timestamp() + 2.3 * DAY
    second.counters("main_meter", TINY.start.timestamp() + 4 * DAY)
    assert first.values("main_meter", t) == second.values("main_meter", t)


def test_counterfactual_equals_actual_before_the_retrofit_and_uses_more_after() -> None:
    assert TINY.retrofit is not None
    retrofit_day = (TINY.retrofit.date - TINY.start.date()).days
    # All days' rooms in one batch (as the history does): each room runs on its own all the same.
    pairs = [(day, retrofit) for day in range(retrofit_day + 1) for retrofit in (True, False)]
    batch = compute_days(TINY, pairs)
    for day in range(retrofit_day):
        actual, counterfactual = batch.day(2 * day), batch.day(2 * day + 1)
        for name in actual.compressors:
            assert np.array_equal(actual.element_kw(name), counterfactual.element_kw(name))
    after_actual = batch.day(2 * retrofit_day)
    after_counterfactual = batch.day(2 * retrofit_day + 1)
    used = sum(after_actual.element_kw(n).sum() for n in after_actual.compressors)
    would_have_used = sum(after_counterfactual.element_kw(n).sum() for n in after_counterfactual.compressors)
    assert 0.6 * would_have_used < used < 0.95 * would_have_used


def test_chongqing_weather_has_hot_summers_and_mild_winters() -> None:
    demo = load_scenario("demo_factory")
    start = demo.start.timestamp()
    steps = np.arange(0, 86400, demo.step_s) + demo.step_s / 2
    year = [
        outdoor_temperature_c(demo.weather, demo.seed, local_days(demo, start + d * 86400 + steps))
        for d in range(0, 365, 3)
    ]
    daily_max = np.array([t.max() for t in year])
    daily_mean = np.array([t.mean() for t in year])
    assert daily_max.max() > 34
    assert 5 < daily_mean.min() < 11


def test_an_unknown_scenario_field_is_reported_with_its_path(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "simulators/scenarios/tiny.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("receiver_m3: 10", "receiver_m3: 10\n  reciever_litres: 3000"))
    with pytest.raises(ConfigError) as caught:
        load_scenario(bad)
    assert "air.reciever_litres" in str(caught.value)
