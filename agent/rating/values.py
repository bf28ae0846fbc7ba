"""Indicator values handed to the rating: measured by the agent's analytics or declared by the factory.

The analytics feed `MeasuredIndicators` (indicator id -> `IndicatorValue` with source "measured");
the site's rating file feeds `DeclaredIndicators` (source "declared", completeness 1, the evidence as
the method). Both are plain mappings so any producer can build them without importing the rating.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from agent.rating.rubric import ValueSource

__all__ = [
    "DeclaredIndicators",
    "FactorLike",
    "IndicatorValue",
    "MeasuredIndicators",
    "declared",
    "measured",
]


@dataclass(frozen=True, slots=True)
class IndicatorValue:
    """One indicator value for one period, with how it was obtained and how complete its data was."""

    value: float
    unit: str
    method: str
    completeness: float = 1.0
    source: ValueSource = ValueSource.MEASURED

    def __post_init__(self) -> None:
        # a NaN would score as "worse than everything" silently; the producer must leave it out instead
        if not math.isfinite(self.value):
            raise ValueError(
                f"indicator value must be finite (got {self.value!r}); omit it to mark it missing"
            )
        if not 0.0 <= self.completeness <= 1.0:
            raise ValueError(f"completeness must be within 0..1 (got {self.completeness!r})")


MeasuredIndicators = Mapping[str, IndicatorValue]
DeclaredIndicators = Mapping[str, IndicatorValue]


def measured(value: float, unit: str, method: str, completeness: float = 1.0) -> IndicatorValue:
    return IndicatorValue(float(value), unit, method, completeness, ValueSource.MEASURED)


def declared(value: float, unit: str, evidence: str) -> IndicatorValue:
    return IndicatorValue(float(value), unit, evidence, 1.0, ValueSource.DECLARED)


class FactorLike(Protocol):
    """A conversion factor as applied (matches analytics' FactorUsed without importing it)."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def confirmed(self) -> bool: ...
