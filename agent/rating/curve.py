"""Scoring curves: a value -> points, and the inverse (the value needed for a number of points)."""

from __future__ import annotations

from agent.rating.rubric import Direction, Indicator

__all__ = ["curve_points", "value_for_points"]

# scores are rounded so that sums and grade comparisons do not depend on float noise
POINTS_DECIMALS = 6


def curve_points(indicator: Indicator, value: float) -> float:
    """Points earned by `value` on the indicator's curve, 0..indicator.points."""
    scoring = indicator.scoring
    if scoring.curve == "linear":
        access, advanced = scoring.linear_bounds()
        progress = (value - access) / (advanced - access)
        if progress < 0:
            return 0.0
        share = scoring.access_share + (1.0 - scoring.access_share) * min(progress, 1.0)
        return round(indicator.points * share, POINTS_DECIMALS)
    earned = [
        points for step, points in scoring.threshold_steps() if _meets(indicator.direction, value, step)
    ]
    return round(max(earned, default=0.0), POINTS_DECIMALS)


def value_for_points(indicator: Indicator, target: float) -> float | None:
    """The least demanding value that earns at least `target` points; None if no value does."""
    if target <= 0:
        return None
    scoring = indicator.scoring
    if scoring.curve == "linear":
        access, advanced = scoring.linear_bounds()
        if target > indicator.points:
            return None
        share = target / indicator.points
        if share <= scoring.access_share:
            return access
        progress = (share - scoring.access_share) / (1.0 - scoring.access_share)
        return access + progress * (advanced - access)
    enough = [step for step, points in scoring.threshold_steps() if points >= target]
    if not enough:
        return None
    return max(enough) if indicator.direction is Direction.LOWER_IS_BETTER else min(enough)


def _meets(direction: Direction, value: float, step: float) -> bool:
    return value <= step if direction is Direction.LOWER_IS_BETTER else value >= step
