"""Scores, flags, grades and the "what would raise the grade" list, on a small rubric built in code."""

from __future__ import annotations

from typing import Any

import pytest

from agent.rating.package import rate
from agent.rating.rubric import Rubric, ensure_valid
from agent.rating.score import grade_for
from agent.rating.values import IndicatorValue, declared, measured


def small_rubric(**changes: Any) -> Rubric:
    data: dict[str, Any] = {
        "id": "test",
        "version": "1",
        "title": "test rubric",
        "notice": "test only",
        "total_points": 100,
        "completeness_threshold": 0.9,
        "dimensions": [
            {"id": "energy", "name": {"zh": "能", "en": "energy"}, "weight": 60},
            {"id": "other", "name": {"zh": "他", "en": "other"}, "weight": 40},
        ],
        "indicators": [
            _linear("energy_per_t", "energy", 40, "kgce/t", "lower_is_better", 100, 80, "measured"),
            _linear("coverage", "energy", 20, "%", "higher_is_better", 90, 100, "measured"),
            _linear("water_reuse", "other", 25, "%", "higher_is_better", 60, 90, "declared"),
            {
                **_linear("iso50001", "other", 15, "yes=1/no=0", "higher_is_better", 0, 1, "declared"),
                "scoring": {"curve": "thresholds", "steps": [[1, 15]]},
            },
        ],
        "grades": [
            {"grade": "AAAA", "min_points": 90, "tier": "green_factory"},
            {"grade": "AAA", "min_points": 80, "tier": "green_factory"},
            {"grade": "AA", "min_points": 70, "tier": "green_factory"},
            {"grade": "A", "min_points": 60, "tier": "green_factory"},
            {"grade": "B", "min_points": 50, "tier": "reserve"},
            {"grade": "C", "min_points": 40, "tier": "reserve"},
            {"grade": "D", "min_points": 0, "tier": "reserve"},
        ],
    }
    data.update(changes)
    return Rubric.model_validate(data)


def _linear(
    ind_id: str,
    dim: str,
    points: float,
    unit: str,
    direction: str,
    access: float,
    advanced: float,
    source: str,
) -> dict[str, Any]:
    return {
        "id": ind_id,
        "name": {"zh": ind_id, "en": ind_id},
        "dimension": dim,
        "points": points,
        "unit": unit,
        "method": f"how {ind_id} is defined",
        "direction": direction,
        "source": source,
        "scoring": {"curve": "linear", "access": access, "advanced": advanced},
    }


RUBRIC = small_rubric()
FULL_MEASURED = {
    "energy_per_t": measured(80, "kgce/t", "analytics.eui", 0.99),
    "coverage": measured(100, "%", "analytics.metering", 1.0),
}
FULL_DECLARED = {
    "water_reuse": declared(90, "%", "water balance test 2026"),
    "iso50001": declared(1, "yes=1/no=0", "certificate"),
}


def scores_by_id(
    measured_values: dict[str, IndicatorValue], declared_values: dict[str, IndicatorValue]
) -> Any:
    result = rate(RUBRIC, measured_values, declared_values)
    return result, {s.indicator.id: s for s in result.indicators}


def test_full_marks_everywhere_gives_the_top_grade() -> None:
    result, _ = scores_by_id(FULL_MEASURED, FULL_DECLARED)
    assert result.total == 100
    assert [d.points for d in result.dimensions] == [60, 40]
    assert result.grade.grade == "AAAA"
    assert result.grade.next_grade is None
    assert result.improvements == []


def test_missing_indicator_scores_zero_and_is_flagged() -> None:
    result, by_id = scores_by_id({"coverage": FULL_MEASURED["coverage"]}, FULL_DECLARED)
    assert by_id["energy_per_t"].points == 0
    assert by_id["energy_per_t"].flags == ("missing",)
    assert by_id["energy_per_t"].value is None
    assert result.total == 60
    assert result.grade.grade == "A"


def test_low_completeness_scores_zero_as_if_missing_but_keeps_its_value() -> None:
    # 95 % would earn 10 of 20 points; from 85 % of the data it earns none (issue 20: a year-on-year
    # figure from 26 days of last year scored full marks)
    low = {**FULL_MEASURED, "coverage": measured(95, "%", "analytics.metering", 0.85)}
    result, by_id = scores_by_id(low, FULL_DECLARED)
    assert by_id["coverage"].flags == ("low_completeness",)
    assert by_id["coverage"].points == 0
    assert by_id["coverage"].value is not None
    assert by_id["coverage"].value.value == 95
    assert by_id["energy_per_t"].flags == ()
    assert result.total == 80


def test_completeness_at_the_threshold_is_scored() -> None:
    edge = {**FULL_MEASURED, "coverage": measured(95, "%", "analytics.metering", 0.9)}
    _, by_id = scores_by_id(edge, FULL_DECLARED)
    assert by_id["coverage"].flags == ()
    assert by_id["coverage"].points == pytest.approx(10)


