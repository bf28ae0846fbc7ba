"""`GET /api/compressors/trace` over a real history store (tests/e2e/synthetic.py, known answers).

comp-1 runs all day: 08:00-20:00 local 80 % loaded / 20 % unloaded, at night 30 % / 70 %; comp-2 runs
only 08:00-20:00 at 40 % loaded and is off at night. The header transmitter cycles 6.6 .. 7.1 bar.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from agent.config.analytics import CompressedAirConfig
from agent.history.store import HistoryStore, SeriesRow
from agent.web import HistorySource, create_app
from agent.web.air_trace import MAX_POINTS
from tests.e2e.synthetic import (
    HEADER_HIGH_BAR,
    HEADER_LOW_BAR,
    HEADER_MIN_DROP_BAR,
    NOW,
    build_site,
    settings,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    site = build_site(tmp_path_factory.mktemp("trace") / "history.sqlite")
    return TestClient(create_app(HistorySource(site.path, site.settings, clock=lambda: NOW)))


@pytest.fixture(scope="module")
def no_header(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    site = build_site(tmp_path_factory.mktemp("trace-no-header") / "history.sqlite", header=False)
    return TestClient(create_app(HistorySource(site.path, site.settings, clock=lambda: NOW)))


def _at(body: dict[str, object], local: str) -> int:
    x = body["x"]
    assert isinstance(x, list)
    return x.index(local)


def test_trace_gives_each_machines_shares_per_interval(client: TestClient) -> None:
    body = client.get("/api/compressors/trace", params={"hours": 24}).json()
    assert body["available"] is True
    assert body["interval_minutes"] == body["step_minutes"] == 15
    assert len(body["x"]) == 96  # 24 h of 15-minute intervals, local time
    assert body["x"][-1] == "2025-10-15T13:45:00"
    day, night = _at(body, "2025-10-15T10:00:00"), _at(body, "2025-10-15T03:00:00")
    comp1, comp2 = body["machines"]["comp-1"]["shares"], body["machines"]["comp-2"]["shares"]
    assert (comp1["loaded"][day], comp1["unloaded"][day], comp1["off"][day]) == pytest.approx((0.8, 0.2, 0.0))
    assert (comp1["loaded"][night], comp1["unloaded"][night]) == pytest.approx((0.3, 0.7))
    assert (comp2["loaded"][day], comp2["unloaded"][day], comp2["off"][day]) == pytest.approx((0.4, 0.6, 0.0))
    assert comp2["off"][night] == pytest.approx(1.0)  # stopped is a state with a share, not a gap
    for shares in (comp1, comp2):
        for i in range(96):
            assert shares["loaded"][i] + shares["unloaded"][i] + shares["off"][i] == pytest.approx(1.0)


def test_trace_serves_the_header_transmitter_with_its_minimum_and_band(client: TestClient) -> None:
    body = client.get("/api/compressors/trace", params={"hours": 24}).json()
    header = body["header"]
    assert header["source"] == "header"
    assert "air.header_pressure_bar" in header["detail"]
    assert min(header["bar"]) == pytest.approx(HEADER_LOW_BAR)
    assert max(header["bar"]) == pytest.approx(HEADER_HIGH_BAR)
    for mean, low in zip(header["bar"], header["min_bar"], strict=True):
        assert low == pytest.approx(mean - HEADER_MIN_DROP_BAR)
    assert body["minimum"] == {"bar": 6.3, "source": "analytics.compressed_air.minimum_pressure_bar"}
    assert body["band"] == {
        "low_bar": 6.5,
        "high_bar": 7.2,
        "source": "analytics.compressed_air.pressure_band_bar",
    }
    comp2 = body["machines"]["comp-2"]["pressure"]
    night = _at(body, "2025-10-15T03:00:00")
    assert comp2["bar"][night] is None  # a stopped machine has no discharge pressure
    assert comp2["min_bar"][_at(body, "2025-10-15T10:00:00")] == pytest.approx(6.8)


def test_without_a_header_transmitter_the_lowest_discharge_pressure_stands_in_and_says_so(
    no_header: TestClient,
) -> None:
    body = no_header.get("/api/compressors/trace", params={"hours": 24}).json()
    header = body["header"]
    assert header["source"] == "discharge"
    assert "no header pressure transmitter" in header["detail"]
    day, night = _at(body, "2025-10-15T10:00:00"), _at(body, "2025-10-15T03:00:00")
    assert header["bar"][day] == pytest.approx(7.0)  # comp-2 7.0 < comp-1 7.1
    assert header["min_bar"][day] == pytest.approx(6.8)
    assert header["bar"][night] == pytest.approx(7.4)  # only comp-1 runs at night


def test_long_windows_come_in_buckets_of_whole_intervals(client: TestClient) -> None:
    body = client.get("/api/compressors/trace", params={"hours": 24 * 31}).json()
    intervals = 24 * 31 * 4
    assert len(body["x"]) <= MAX_POINTS
    assert body["step_minutes"] % 15 == 0
    assert body["step_minutes"] > 15
    assert len(body["x"]) == -(-intervals // (body["step_minutes"] // 15))
    header = body["header"]
    # a bucket's minimum is the lowest interval minimum in it; its mean stays inside the cycle
    assert min(header["min_bar"]) == pytest.approx(HEADER_LOW_BAR - HEADER_MIN_DROP_BAR)
    assert all(HEADER_LOW_BAR - 1e-9 <= v <= HEADER_HIGH_BAR + 1e-9 for v in header["bar"])
    comp2 = body["machines"]["comp-2"]["shares"]
    assert sum(comp2["off"]) / len(comp2["off"]) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("hours", ["0", "-3", "745", "abc", "1.5"])
def test_bad_hours_are_a_422_naming_the_parameter(client: TestClient, hours: str) -> None:
    response = client.get("/api/compressors/trace", params={"hours": hours})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "hours"]


def test_the_unfinished_interval_reads_its_measured_part_not_mostly_off(tmp_path: Path) -> None:
    site = build_site(tmp_path / "history.sqlite")
    now = NOW + pd.Timedelta(minutes=5)  # 5 minutes into the 14:00 interval: the recorder has a third
    start = int(NOW.timestamp())
    with HistoryStore(site.path) as store:
        store.write_series_rows(
            [
                SeriesRow("comp-1.running_h", start, 5 / 60, "partial", 1 / 3),
                SeriesRow("comp-1.loaded_h", start, 4 / 60, "partial", 1 / 3),
            ]
        )
    body = HistorySource(site.path, site.settings, clock=lambda: now).compressor_trace(1)
    assert body["x"][-1] == "2025-10-15T14:00:00"
    shares = body["machines"]["comp-1"]["shares"]
    assert (shares["loaded"][-1], shares["unloaded"][-1], shares["off"][-1]) == pytest.approx((0.8, 0.2, 0.0))


def test_without_a_declared_band_the_trace_says_where_to_declare_it(tmp_path: Path) -> None:
    site = build_site(tmp_path / "history.sqlite")
    analytics = settings().analytics.model_copy(
        update={"compressed_air": CompressedAirConfig(), "required_pressure_bar": 6.1}
    )
    source = HistorySource(site.path, settings(analytics=analytics), clock=lambda: NOW)
    body = source.compressor_trace(2)
    assert body["band"] == {
        "low_bar": None,
        "high_bar": None,
        "source": "not configured (analytics.compressed_air.pressure_band_bar)",
    }
    assert body["minimum"] == {"bar": 6.1, "source": "analytics.required_pressure_bar"}


def test_a_site_without_compressors_says_why(tmp_path: Path) -> None:
    site = build_site(tmp_path / "history.sqlite")
    bare = settings()
    analytics = bare.analytics.model_copy(update={"compressors": ()})
    source = HistorySource(site.path, settings(analytics=analytics), clock=lambda: NOW)
    body = TestClient(create_app(source)).get("/api/compressors/trace").json()
    assert body == {"available": False, "reason": "no compressors configured (analytics.compressors)"}
