"""The rating data package: one JSON document (and a CSV view) with everything a rating needs.

Reproducible by construction: the generation time is an input, numbers are rounded to a fixed number
of decimals, keys are sorted and lists keep rubric order, so the same inputs give the same bytes.
The document's shape is `schemas/rating/package.schema.json`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from agent import __version__
from agent.rating.curve import POINTS_DECIMALS
from agent.rating.improve import Improvement, improvements
from agent.rating.period import RatingPeriod
from agent.rating.provisional import ProvisionalReason, provisional_reasons
from agent.rating.rubric import Indicator, Rubric, ensure_valid
from agent.rating.score import (
    DimensionScore,
    GradeResult,
    IndicatorScore,
    grade_for,
    score_dimensions,
    score_indicators,
)
from agent.rating.values import DeclaredIndicators, FactorLike, MeasuredIndicators

__all__ = [
    "CSV_COLUMNS",
    "PACKAGE_SCHEMA_ID",
    "RatingResult",
    "build_package",
    "package_csv",
    "package_json",
    "rate",
]

PACKAGE_SCHEMA_ID = "energy-agent/rating-package/v1"
CSV_COLUMNS = (
    "indicator_id",
    "name_zh",
    "name_en",
    "dimension",
    "value",
    "unit",
    "source",
    "method",
    "completeness",
    "points",
    "max_points",
    "flags",
)
_VALUE_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class RatingResult:
    indicators: list[IndicatorScore]
    dimensions: list[DimensionScore]
    total: float
    grade: GradeResult
    improvements: list[Improvement]
    unused_inputs: list[str]


def rate(rubric: Rubric, measured: MeasuredIndicators, declared: DeclaredIndicators) -> RatingResult:
    """Score, grade and rank the headroom. Raises ValueError for an inconsistent rubric."""
    ensure_valid(rubric)
    scores = score_indicators(rubric, measured, declared)
    dimensions = score_dimensions(rubric, scores)
    total = round(sum(d.points for d in dimensions), POINTS_DECIMALS)
    grade = grade_for(rubric, total)
    known = {ind.id for ind in rubric.indicators}
    unused = [f"measured:{key}" for key in sorted(set(measured) - known)]
    unused += [f"declared:{key}" for key in sorted(set(declared) - known)]
    return RatingResult(scores, dimensions, total, grade, improvements(scores, grade, total), unused)


def build_package(
    rubric: Rubric,
    measured: MeasuredIndicators,
    declared: DeclaredIndicators,
    *,
    period: RatingPeriod,
    site: str,
    factors: Iterable[FactorLike],
    generated_at: datetime,
    as_of: date | None = None,
) -> dict[str, Any]:
    """The JSON-ready data package for one site and period.

    `as_of`: the site's local date the data runs to (default: `generated_at`'s own date); a period
    that has not ended by then makes the package provisional.
    """
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware (the package states UTC times)")
    result = rate(rubric, measured, declared)
    reasons = provisional_reasons(rubric, result.indicators, period, as_of or generated_at.date())
    return {
        "schema": PACKAGE_SCHEMA_ID,
        "site": site,
        "period": {
            "kind": period.kind,
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "generated_at": generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agent_version": __version__,
        "rubric": _rubric_part(rubric),
        "indicators": [_indicator_part(score) for score in result.indicators],
        "dimensions": _dimensions_part(rubric, result.dimensions),
        "total": {"points": _num(result.total), "max_points": _num(rubric.total_points)},
        "grade": _grade_part(result),
        "improvements": [_improvement_part(item) for item in result.improvements],
        "factors": [_factor_part(f) for f in factors],
        "provisional": bool(reasons),
        "provisional_reasons": [_reason_part(reason) for reason in reasons],
        "warnings": _warnings(reasons, result),
        "unused_inputs": result.unused_inputs,
    }


def package_json(package: Mapping[str, Any]) -> str:
    """Canonical JSON text: sorted keys, UTF-8 names kept readable, newline at the end."""
    return json.dumps(package, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def package_csv(package: Mapping[str, Any]) -> str:
    """One row per indicator, columns CSV_COLUMNS; flags joined with ';'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in package["indicators"]:
        writer.writerow(
            [
                item["id"],
                item["name"]["zh"],
                item["name"]["en"],
                item["dimension"],
                _cell(item["value"]),
                item["unit"],
                _cell(item["source"]),
                _cell(item["method"]),
                _cell(item["completeness"]),
                _cell(item["points"]),
                _cell(item["max_points"]),
                ";".join(item["flags"]),
            ]
        )
    return out.getvalue()


