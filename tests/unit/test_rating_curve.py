"""Scoring curves: linear between access (基准值) and advanced (引领值), thresholds, and their inverse."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.rating.curve import curve_points, value_for_points
from agent.rating.rubric import Indicator


def indicator(direction: str = "lower_is_better", points: float = 10, **scoring: Any) -> Indicator:
    return Indicator.model_validate(
        {
            "id": "x",
            "name": {"zh": "x", "en": "x"},
            "dimension": "d",
            "points": points,
            "unit": "u",
            "method": "m",
            "direction": direction,
            "source": "measured",
            "scoring": scoring or {"curve": "linear", "access": 100, "advanced": 80},
        }
    )


LOWER = indicator()  # access 100, advanced 80: less is better
HIGHER = indicator("higher_is_better", curve="linear", access=60, advanced=90)


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (100, 0.0),  # at the access value: nothing above the baseline yet
        (100.01, 0.0),  # worse than access
        (250, 0.0),
        (90, 5.0),  # half way
        (80, 10.0),  # at advanced: full points
        (10, 10.0),  # beyond advanced: capped
        (95, 2.5),
    ],
)
def test_linear_lower_is_better(value: float, points: float) -> None:
    assert curve_points(LOWER, value) == pytest.approx(points)


@pytest.mark.parametrize(
    ("value", "points"),
    [(60, 0.0), (59, 0.0), (75, 5.0), (90, 10.0), (120, 10.0), (0, 0.0)],
)
def test_linear_higher_is_better(value: float, points: float) -> None:
    assert curve_points(HIGHER, value) == pytest.approx(points)


def test_access_share_gives_points_at_the_baseline_and_none_below() -> None:
    curve = indicator(curve="linear", access=100, advanced=80, access_share=0.6)
    assert curve_points(curve, 100) == pytest.approx(6.0)
    assert curve_points(curve, 90) == pytest.approx(8.0)
    assert curve_points(curve, 100.5) == 0.0


def test_reversed_bounds_are_rejected_for_the_direction() -> None:
    with pytest.raises(ValidationError, match="`advanced` \\(120\\) must be below `access` \\(100\\)"):
        indicator(curve="linear", access=100, advanced=120)
    with pytest.raises(ValidationError, match="must be above"):
        indicator("higher_is_better", curve="linear", access=90, advanced=60)


def test_linear_needs_both_bounds_and_a_slope() -> None:
    with pytest.raises(ValidationError, match="needs both"):
        indicator(curve="linear", access=100)
    with pytest.raises(ValidationError, match="must differ"):
        indicator(curve="linear", access=100, advanced=100)


STEPPED = indicator("higher_is_better", curve="thresholds", steps=[[1, 4], [2, 10]])
STEPPED_LOW = indicator(curve="thresholds", steps=[[7.0, 3], [6.0, 10]])


@pytest.mark.parametrize(
    ("curve", "value", "points"),
    [
        (STEPPED, 0, 0.0),
        (STEPPED, 0.99, 0.0),
        (STEPPED, 1, 4.0),
        (STEPPED, 1.5, 4.0),
        (STEPPED, 2, 10.0),
        (STEPPED, 9, 10.0),
        (STEPPED_LOW, 7.01, 0.0),
        (STEPPED_LOW, 7.0, 3.0),
        (STEPPED_LOW, 6.5, 3.0),
        (STEPPED_LOW, 6.0, 10.0),
    ],
)
def test_thresholds_earn_the_best_step_met(curve: Indicator, value: float, points: float) -> None:
    assert curve_points(curve, value) == points


def test_threshold_steps_must_be_consistent() -> None:
    with pytest.raises(ValidationError, match="more points must ask for a better value"):
        indicator("higher_is_better", curve="thresholds", steps=[[2, 4], [1, 10]])
    with pytest.raises(ValidationError, match=r"points must be in \(0, 10\]"):
        indicator("higher_is_better", curve="thresholds", steps=[[1, 11]])
    with pytest.raises(ValidationError, match="belong to a linear curve"):
        indicator(curve="thresholds", steps=[[1, 1]], access=3)


@pytest.mark.parametrize("target", [0.5, 2.5, 5.0, 9.999, 10.0])
def test_value_for_points_is_the_inverse_of_the_linear_curve(target: float) -> None:
    for curve in (LOWER, HIGHER):
        needed = value_for_points(curve, target)
        assert needed is not None
        assert curve_points(curve, needed) == pytest.approx(target)


def test_value_for_points_on_thresholds_is_the_least_demanding_step() -> None:
    assert value_for_points(STEPPED, 3) == 1
    assert value_for_points(STEPPED, 4.5) == 2
    assert value_for_points(STEPPED_LOW, 2) == 7.0
    assert value_for_points(STEPPED, 11) is None
    assert value_for_points(LOWER, 10.5) is None
    assert value_for_points(LOWER, 0) is None


@given(
    a=st.floats(-1e6, 1e6),
    b=st.floats(-1e6, 1e6),
    share=st.floats(0, 0.99),
    direction=st.sampled_from(["lower_is_better", "higher_is_better"]),
)
def test_linear_points_stay_in_range_and_never_drop_as_the_value_improves(
    a: float, b: float, share: float, direction: str
) -> None:
    access, advanced = (100.0, 80.0) if direction == "lower_is_better" else (60.0, 90.0)
    curve = indicator(direction, curve="linear", access=access, advanced=advanced, access_share=share)
    worse, better = (max(a, b), min(a, b)) if direction == "lower_is_better" else (min(a, b), max(a, b))
    assert 0 <= curve_points(curve, worse) <= curve_points(curve, better) <= 10
