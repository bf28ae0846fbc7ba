"""The rating's only file I/O: load a rubric and a site's rating file, write a data package.

Both loaders report every problem at once with file:line (agent.config.yamlsource), like site configs
and device profiles. The site rating file holds what the agent cannot measure (declared values with
their evidence) and the site's own access/advanced values, which replace the rubric's placeholders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.config.yamlsource import LoadedYaml, load_yaml, validation_issues
from agent.errors import ConfigError, ConfigIssue
from agent.rating.package import package_csv, package_json
from agent.rating.rubric import Indicator, Rubric, Scoring, rubric_problems
from agent.rating.values import IndicatorValue, declared

__all__ = [
    "CurveOverride",
    "DeclaredEntry",
    "SiteRating",
    "SiteRatingFile",
    "builtin_rating_dir",
    "default_rubric_path",
    "load_rubric",
    "load_site_rating",
    "write_package",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeclaredEntry(_Strict):
    value: float = Field(allow_inf_nan=False, description="The declared value, in the rubric's unit.")
    unit: str = Field(min_length=1, description="Must equal the indicator's unit in the rubric.")
    evidence: str = Field(min_length=1, description="Certificate, test report or audit the value rests on.")
    as_of: date | None = Field(default=None, description="Date of the evidence.")


class CurveOverride(Scoring):
    """The site's own curve for one indicator (from its sector standard), with where it comes from."""

    source: str = Field(min_length=1, description="Standard, table and grade the values are copied from.")


class SiteRatingFile(_Strict):
    site: str = Field(min_length=1)
    rubric: str | None = Field(default=None, description="Id of the rubric this file was written for.")
    declared: dict[str, DeclaredEntry] = Field(default_factory=dict)
    curves: dict[str, CurveOverride] = Field(default_factory=dict)


@dataclass(frozen=True)
class SiteRating:
    """A site's rating inputs: the rubric with the site's curves applied, and its declared values."""

    site: str
    rubric: Rubric
    declared: dict[str, IndicatorValue]


def builtin_rating_dir() -> Path:
    """Shipped rubrics: $ENERGY_AGENT_RATING, else edge_configs/rating beside the package."""
    override = os.environ.get("ENERGY_AGENT_RATING")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "edge_configs" / "rating"


def default_rubric_path() -> Path:
    return builtin_rating_dir() / "chongqing_default.yaml"


def load_rubric(path: Path) -> Rubric:
    """Load and check a rubric; raise ConfigError with file:line for every problem."""
    loaded = _load_mapping(path, "a rubric")
    try:
        rubric = Rubric.model_validate(loaded.data)
    except ValidationError as exc:
        raise ConfigError(validation_issues(loaded, exc)) from None
    for problem in rubric_problems(rubric):
        loaded.issue(problem.path, problem.message)
    _raise_if_issues(loaded)
    return rubric


def load_site_rating(path: Path, rubric: Rubric) -> SiteRating:
    """Load a site rating file against `rubric`; raise ConfigError with file:line for every problem."""
    loaded = _load_mapping(path, "a site rating file")
    try:
        site_file = SiteRatingFile.model_validate(loaded.data)
    except ValidationError as exc:
        raise ConfigError(validation_issues(loaded, exc)) from None
    if site_file.rubric is not None and site_file.rubric != rubric.id:
        loaded.issue(
            ("rubric",), f"written for rubric {site_file.rubric!r}, but rubric {rubric.id!r} is in use"
        )
    values = _declared_values(loaded, site_file.declared, rubric)
    curved = _apply_curves(loaded, site_file.curves, rubric)
    _raise_if_issues(loaded)
    return SiteRating(site_file.site, curved, values)


def write_package(package: Mapping[str, Any], path: Path, fmt: Literal["json", "csv"] = "json") -> None:
    """Write the package as canonical JSON or as the one-row-per-indicator CSV (UTF-8)."""
    if fmt == "json":
        text = package_json(package)
    elif fmt == "csv":
        text = package_csv(package)
    else:
        raise ValueError(f"unknown package format {fmt!r} (json or csv)")
    path.write_text(text, encoding="utf-8", newline="")


def _load_mapping(path: Path, what: str) -> LoadedYaml:
    loaded = load_yaml(path)
    if loaded.data is not None and not isinstance(loaded.data, dict):
        loaded.issue((), f"{what} must be a mapping at the top level")
    _raise_if_issues(loaded)
    return loaded


def _raise_if_issues(loaded: LoadedYaml) -> None:
    if loaded.issues:
        raise ConfigError(sorted(loaded.issues, key=_issue_order))


def _issue_order(issue: ConfigIssue) -> tuple[int, str]:
    return (issue.line or 0, issue.path)


def _known(loaded: LoadedYaml, section: str, key: str, rubric: Rubric) -> Indicator | None:
    try:
        return rubric.indicator(key)
    except KeyError:
        loaded.issue((section, key), f"rubric {rubric.id!r} has no indicator {key!r}")
        return None


def _declared_values(
    loaded: LoadedYaml, entries: Mapping[str, DeclaredEntry], rubric: Rubric
) -> dict[str, IndicatorValue]:
    values = {}
    for key, entry in entries.items():
        indicator = _known(loaded, "declared", key, rubric)
        if indicator is None:
            continue
        if entry.unit != indicator.unit:
            loaded.issue(
                ("declared", key, "unit"), f"unit {entry.unit!r} differs from the rubric's {indicator.unit!r}"
            )
            continue
        values[key] = declared(entry.value, entry.unit, entry.evidence)
    return values


def _apply_curves(loaded: LoadedYaml, overrides: Mapping[str, CurveOverride], rubric: Rubric) -> Rubric:
    indicators = list(rubric.indicators)
    for key, override in overrides.items():
        indicator = _known(loaded, "curves", key, rubric)
        if indicator is None:
            continue
        fields = indicator.model_dump()
        fields["scoring"] = override.model_dump(exclude={"source"})
        fields["placeholder"] = False
        fields["basis"] = f"{indicator.basis} Site curve: {override.source}".strip()
        try:
            replaced = Indicator.model_validate(fields)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loaded.issue(("curves", key), err["msg"].removeprefix("Value error, "))
            continue
        indicators[indicators.index(indicator)] = replaced
    return rubric.model_copy(update={"indicators": tuple(indicators)})
