"""Metering coverage (agent.mv.metering) on plain meter trees: installed over required per level."""

from __future__ import annotations

import pytest

from agent.analytics.errors import InsufficientData
from agent.config.analytics import AnalyticsConfig
from agent.mv.metering import metering_coverage
from agent.mv.site import MvSite

TREE = {"main": None, "l1": "main", "l2": "main", "p1": "l1", "p2": "l2", "p3": "p1"}


def site(required: tuple[int, int, int] | None, parents: dict[str, str | None] = TREE) -> MvSite:
    metering = {} if required is None else {"required_points": {"electricity": list(required)}}
    analytics = AnalyticsConfig.model_validate({"metering": metering})
    return MvSite.of_tree("plant", parents, analytics=analytics)


def test_the_worst_level_share_of_its_target_is_the_figure() -> None:
    coverage = metering_coverage(site((1, 4, 3)))  # depth 2+ holds p1, p2, p3
    assert [(lv.installed, lv.required) for lv in coverage.levels] == [(1, 1), (2, 4), (3, 3)]
    assert coverage.worst.level == "secondary_units"
    assert coverage.rate_pct == pytest.approx(50.0)  # 2/4 against a 100 % target


def test_more_meters_than_required_caps_at_the_target() -> None:
    coverage = metering_coverage(site((1, 1, 1)))
    assert coverage.rate_pct == 100.0
    assert all(lv.meets for lv in coverage.levels)


def test_equipment_at_95_percent_meets_its_95_percent_target() -> None:
    parents: dict[str, str | None] = {"main": None, "l1": "main"}
    parents.update({f"p{i}": "l1" for i in range(19)})
    coverage = metering_coverage(site((1, 1, 20), parents))
    assert coverage.levels[2].share == pytest.approx(0.95)
    assert coverage.levels[2].meets
    assert coverage.rate_pct == pytest.approx(100.0)


def test_without_the_required_counts_there_is_no_figure() -> None:
    with pytest.raises(InsufficientData, match="required_points"):
        metering_coverage(site(None))
