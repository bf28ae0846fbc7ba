"""Indicator values -> indicator scores -> dimension scores -> total -> grade.

Nothing is skipped silently: an indicator without a value scores 0 and carries the flag `missing`;
a value in the wrong unit scores 0 and carries `unit_mismatch`; a value whose data is below the
rubric's completeness threshold scores 0 too, as if missing, and carries `low_completeness` (its value
stays in the package, visible but not counted); a curve still holding placeholder values is
flagged `placeholder_curve`; a value taken from the other source than the rubric names (a declared
figure standing in for a measured one) is flagged `source_fallback`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.rating.curve import POINTS_DECIMALS, curve_points
from agent.rating.rubric import GradeBoundary, Indicator, Rubric, ValueSource
from agent.rating.values import DeclaredIndicators, IndicatorValue, MeasuredIndicators

__all__ = [
    "FLAGS",
    "DimensionScore",
    "GradeResult",
    "IndicatorScore",
    "grade_for",
    "score_dimensions",
    "score_indicator",
    "score_indicators",
]

FLAGS = ("missing", "unit_mismatch", "low_completeness", "placeholder_curve", "source_fallback")


@dataclass(frozen=True, slots=True)
class IndicatorScore:
    indicator: Indicator
    value: IndicatorValue | None
    points: float
    flags: tuple[str, ...]

    @property
    def max_points(self) -> float:
        return self.indicator.points


@dataclass(frozen=True, slots=True)
class DimensionScore:
    dimension_id: str
    points: float
    max_points: float


@dataclass(frozen=True, slots=True)
class GradeResult:
    grade: str
    tier: str
    min_points: float
    next_grade: str | None
    next_min_points: float | None

    def gap_to_next(self, total: float) -> float | None:
        """Points still needed for the next grade up; None at the top grade."""
        if self.next_min_points is None:
            return None
        return round(self.next_min_points - total, POINTS_DECIMALS)


def score_indicator(
    indicator: Indicator, value: IndicatorValue | None, completeness_threshold: float
) -> IndicatorScore:
    flags: list[str] = []
    if indicator.placeholder:
        flags.append("placeholder_curve")
    if value is None:
        return IndicatorScore(indicator, None, 0.0, ("missing", *flags))
    if value.source is not indicator.source:
        flags.append("source_fallback")
    if value.unit != indicator.unit:
        if value.completeness < completeness_threshold:
            flags.append("low_completeness")
        return IndicatorScore(indicator, value, 0.0, ("unit_mismatch", *flags))
    if value.completeness < completeness_threshold:
        return IndicatorScore(indicator, value, 0.0, ("low_completeness", *flags))
    return IndicatorScore(indicator, value, curve_points(indicator, value.value), tuple(flags))


def score_indicators(
    rubric: Rubric, measured: MeasuredIndicators, declared: DeclaredIndicators
) -> list[IndicatorScore]:
    """Score every indicator of the rubric, in rubric order, from its own source first."""
    scores = []
    for indicator in rubric.indicators:
        first, second = (
            (measured, declared) if indicator.source is ValueSource.MEASURED else (declared, measured)
        )
        value = first.get(indicator.id)
        if value is None:
            value = second.get(indicator.id)
        scores.append(score_indicator(indicator, value, rubric.completeness_threshold))
    return scores


def score_dimensions(rubric: Rubric, scores: list[IndicatorScore]) -> list[DimensionScore]:
    result = []
    for dim in rubric.dimensions:
        points = sum(s.points for s in scores if s.indicator.dimension == dim.id)
        result.append(DimensionScore(dim.id, round(points, POINTS_DECIMALS), dim.weight))
    return result


def grade_for(rubric: Rubric, total: float) -> GradeResult:
    """The highest grade whose boundary the total reaches, and the next one up."""
    above: GradeBoundary | None = None
    for boundary in rubric.grades:
        if total >= boundary.min_points:
            return GradeResult(
                boundary.grade,
                boundary.tier,
                boundary.min_points,
                above.grade if above else None,
                above.min_points if above else None,
            )
        above = boundary
    raise ValueError(f"total {total:g} is below every grade boundary (the lowest must start at 0)")
