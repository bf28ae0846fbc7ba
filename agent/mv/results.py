"""Typed results of the site's M&V model: what every view (dashboard, report, CLI, rating) shows.

Frozen dataclasses holding numbers and the analytics' own result objects; a view turns them into
JSON or text, it never recomputes them. `Verdict` is the Guideline 14 judgement of a savings
result; it is an object (not a bool) so that an auditor-grade verdict can grow fields later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from agent.analytics.baseline import Acceptance, BaselineModel
from agent.analytics.savings import SavingsResult, SavingsValue
from agent.analytics.verdict import Verdict as ModelVerdict

__all__ = ["AppliedAdjustment", "Baseline", "PeriodFigures", "Savings", "Verdict"]

UNCERTAINTY_LIMIT = 0.5  # ASHRAE Guideline 14: savings uncertainty < 50 % of savings at 68 %


@dataclass(frozen=True)
class PeriodFigures:
    """Site energy, production and energy per unit of product over [start, end) (UTC bounds)."""

    start: pd.Timestamp
    end: pd.Timestamp
    site_meters: tuple[str, ...]
    energy_kwh: float
    """Sum of the site energy over the intervals every site meter has (gaps are not filled)."""
    production: float | None
    """Units produced (history series `analytics.production.column`); None: no production data."""
    production_unit: str
    intervals_expected: int
    intervals_complete: int

    @property
    def completeness(self) -> float:
        return min(1.0, self.intervals_complete / self.intervals_expected) if self.intervals_expected else 0.0

    @property
    def eui_kwh_per_unit(self) -> float | None:
        """Energy per unit of product; None without production."""
        return self.energy_kwh / self.production if self.production else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "site_meters": list(self.site_meters),
            "energy_kwh": self.energy_kwh,
            "production": self.production,
            "production_unit": self.production_unit,
            "eui_kwh_per_unit": self.eui_kwh_per_unit,
            "completeness": self.completeness,
            "intervals_expected": self.intervals_expected,
            "intervals_complete": self.intervals_complete,
        }


@dataclass(frozen=True)
class Baseline:
    """The fitted baseline of the site energy over its window (local days, both included)."""

    model: BaselineModel
    start: date
    end: date
    eui_kwh_per_unit: float | None


@dataclass(frozen=True)
class AppliedAdjustment:
    """A non-routine adjustment as applied to one reporting window."""

    start: date
    end: date
    kwh: float
    """kWh added to the adjusted baseline inside this reporting window."""
    kwh_per_day: float
    reason: str
    days_applied: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kwh": self.kwh,
            "kwh_per_day": self.kwh_per_day,
            "reason": self.reason,
            "days_applied": self.days_applied,
        }


@dataclass(frozen=True)
class Verdict:
    """Whether a savings result meets ASHRAE Guideline 14 (model acceptance + savings uncertainty)."""

    acceptance: Acceptance
    uncertainty_fraction_68: float
    """Savings uncertainty at 68 % confidence, as a fraction of the savings."""
    checks: ModelVerdict | None = None
    """Every check with its limit's source (`agent.analytics.verdict`, FSU included): the auditor's
    view; `passed` below keeps the flat acceptance + uncertainty rule the views and the rating use."""

    @property
    def meets_uncertainty(self) -> bool:
        return self.uncertainty_fraction_68 < UNCERTAINTY_LIMIT

    @property
    def passed(self) -> bool:
        return self.acceptance.passed and self.meets_uncertainty

    def failures(self) -> list[str]:
        out = [f"{c.name} {c.value:.4g} (limit {c.limit})" for c in self.acceptance.checks if not c.passed]
        if not self.meets_uncertainty:
            out.append(
                f"savings uncertainty {self.uncertainty_fraction_68:.0%} of savings at 68 % (needs < 50 %)"
            )
        return out


@dataclass(frozen=True)
class Savings:
    """Avoided energy over a reporting window, with its baseline, verdict, value and adjustments."""

    first: date
    last: date
    baseline: Baseline
    result: SavingsResult
    verdict: Verdict
    value: SavingsValue
    adjustments: tuple[AppliedAdjustment, ...]
    site: PeriodFigures
    """The reporting window's measured site energy and production (not coverage-scaled)."""
    reporting_days: int
    """Days in the window with any site energy."""
    coverage: float
    """Share of the window's days with site energy, weighted by their interval coverage."""
    tariff_name: str
    tariff_source: str
