"""The rating rubric: dimensions, indicators with scoring curves, and grade boundaries.

A rubric is a YAML file (`edge_configs/rating/*.yaml`) loaded into these models. Every number in a
rubric is a setting: the shipped rubric is an editable default modelled on GB/T 36132-2025, not the
Chongqing municipal rubric (which is not public). `official: false` travels into every data package.

Scoring curves:
- `linear`: 0 points worse than the access value (基准值); `access_share` of the points at the access
  value; full points at or beyond the advanced value (引领值); a straight line in between.
- `thresholds`: a list of `[value, points]`; the indicator earns the points of the best step it meets
  ("meets" = value <= step for lower_is_better, >= for higher_is_better), 0 if it meets none.

Single-field rules live in the models; rules that span the file (sums of points, known dimensions,
grade order) are in `rubric_problems`, which returns field paths so a loader can name the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Dimension",
    "Direction",
    "GbT36132Category",
    "GradeBoundary",
    "Indicator",
    "Name",
    "Rubric",
    "RubricProblem",
    "Scoring",
    "ValueSource",
    "ensure_valid",
    "rubric_problems",
]

_ID = r"^[a-z][a-z0-9_]*$"
# points are compared after summing many floats; this is far below any meaningful score step
POINTS_TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Direction(StrEnum):
    LOWER_IS_BETTER = "lower_is_better"
    HIGHER_IS_BETTER = "higher_is_better"


class ValueSource(StrEnum):
    """Where an indicator's value comes from: the agent's own data, or the factory's declaration."""

    MEASURED = "measured"
    DECLARED = "declared"


class GbT36132Category(StrEnum):
    """First-level indicators of GB/T 36132-2025, kept so a report can regroup by the national standard."""

    ENERGY_LOW_CARBON = "energy_low_carbon"
    RESOURCE_EFFICIENCY = "resource_efficiency"
    CLEAN_PRODUCTION = "clean_production"
    GREEN_PRODUCTS = "green_products"
    INTENSIVE_LAND_USE = "intensive_land_use"
    MANAGEMENT = "management"


class Name(_Strict):
    zh: str = Field(min_length=1, description="Chinese name as used in the rating documents.")
    en: str = Field(min_length=1, description="English name.")


class Scoring(_Strict):
    """How a value becomes points (see the module docstring for the two curves)."""

    curve: Literal["linear", "thresholds"] = Field(default="linear", description="linear or thresholds.")
    access: float | None = Field(default=None, description="Access / baseline value (基准值); linear only.")
    advanced: float | None = Field(
        default=None, description="Advanced / leading value (引领值); linear only."
    )
    access_share: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Share of the points earned exactly at the access value."
    )
    steps: tuple[tuple[float, float], ...] | None = Field(
        default=None, description="[value, points] steps; thresholds only."
    )

    @model_validator(mode="after")
    def _fields_match_curve(self) -> Scoring:
        if self.curve == "linear":
            if self.access is None or self.advanced is None:
                raise ValueError("a linear curve needs both `access` (基准值) and `advanced` (引领值)")
            if self.steps is not None:
                raise ValueError("`steps` belongs to a thresholds curve, not a linear one")
            if self.access == self.advanced:
                raise ValueError("`access` and `advanced` must differ (the line needs a slope)")
        else:
            if not self.steps:
                raise ValueError("a thresholds curve needs at least one [value, points] step")
            if self.access is not None or self.advanced is not None or self.access_share:
                raise ValueError("`access`/`advanced`/`access_share` belong to a linear curve")
        return self

    def linear_bounds(self) -> tuple[float, float]:
        """(access, advanced) of a linear curve."""
        if self.access is None or self.advanced is None:
            raise ValueError("not a linear curve")
        return self.access, self.advanced

    def threshold_steps(self) -> tuple[tuple[float, float], ...]:
        """The [value, points] steps of a thresholds curve."""
        if self.steps is None:
            raise ValueError("not a thresholds curve")
        return self.steps


class Indicator(_Strict):
    id: str = Field(pattern=_ID, max_length=64, description="Stable id (snake_case); the key of values.")
    name: Name
    dimension: str = Field(description="Id of the dimension the points count towards.")
    gbt36132: GbT36132Category | None = Field(
        default=None, description="First-level indicator of GB/T 36132-2025 this belongs to."
    )
    points: float = Field(gt=0, description="Points at full score.")
    unit: str = Field(min_length=1, description="Unit the value must be given in.")
    method: str = Field(min_length=1, description="How the value is defined and obtained.")
    direction: Direction
    source: ValueSource = Field(description="measured (the agent computes it) or declared (the factory).")
    scoring: Scoring
    placeholder: bool = Field(
        default=False,
        description="True while the curve's values are placeholders: set them from your sector's standard.",
    )
    basis: str = Field(default="", description="Why the indicator is here: standard, clause, practice.")

    @model_validator(mode="after")
    def _curve_agrees_with_direction(self) -> Indicator:
        scoring = self.scoring
        if scoring.curve == "thresholds":
            self._check_steps(scoring.threshold_steps())
            return self
        access, advanced = scoring.linear_bounds()
        if (advanced < access) != (self.direction is Direction.LOWER_IS_BETTER):
            side = "below" if self.direction is Direction.LOWER_IS_BETTER else "above"
            raise ValueError(
                f"{self.direction.value}: `advanced` ({advanced:g}) must be {side} `access` ({access:g})"
            )
        return self

    def _check_steps(self, steps: Sequence[tuple[float, float]]) -> None:
        for value, points in steps:
            if not 0 < points <= self.points + POINTS_TOLERANCE:
                raise ValueError(f"step [{value:g}, {points:g}]: points must be in (0, {self.points:g}]")
        ranked = sorted(steps, key=lambda s: s[1])
        for (easy_value, easy_points), (hard_value, hard_points) in pairwise(ranked):
            if easy_points == hard_points:
                raise ValueError(f"two steps give the same points ({hard_points:g}); keep one")
            stricter = (
                hard_value < easy_value
                if self.direction is Direction.LOWER_IS_BETTER
                else hard_value > easy_value
            )
            if not stricter:
                raise ValueError(
                    f"{self.direction.value}: a step with more points must ask for a better value"
                )