def test_wrong_unit_scores_zero_and_is_flagged() -> None:
    wrong = {**FULL_MEASURED, "energy_per_t": measured(0.08, "tce/t", "analytics.eui")}
    _, by_id = scores_by_id(wrong, FULL_DECLARED)
    assert by_id["energy_per_t"].points == 0
    assert "unit_mismatch" in by_id["energy_per_t"].flags


def test_declared_and_measured_values_each_come_from_their_source() -> None:
    # a measured figure for a declared indicator does not win over the declaration
    both = {**FULL_MEASURED, "water_reuse": measured(60, "%", "meter", 1.0)}
    _, by_id = scores_by_id(both, FULL_DECLARED)
    assert by_id["water_reuse"].value is not None
    assert by_id["water_reuse"].value.source.value == "declared"
    assert by_id["water_reuse"].points == 25
    assert by_id["water_reuse"].flags == ()


def test_other_source_is_used_as_fallback_and_flagged() -> None:
    stand_in = {"energy_per_t": declared(90, "kgce/t", "energy audit 2025")}
    _, by_id = scores_by_id({"coverage": FULL_MEASURED["coverage"]}, {**FULL_DECLARED, **stand_in})
    assert by_id["energy_per_t"].points == pytest.approx(20)
    assert by_id["energy_per_t"].flags == ("source_fallback",)


def test_inputs_the_rubric_does_not_know_are_reported() -> None:
    extra = {**FULL_MEASURED, "eui_kwh_per_m2": measured(1, "kWh/m2", "x")}
    result = rate(RUBRIC, extra, {**FULL_DECLARED, "solar_pv": declared(1, "kW", "x")})
    assert result.unused_inputs == ["measured:eui_kwh_per_m2", "declared:solar_pv"]


@pytest.mark.parametrize(
    ("total", "grade", "next_grade"),
    [
        (100, "AAAA", None),
        (90, "AAAA", None),
        (89.999999, "AAA", "AAAA"),
        (80, "AAA", "AAAA"),
        (70, "AA", "AAA"),
        (60, "A", "AA"),
        (59.9, "B", "A"),
        (50, "B", "A"),
        (40, "C", "B"),
        (39.99, "D", "C"),
        (0, "D", "C"),
    ],
)
def test_grade_boundaries_are_inclusive(total: float, grade: str, next_grade: str | None) -> None:
    result = grade_for(RUBRIC, total)
    assert (result.grade, result.next_grade) == (grade, next_grade)
    assert result.tier == ("green_factory" if grade.startswith("A") else "reserve")


def test_improvements_are_sorted_by_points_available_and_name_the_values_needed() -> None:
    part = {
        "energy_per_t": measured(95, "kgce/t", "analytics.eui", 1.0),  # 10 of 40
        "coverage": measured(95, "%", "analytics.metering", 1.0),  # 10 of 20
    }
    decl = {"water_reuse": declared(75, "%", "test"), "iso50001": declared(1, "yes=1/no=0", "cert")}
    result = rate(RUBRIC, part, decl)
    assert result.total == pytest.approx(47.5)  # 10 + 10 + 12.5 + 15
    assert result.grade.grade == "C"
    assert result.grade.gap_to_next(result.total) == pytest.approx(2.5)
    ids = [(i.indicator_id, i.points_available) for i in result.improvements]
    assert ids == [("energy_per_t", 30), ("water_reuse", 12.5), ("coverage", 10)]
    energy = result.improvements[0]
    assert energy.value_for_max == 80
    assert energy.closes_gap_alone
    # 12.5 of 40 points on a line from 100 (0 points) to 80 (40 points)
    assert energy.value_to_close_gap == pytest.approx(93.75)


def test_improvement_cannot_close_a_gap_larger_than_its_headroom() -> None:
    decl = {"iso50001": declared(1, "yes=1/no=0", "cert")}
    part = {"coverage": measured(99, "%", "m", 1.0)}  # 18 points: total 33, D, 7 to C
    result = rate(RUBRIC, part, decl)
    coverage = next(i for i in result.improvements if i.indicator_id == "coverage")
    assert coverage.points_available == pytest.approx(2)
    assert not coverage.closes_gap_alone
    assert coverage.value_to_close_gap is None
    assert coverage.value_for_max == 100


def test_inconsistent_rubric_built_in_code_is_refused() -> None:
    bad = small_rubric(total_points=90)
    with pytest.raises(ValueError, match="total_points: 90 differs from the sum of the dimension weights"):
        ensure_valid(bad)
    with pytest.raises(ValueError, match="invalid rubric"):
        rate(bad, {}, {})


def test_indicator_values_refuse_nan_and_bad_completeness() -> None:
    with pytest.raises(ValueError, match="finite"):
        measured(float("nan"), "%", "m")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        measured(1, "%", "m", completeness=1.2)
