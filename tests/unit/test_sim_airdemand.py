"""The process air demand of a day (simulators/airdemand.py), checked with plain values."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from simulators.airdemand import AirDemand, air_demand_of, day_process_demand, process_demand_m3min
from simulators.environment import production_level
from simulators.scenario import load_scenario

DAY = 86400
DEMO = load_scenario("demo_factory")


def _rngs(seed: int = 1) -> tuple[np.random.Generator, np.random.Generator]:
    return np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])


def _shifts() -> np.ndarray:
    """Level 0.1 at night, 1.0 from 08:00 to 16:00, 0.5 from 16:00 to midnight."""
    hours = np.arange(DAY) / 3600.0
    return np.where(hours < 8, 0.1, np.where(hours < 16, 1.0, 0.5))


def test_without_noise_or_groups_the_demand_is_base_plus_production_times_level() -> None:
    demand = AirDemand(base_m3min=5.0, production_m3min=40.0, groups=0, noise=0.0)
    flow = process_demand_m3min(demand, _shifts(), *_rngs())
    assert flow[0] == pytest.approx(5.0 + 4.0)
    assert flow[12 * 3600] == pytest.approx(45.0)
    assert flow[20 * 3600] == pytest.approx(25.0)


def test_base_demand_runs_around_the_clock() -> None:
    demand = AirDemand(base_m3min=6.0, production_m3min=60.0)
    flow = process_demand_m3min(demand, np.zeros(DAY), *_rngs())
    assert flow.min() > 6.0 * 0.8
    assert flow.mean() == pytest.approx(6.0, rel=0.02)


def test_machine_groups_make_steps_of_their_size() -> None:
    # No noise, all of the production part in three groups of weights 1/6, 2/6, 3/6: the demand can
    # only take the 8 values of the groups' on/off combinations, and it jumps between them.
    demand = AirDemand(base_m3min=0.0, production_m3min=60.0, groups=3, group_share=1.0, noise=0.0)
    flow = process_demand_m3min(demand, np.ones(DAY), *_rngs())
    scale = 60.0 / demand.availability
    allowed = {round(scale * k / 6, 6) for k in range(7)}
    assert {round(v, 6) for v in np.unique(flow)} <= allowed
    steps = np.abs(np.diff(flow))
    jumps = steps[steps > 1e-9]
    assert len(jumps) > 10  # groups start and stop many times a day (40 min on, 10 off)
    assert jumps.min() == pytest.approx(scale / 6)  # the smallest group's step: 12.5 m3/min


def test_the_groups_do_not_bias_the_daily_mean() -> None:
    demand = AirDemand(base_m3min=6.0, production_m3min=62.0)
    means = [process_demand_m3min(demand, np.ones(DAY), *_rngs(seed)).mean() for seed in range(20)]
    assert np.mean(means) == pytest.approx(68.0, rel=0.02)
    assert 0.005 < np.std(means) / 68.0 < 0.1  # but days differ


def test_minute_scale_noise_is_smooth_within_a_minute_and_of_the_given_size() -> None:
    demand = AirDemand(base_m3min=50.0, production_m3min=0.0, groups=0, noise=0.04, noise_knot_s=60)
    flow = process_demand_m3min(demand, np.zeros(DAY), *_rngs())
    relative = flow / 50.0 - 1.0
    assert 0.025 < relative.std() < 0.045  # interpolated knots of sd 4 %
    assert np.abs(np.diff(relative)).max() < 0.01  # no jumps from one second to the next


def test_a_scenario_day_follows_its_shifts_and_is_deterministic() -> None:
    day_index = 8  # 2024-01-09, a Tuesday
    assert date(2024, 1, 9).weekday() == 1
    per_minute = day_process_demand(DEMO, day_index, step_s=60)
    assert per_minute.shape == (1440,)
    np.testing.assert_array_equal(per_minute, day_process_demand(DEMO, day_index, step_s=60))
    per_second = day_process_demand(DEMO, day_index)
    np.testing.assert_allclose(per_minute, per_second.reshape(-1, 60).mean(axis=1))
    assert not np.array_equal(per_minute, day_process_demand(DEMO, day_index + 1, step_s=60))
    # local hours: the day shift at level 1.0 draws more than the late shift at 0.85 and the night
    night, early, late = (
        per_minute[2 * 60 : 6 * 60],
        per_minute[9 * 60 : 15 * 60],
        per_minute[17 * 60 : 23 * 60],
    )
    air = DEMO.air
    assert air is not None
    assert night.mean() == pytest.approx(air.base_demand_m3min + 0.05 * air.demand_m3min, rel=0.15)
    assert early.mean() > late.mean() > 3 * night.mean()


def test_a_holiday_draws_only_the_base_demand() -> None:
    hours = np.arange(24.0)
    assert not production_level(DEMO, date(2024, 2, 10), 40, hours).any()  # spring festival
    flow = day_process_demand(DEMO, 40, step_s=60)
    assert flow.mean() == pytest.approx(air_demand_of(DEMO).base_m3min, rel=0.03)


@pytest.mark.parametrize(
    "bad",
    [
        {"base_m3min": -1.0},
        {"groups": -1},
        {"group_share": 1.5},
        {"on_mean_s": 0.0},
        {"noise": -0.1},
        {"noise_knot_s": 0},
    ],
)
def test_a_nonsense_shape_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="air demand"):
        AirDemand(**{"base_m3min": 1.0, "production_m3min": 1.0, **bad})  # type: ignore[arg-type]


def test_a_step_that_does_not_divide_the_day_or_a_short_level_is_refused() -> None:
    with pytest.raises(ValueError, match="step_s 7"):
        day_process_demand(DEMO, 0, step_s=7)
    with pytest.raises(ValueError, match="86400 per-second values"):
        process_demand_m3min(AirDemand(1.0, 1.0), np.ones(1440), *_rngs())