class Dimension(_Strict):
    id: str = Field(pattern=_ID, max_length=64)
    name: Name
    weight: float = Field(gt=0, description="Points of the dimension = the sum of its indicators' points.")
    description: str = ""


class GradeBoundary(_Strict):
    grade: str = Field(min_length=1, max_length=8, description="A, AA, AAA, AAAA, B, C, D ...")
    min_points: float = Field(ge=0, description="Lowest total that earns the grade (inclusive).")
    tier: Literal["green_factory", "reserve"] = Field(
        description="green_factory: a rated green factory; reserve: kept in the reserve pool."
    )


class Rubric(_Strict):
    id: str = Field(pattern=_ID, max_length=64)
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    official: bool = Field(
        default=False, description="False for every shipped rubric: it is an editable default."
    )
    notice: str = Field(min_length=1, description="What the rubric is and is not; printed in every package.")
    basis: tuple[str, ...] = Field(default=(), description="Standards and documents the rubric follows.")
    total_points: float = Field(default=100.0, gt=0)
    completeness_threshold: float = Field(
        default=0.9, ge=0, le=1, description="Measured values with lower data completeness are flagged."
    )
    dimensions: tuple[Dimension, ...] = Field(description="At least one.")
    indicators: tuple[Indicator, ...] = Field(description="At least one.")
    grades: tuple[GradeBoundary, ...] = Field(description="Highest grade first; the last starts at 0.")

    def indicator(self, indicator_id: str) -> Indicator:
        for item in self.indicators:
            if item.id == indicator_id:
                return item
        raise KeyError(indicator_id)


@dataclass(frozen=True, slots=True)
class RubricProblem:
    """A cross-field problem: the field path (as in the file) and what is wrong."""

    path: tuple[str | int, ...]
    message: str


def rubric_problems(rubric: Rubric) -> list[RubricProblem]:
    """Rules that span the rubric. Empty list = consistent."""
    return [*_id_problems(rubric), *_points_problems(rubric), *_grade_problems(rubric)]


def ensure_valid(rubric: Rubric) -> None:
    """Raise ValueError listing every cross-field problem (for rubrics built in code, not loaded)."""
    problems = rubric_problems(rubric)
    if problems:
        lines = [f"{'.'.join(str(p) for p in pr.path)}: {pr.message}" for pr in problems]
        raise ValueError("invalid rubric:\n" + "\n".join(lines))


def _id_problems(rubric: Rubric) -> list[RubricProblem]:
    # emptiness is checked here, not with min_length: pydantic adds a misleading "at least 1 item"
    # error to a tuple whose only item is invalid
    problems = [
        RubricProblem((section,), "at least one entry is required")
        for section in ("dimensions", "indicators", "grades")
        if not getattr(rubric, section)
    ]
    seen: set[str] = set()
    for i, dim in enumerate(rubric.dimensions):
        if dim.id in seen:
            problems.append(RubricProblem(("dimensions", i, "id"), f"duplicate dimension id {dim.id!r}"))
        seen.add(dim.id)
    ids: set[str] = set()
    for i, ind in enumerate(rubric.indicators):
        if ind.id in ids:
            problems.append(RubricProblem(("indicators", i, "id"), f"duplicate indicator id {ind.id!r}"))
        ids.add(ind.id)
        if ind.dimension not in seen:
            known = ", ".join(sorted(seen))
            message = f"unknown dimension {ind.dimension!r} (known: {known})"
            problems.append(RubricProblem(("indicators", i, "dimension"), message))
    return problems


def _points_problems(rubric: Rubric) -> list[RubricProblem]:
    problems = []
    for i, dim in enumerate(rubric.dimensions):
        total = sum(ind.points for ind in rubric.indicators if ind.dimension == dim.id)
        if abs(total - dim.weight) > POINTS_TOLERANCE:
            message = f"weight {dim.weight:g} differs from the sum of its indicators' points ({total:g})"
            problems.append(RubricProblem(("dimensions", i, "weight"), message))
    weights = sum(dim.weight for dim in rubric.dimensions)
    if abs(weights - rubric.total_points) > POINTS_TOLERANCE:
        message = f"{rubric.total_points:g} differs from the sum of the dimension weights ({weights:g})"
        problems.append(RubricProblem(("total_points",), message))
    return problems


def _grade_problems(rubric: Rubric) -> list[RubricProblem]:
    problems = []
    names: set[str] = set()
    for i, grade in enumerate(rubric.grades):
        if grade.grade in names:
            problems.append(RubricProblem(("grades", i, "grade"), f"duplicate grade {grade.grade!r}"))
        names.add(grade.grade)
        if grade.min_points > rubric.total_points:
            message = f"{grade.min_points:g} is above total_points ({rubric.total_points:g})"
            problems.append(RubricProblem(("grades", i, "min_points"), message))
        if i and grade.min_points >= rubric.grades[i - 1].min_points:
            message = "grades must be listed highest first with strictly decreasing min_points"
            problems.append(RubricProblem(("grades", i, "min_points"), message))
    if rubric.grades and rubric.grades[-1].min_points != 0:
        message = "the lowest grade must start at 0 points so that every total has a grade"
        problems.append(RubricProblem(("grades", len(rubric.grades) - 1, "min_points"), message))
    return problems
