"""What would raise the grade: the indicators with the most points left, and the values that earn them."""

from __future__ import annotations

from dataclasses import dataclass

from agent.rating.curve import POINTS_DECIMALS, value_for_points
from agent.rating.score import GradeResult, IndicatorScore

__all__ = ["Improvement", "improvements"]


@dataclass(frozen=True, slots=True)
class Improvement:
    """One indicator's headroom. Values are the least demanding ones that earn the points."""

    indicator_id: str
    unit: str
    current_value: float | None
    current_points: float
    max_points: float
    points_available: float
    value_for_max: float | None
    closes_gap_alone: bool
    value_to_close_gap: float | None


def improvements(scores: list[IndicatorScore], grade: GradeResult, total: float) -> list[Improvement]:
    """Indicators with points left, most points first (ties by id, so the order is reproducible)."""
    gap = grade.gap_to_next(total)
    found = [_improvement(score, gap) for score in scores if score.max_points - score.points > 0]
    return sorted(found, key=lambda item: (-item.points_available, item.indicator_id))


def _improvement(score: IndicatorScore, gap: float | None) -> Improvement:
    indicator = score.indicator
    available = round(score.max_points - score.points, POINTS_DECIMALS)
    closes = gap is not None and available >= gap
    return Improvement(
        indicator_id=indicator.id,
        unit=indicator.unit,
        current_value=score.value.value if score.value is not None else None,
        current_points=score.points,
        max_points=score.max_points,
        points_available=available,
        value_for_max=value_for_points(indicator, indicator.points),
        closes_gap_alone=closes,
        value_to_close_gap=value_for_points(indicator, score.points + gap) if closes and gap else None,
    )
