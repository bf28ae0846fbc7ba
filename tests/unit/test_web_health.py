"""`GET /health`: the running agent's health as JSON, 200 healthy / 503 not, no token from loopback.

The report itself (`agent.runtime.health.health_report`) is pure logic over device snapshots and the
outbox state; tests/integration/test_run_event_loop.py reads /health from a real running agent."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import pytest

from agent.runtime.health import HealthSnapshot, OutboxHealth, health_report
from agent.web import HistorySource, create_app
from tests.e2e.synthetic import NOW, SyntheticSite, build_site

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's test client warns about its httpx transport
    from fastapi.testclient import TestClient

T0 = 1_780_000_000.0
ONLINE = HealthSnapshot("meter_1", "online", 10, 0, 0, 1.0, T0, 3.0, 3.0, 0, None, None)
WRITING = OutboxHealth(False, 0.0, 0, 0, None, 120, 4096, 1 << 30, {"mqtt": 0})


def test_all_devices_online_and_the_outbox_writing_is_ok() -> None:
    report = health_report("plant", [ONLINE, replace(ONLINE, device="meter_2")], WRITING, T0 + 1)
    assert report["status"] == "ok"
    assert report["healthy"] is True
    assert report["problems"] == []
    assert report["time"] == "2026-05-28T20:26:41Z"
    assert report["devices"]["meter_2"]["state"] == "online"
    assert report["devices"]["meter_1"]["last_success_time"] == "2026-05-28T20:26:40Z"
    assert report["outbox"]["sink_lag_rows"] == {"mqtt": 0}


def test_some_devices_offline_is_degraded_but_healthy() -> None:
    offline = replace(ONLINE, device="meter_2", state="offline", last_error="timeout")
    report = health_report("plant", [ONLINE, offline], WRITING, T0)
    assert (report["status"], report["healthy"]) == ("degraded", True)
    assert report["offline_devices"] == ["meter_2"]


@pytest.mark.parametrize(
    ("devices", "outbox", "problem"),
    [
        ([replace(ONLINE, state="offline")], WRITING, "every device is offline"),
        ([], WRITING, "no device is being polled"),
        ([replace(ONLINE, state="stopped")], None, "no device is being polled"),
        ([ONLINE], replace(WRITING, paused=True, paused_s=42, last_error="disk full"), "disk full"),
    ],
)
def test_the_agent_not_doing_its_job_is_unhealthy(
    devices: list[HealthSnapshot], outbox: OutboxHealth | None, problem: str
) -> None:
    report = health_report("plant", devices, outbox, T0)
    assert (report["status"], report["healthy"]) == ("unhealthy", False)
    assert any(problem in line for line in report["problems"]), report["problems"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSite:
    return build_site(tmp_path_factory.mktemp("health") / "history.sqlite")


class Agent:
    def __init__(self) -> None:
        self.report: dict[str, Any] = health_report("plant", [ONLINE], WRITING, T0)

    def health(self) -> dict[str, Any]:
        return self.report


def test_health_answers_200_while_healthy_and_503_when_not(site: SyntheticSite) -> None:
    agent = Agent()
    client = TestClient(
        create_app(HistorySource(site.path, site.settings, clock=lambda: NOW), health=agent.health)
    )
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json()["devices"]["meter_1"]["polls"] == 10
    agent.report = health_report("plant", [replace(ONLINE, state="offline")], WRITING, T0)
    answer = client.get("/health")
    assert answer.status_code == 503
    assert answer.json()["problems"] == ["every device is offline"]


def test_a_dashboard_without_an_agent_is_503_saying_so(site: SyntheticSite) -> None:
    client = TestClient(create_app(HistorySource(site.path, site.settings, clock=lambda: NOW)))
    answer = client.get("/health")
    assert answer.status_code == 503
    assert "no agent" in answer.json()["problems"][0]


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1"])
def test_with_a_token_health_needs_none_from_loopback_only(site: SyntheticSite, peer: str) -> None:
    app = create_app(
        HistorySource(site.path, site.settings, clock=lambda: NOW), token="s3cret", health=Agent().health
    )
    assert TestClient(app, client=(peer, 40000)).get("/health").status_code == 200
    # The exemption is for /health alone: the data still needs the token from loopback.
    assert TestClient(app, client=(peer, 40000)).get("/api/devices").status_code == 401
    remote = TestClient(app, client=("192.0.2.7", 40000))
    assert remote.get("/health").status_code == 401
    assert remote.get("/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert remote.get("/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
