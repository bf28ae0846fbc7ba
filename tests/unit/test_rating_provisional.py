"""When a rating is provisional, and why (agent.rating.provisional), on plain values."""

from __future__ import annotations

from datetime import date

from agent.rating.package import rate
from agent.rating.period import parse_period
from agent.rating.provisional import REASON_CODES, provisional_reasons
from agent.rating.values import measured
from tests.unit.test_rating_score import FULL_DECLARED, FULL_MEASURED, small_rubric

OCTOBER = parse_period("2026-10")
AFTER = date(2026, 11, 1)
OFFICIAL = small_rubric(official=True)


def codes(rubric_official: bool = True, as_of: date = AFTER, **measured_values: object) -> list[str]:
    rubric = OFFICIAL if rubric_official else small_rubric()
    values = {**FULL_MEASURED, **measured_values}
    result = rate(rubric, values, FULL_DECLARED)  # type: ignore[arg-type]
    return [r.code for r in provisional_reasons(rubric, result.indicators, OCTOBER, as_of)]


def test_a_complete_period_with_full_data_on_the_official_rubric_is_not_provisional() -> None:
    assert codes() == []


def test_an_editable_rubric_makes_it_provisional() -> None:
    assert codes(rubric_official=False) == ["unofficial_rubric"]


def test_a_period_not_yet_ended_is_provisional_up_to_its_last_day() -> None:
    assert codes(as_of=date(2026, 10, 31)) == ["period_incomplete"]
    assert codes(as_of=date(2026, 10, 1)) == ["period_incomplete"]
    assert codes(as_of=date(2026, 11, 1)) == []


def test_low_indicator_completeness_is_a_reason_naming_the_indicator() -> None:
    rubric = OFFICIAL
    values = {**FULL_MEASURED, "energy_per_t": measured(80, "kgce/t", "eui", 0.2)}
    result = rate(rubric, values, FULL_DECLARED)
    reasons = provisional_reasons(rubric, result.indicators, OCTOBER, AFTER)
    assert [(r.code, r.indicators) for r in reasons] == [("low_completeness", ("energy_per_t",))]
    assert "scored 0, as missing" in reasons[0].text
    assert result.total == 60  # its 40 points are not counted


def test_every_code_is_one_the_schema_knows() -> None:
    import json
    from pathlib import Path

    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "schemas/rating/package.schema.json").read_text("utf-8")
    )
    assert tuple(schema["properties"]["provisional_reasons"]["items"]["properties"]["code"]["enum"]) == (
        REASON_CODES
    )
