"""Compressor discharge pressure on the dashboard is a mean over the intervals present.

The hourly chart once divided an hour's sum by the intervals a full hour holds, so the current
(unfinished) hour plunged towards 0 bar on every live page.
"""

from __future__ import annotations

import pandas as pd
import pytest

from agent.web import HistorySource
from tests.e2e.synthetic import NOW, SyntheticSite, build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSite:
    return build_site(tmp_path_factory.mktemp("pressure") / "history.sqlite")


@pytest.mark.parametrize("minutes_into_hour", [15, 30, 45])
def test_pressure_of_an_unfinished_hour_is_not_pulled_towards_zero(
    site: SyntheticSite, minutes_into_hour: int
) -> None:
    # The history ends at NOW (14:00 local): a clock inside 13:00-14:00 sees that hour unfinished.
    now = NOW - pd.Timedelta(hours=1) + pd.Timedelta(minutes=minutes_into_hour)
    source = HistorySource(site.path, site.settings, clock=lambda: now)
    pressure = source.compressors(days=2)["machines"]["comp-1"]["pressure"]
    bars = [b for b in pressure["bar"] if b is not None]
    assert min(bars) == pytest.approx(7.1)  # the synthetic comp-1 runs 7.1 bar by day, 7.4 at night
    assert max(bars) == pytest.approx(7.4)
    assert pressure["x"][-1].startswith("2025-10-15T13:00")
