"""Day-to-day variation of the simulated site (Scenario.variation), checked with plain values."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.errors import ConfigError
from simulators.environment import day_effects, line_states, output_share
from simulators.physics import compute_day
from simulators.scenario import Scenario, load_scenario, scenario_path

DEMO = load_scenario("demo_factory")
LINES = DEMO.variation.lines
HOURS = (np.arange(1440) + 0.5) / 60.0
TUESDAY = (date(2024, 1, 9), 8)  # (date, day index from the demo's start)
SUNDAY = (date(2024, 1, 7), 6)


def _with(**variation: Any) -> Scenario:
    return DEMO.model_copy(update={"variation": DEMO.variation.model_copy(update=variation)})


def _without_air(scenario: Scenario) -> Scenario:
    """The same site without its compressor room (and so its retrofit): loads and output only, fast."""
    return scenario.model_copy(update={"air": None, "retrofit": None})


def test_without_variation_nothing_varies() -> None:
    regular = _with(mix_sd=0.0, base_day_sd=0.0, base_drift_sd=0.0, weather_day_sd=0.0, lines=())
    for index in range(30):
        effects = day_effects(regular, index)
        assert (effects.mix, effects.base, effects.weather) == (1.0, 1.0, 1.0)
    states = line_states(regular, *TUESDAY, HOURS)
    assert states.shape == (0, 1440)
    np.testing.assert_array_equal(output_share(states), np.ones(1440))


def test_a_line_stands_all_day_or_half_a_shift() -> None:
    whole = line_states(_with(line_day_prob=1.0), *TUESDAY, HOURS)
    assert whole.shape == (len(LINES), 1440)
    assert not whole.any()
    half = line_states(_with(line_day_prob=0.0, line_stop_prob=1.0), *TUESDAY, HOURS)
    # the demo's shifts are 8 h long: each line stands for 4 h of one of them, and runs otherwise
    np.testing.assert_allclose((half == 0).sum(axis=1) / 60.0, 4.0, atol=1 / 60)
    for stopped in half == 0:
        hours = HOURS[stopped]
        assert (hours >= 8).all()  # within the day or the late shift (08:00 .. 24:00)
    assert output_share(half).min() >= 0.0
    assert output_share(half).max() == 1.0


def test_lines_do_not_stop_on_days_off() -> None:
    assert line_states(_with(line_day_prob=1.0), *SUNDAY, HOURS).all()


def test_day_effects_have_the_declared_spread_and_are_reproducible() -> None:
    effects = [day_effects(DEMO, index) for index in range(400)]
    mix = np.array([e.mix for e in effects])
    weather = np.array([e.weather for e in effects])
    assert mix.mean() == pytest.approx(1.0, abs=0.02)
    assert mix.std() == pytest.approx(DEMO.variation.mix_sd, rel=0.15)
    assert weather.std() == pytest.approx(DEMO.variation.weather_day_sd, rel=0.15)
    assert day_effects(DEMO, 17) == effects[17]


def test_a_line_down_all_day_cuts_its_energy_and_output_but_not_the_building() -> None:
    running = compute_day(
        _without_air(_with(line_day_prob=0.0, line_stop_prob=0.0)), TUESDAY[1], retrofit=True
    )
    down = compute_day(_without_air(_with(line_day_prob=1.0)), TUESDAY[1], retrofit=True)
    assert down.units.sum() == 0.0  # every line stands: nothing is made
    assert down.load_kw["granulation"].sum() < 0.2 * running.load_kw["granulation"].sum()  # base only
    np.testing.assert_allclose(down.load_kw["lighting_office"], running.load_kw["lighting_office"])


def test_the_counterfactual_day_sees_the_same_variation() -> None:
    actual = compute_day(DEMO, TUESDAY[1], retrofit=True)
    counterfactual = compute_day(DEMO, TUESDAY[1], retrofit=False)
    np.testing.assert_array_equal(actual.units, counterfactual.units)
    np.testing.assert_array_equal(actual.load_kw["coating"], counterfactual.load_kw["coating"])


def test_an_unknown_line_is_a_scenario_error(tmp_path: Path) -> None:
    source = scenario_path("demo_factory").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(source.replace("lines: [granulation,", "lines: [granulatoin,"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"variation\.lines: unknown loads"):
        load_scenario(bad)
