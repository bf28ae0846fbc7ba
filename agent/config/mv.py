"""Settings of the site's M&V model (`agent.mv`): site meters, non-routine adjustments, rating files.

Kept apart from `agent.config.analytics` so that the one model's inputs are found in one place:
`analytics.site_meters`, `analytics.adjustments` and `analytics.rating`. Paths are taken relative to
the config file (`agent.mv.site.resolve_path`); `check_mv_files` reports a missing file with its
file:line when the config is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from agent.config.strict import StrictModel as _Strict  # one base for every config model
from agent.config.yamlsource import LoadedYaml

__all__ = ["Adjustment", "RatingFiles", "check_mv_files"]


class Adjustment(_Strict):
    """A non-routine adjustment (IPMVP): energy the baseline does not know about, over local days.

    Positive when a change not caused by the measure added load (a new line), negative when load
    went away (a closed workshop). Give the total `kwh` over the window (spread evenly over its
    days) or a daily rate `kwh_per_day`, not both.
    """

    start: date = Field(description="First local day the adjustment applies to.")
    end: date = Field(description="Last local day (included).")
    kwh: float | None = Field(
        default=None, allow_inf_nan=False, description="Total over the window, kWh (spread per day)."
    )
    kwh_per_day: float | None = Field(default=None, allow_inf_nan=False, description="kWh per day.")
    reason: str = Field(min_length=3, description="What changed and why it is not the measure's doing.")

    @model_validator(mode="after")
    def _one_amount(self) -> Adjustment:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if (self.kwh is None) == (self.kwh_per_day is None):
            raise ValueError("give exactly one of kwh (total over the window) or kwh_per_day")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def daily_kwh(self) -> float:
        """The adjustment per day of its window."""
        if self.kwh_per_day is not None:
            return self.kwh_per_day
        assert self.kwh is not None
        return self.kwh / self.days


class RatingFiles(_Strict):
    """The files the site's rating reads; relative paths are taken from the config file's folder."""

    site_file: Path | None = Field(
        default=None,
        description="Site rating file: declared values with evidence and the sector's curves.",
    )
    rubric: Path | None = Field(default=None, description="Rubric YAML; default: the shipped one.")


def check_mv_files(loaded: LoadedYaml, data: Mapping[str, Any], config_path: Path) -> None:
    """Report unknown site meters and `analytics.rating.*` files that do not exist, at their line."""
    analytics = data.get("analytics")
    if not isinstance(analytics, dict):
        return
    _check_site_meters(loaded, data, analytics.get("site_meters"))
    rating = analytics.get("rating")
    if not isinstance(rating, dict):
        return
    for key in ("site_file", "rubric"):
        value = rating.get(key)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value)
        resolved = path if path.is_absolute() else config_path.parent / path
        if not resolved.is_file():
            loaded.issue(("analytics", "rating", key), f"no such file: {resolved}")


def _check_site_meters(loaded: LoadedYaml, data: Mapping[str, Any], meters: object) -> None:
    if not isinstance(meters, list):
        return
    devices = data.get("devices")
    names = {d.get("name") for d in devices if isinstance(d, dict)} if isinstance(devices, list) else set()
    for i, meter in enumerate(meters):
        if isinstance(meter, str) and meter not in names:
            known = ", ".join(sorted(str(n) for n in names if n is not None)) or "none defined"
            loaded.issue(("analytics", "site_meters", i), f"unknown device {meter!r} (devices: {known})")
