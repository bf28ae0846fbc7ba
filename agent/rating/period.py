"""Rating periods: a month ("2026-10"), a quarter ("2026-Q4") or a year ("2026")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = ["RatingPeriod", "parse_period"]

PeriodKind = Literal["month", "quarter", "year"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, slots=True)
class RatingPeriod:
    """A calendar period; `end` is exclusive (the first day after the period)."""

    kind: PeriodKind
    label: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"period {self.label!r}: end {self.end} must be after start {self.start}")


def parse_period(text: str) -> RatingPeriod:
    """'2026-10' -> October 2026; '2026-Q4' -> Oct-Dec 2026; '2026' -> the calendar year."""
    text = text.strip()
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"period {text!r}: month must be 01-12")
        return RatingPeriod("month", text, date(year, month, 1), _first_of_next(year, month))
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = 3 * (quarter - 1) + 1
        return RatingPeriod(
            "quarter", f"{year}-Q{quarter}", date(year, first, 1), _first_of_next(year, first + 2)
        )
    if match := _YEAR.match(text):
        year = int(match.group(1))
        return RatingPeriod("year", text, date(year, 1, 1), date(year + 1, 1, 1))
    raise ValueError(f"period {text!r}: expected YYYY-MM (month), YYYY-Qn (quarter) or YYYY (year)")


def _first_of_next(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