def _num(value: float) -> float:
    rounded = round(float(value), _VALUE_DECIMALS)
    if not math.isfinite(rounded):
        raise ValueError(f"cannot put a non-finite number ({value!r}) into the package")
    return rounded + 0.0  # turns -0.0 into 0.0 so the text does not depend on the sign of a zero


def _opt(value: float | None) -> float | None:
    return None if value is None else _num(value)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _rubric_part(rubric: Rubric) -> dict[str, Any]:
    return {
        "id": rubric.id,
        "version": rubric.version,
        "title": rubric.title,
        "official": rubric.official,
        "notice": rubric.notice,
        "basis": list(rubric.basis),
        "total_points": _num(rubric.total_points),
        "completeness_threshold": _num(rubric.completeness_threshold),
    }


def _curve_part(indicator: Indicator) -> dict[str, Any]:
    scoring = indicator.scoring
    return {
        "curve": scoring.curve,
        "access": _opt(scoring.access),
        "advanced": _opt(scoring.advanced),
        "access_share": _num(scoring.access_share),
        "steps": None if scoring.steps is None else [[_num(v), _num(p)] for v, p in scoring.steps],
        "placeholder": indicator.placeholder,
    }


def _indicator_part(score: IndicatorScore) -> dict[str, Any]:
    indicator, value = score.indicator, score.value
    return {
        "id": indicator.id,
        "name": {"zh": indicator.name.zh, "en": indicator.name.en},
        "dimension": indicator.dimension,
        "gbt36132": indicator.gbt36132.value if indicator.gbt36132 else None,
        "direction": indicator.direction.value,
        "expected_source": indicator.source.value,
        "definition": indicator.method,
        "unit": indicator.unit,
        "value": None if value is None else _num(value.value),
        "value_unit": None if value is None else value.unit,
        "source": None if value is None else value.source.value,
        "method": None if value is None else value.method,
        "completeness": None if value is None else _num(value.completeness),
        "points": _num(score.points),
        "max_points": _num(score.max_points),
        "curve": _curve_part(indicator),
        "flags": list(score.flags),
    }


def _dimensions_part(rubric: Rubric, scores: list[DimensionScore]) -> list[dict[str, Any]]:
    names = {dim.id: dim.name for dim in rubric.dimensions}
    return [
        {
            "id": score.dimension_id,
            "name": {"zh": names[score.dimension_id].zh, "en": names[score.dimension_id].en},
            "points": _num(score.points),
            "max_points": _num(score.max_points),
        }
        for score in scores
    ]


def _grade_part(result: RatingResult) -> dict[str, Any]:
    grade = result.grade
    return {
        "grade": grade.grade,
        "tier": grade.tier,
        "min_points": _num(grade.min_points),
        "next_grade": grade.next_grade,
        "next_min_points": _opt(grade.next_min_points),
        "gap_to_next": _opt(grade.gap_to_next(result.total)),
    }


def _improvement_part(item: Improvement) -> dict[str, Any]:
    return {
        "indicator_id": item.indicator_id,
        "unit": item.unit,
        "current_value": _opt(item.current_value),
        "current_points": _num(item.current_points),
        "max_points": _num(item.max_points),
        "points_available": _num(item.points_available),
        "value_for_max": _opt(item.value_for_max),
        "closes_gap_alone": item.closes_gap_alone,
        "value_to_close_gap": _opt(item.value_to_close_gap),
    }


def _factor_part(factor: FactorLike) -> dict[str, Any]:
    return {
        "name": factor.name,
        "value": _num(factor.value),
        "unit": factor.unit,
        "source": factor.source,
        "confirmed": bool(factor.confirmed),
    }


def _reason_part(reason: ProvisionalReason) -> dict[str, Any]:
    return {"code": reason.code, "text": reason.text, "indicators": list(reason.indicators)}


def _warnings(reasons: list[ProvisionalReason], result: RatingResult) -> list[str]:
    warnings = [reason.text for reason in reasons]
    if result.unused_inputs:
        warnings.append(f"values for indicators the rubric does not have: {', '.join(result.unused_inputs)}")
    return warnings
