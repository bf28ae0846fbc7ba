"""`energy-agent run` end to end: simulated meters -> poller -> outbox -> real Mosquitto and a real
time-series DB, interval history, and the dashboard's API with the live device view."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest
import yaml

from agent.config.loader import load_config
from agent.outbox import Outbox
from agent.runtime.app import Agent
from agent.runtime.delivery import Delivery
from agent.runtime.site import serve_site
from tests.integration.conftest import StartFactory
from tests.integration.services import Mosquitto, VictoriaMetrics, free_port, mosquitto, victoria
from tests.scenarios import live_scenario

__all__ = ["mosquitto", "victoria"]  # fixtures shared from tests/integration/services.py

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TELEMETRY_SCHEMA = json.loads((REPO / "schemas/mqtt/telemetry.schema.json").read_text(encoding="utf-8"))


def site_yaml(tmp_path: Path, meters_port: int, mqtt_port: int, influx_url: str, web_port: int) -> Path:
    config: dict[str, Any] = {
        "site": {"name": "pipeline-test", "timezone": "Asia/Shanghai"},
        "buses": [
            {
                "name": "meters",
                "type": "tcp",
                "host": "127.0.0.1",
                "port": meters_port,
                "timeout_s": 0.3,
                "retries": 0,
            }
        ],
        "devices": [
            {
                "name": "main_meter",
                "bus": "meters",
                "unit_id": 1,
                "profile": "eastron/sdm630",
                "interval_s": 0.5,
            },
            {
                "name": "line_meter",
                "bus": "meters",
                "unit_id": 2,
                "profile": "eastron/sdm630",
                "interval_s": 0.5,
                "parent": "main_meter",
            },
        ],
        "sinks": {
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": "test"},
            "influxdb": {"url": influx_url, "org": "o", "bucket": "b", "token": "${TEST_INFLUX_TOKEN:-t}"},
            "local_store": {"path": "store"},
        },
        "web": {"port": web_port},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def get_json(url: str) -> Any:
    def fetch() -> Any:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())

    return await asyncio.to_thread(fetch)


async def test_polls_reach_mqtt_and_the_database_and_the_dashboard_sees_the_devices(
    start_factory: StartFactory, mosquitto: Mosquitto, victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    factory = await start_factory(live_scenario("tiny"))
    web_port = free_port()
    path = site_yaml(tmp_path, factory.bus("meters").port, mosquitto.port, victoria.url, web_port)
    running: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    enough = asyncio.Event()

    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as sub:
        await sub.subscribe("test/pipeline-test/+/telemetry", qos=1)

        async def collect() -> None:
            async for message in sub.messages:
                assert isinstance(message.payload, bytes)
                messages.append(json.loads(message.payload))
                if len(messages) >= 8:
                    enough.set()

        collector = asyncio.create_task(collect())

        def started(agent: Agent, delivery: Delivery) -> None:
            running["agent"], running["delivery"] = agent, delivery

        task = asyncio.create_task(serve_site(path, load_config(path), started=started))
        async with asyncio.timeout(30):
            await enough.wait()
            devices = await get_json(f"http://127.0.0.1:{web_port}/api/devices")
            running["agent"].stop()
            await task
        collector.cancel()

    for device in ("main_meter", "line_meter"):
        seqs = [m["seq"] for m in messages if m["device"] == device]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{device}: gaps or disorder in {seqs}"
    for message in messages:
        jsonschema.validate(message, TELEMETRY_SCHEMA)

    outbox = Outbox(tmp_path / "store" / "outbox.db", ["mqtt", "influxdb"])
    lags = {sink.sink: sink.lag_rows for sink in outbox.stats().sinks}
    outbox.close()
    assert lags == {"mqtt": 0, "influxdb": 0}, "a clean stop drains the outbox to every sink"
    assert len(messages) == running["delivery"].accepted

    published = {  # every good reading published over MQTT must be in the database too
        device: {
            round(m["ts"] * 1000)
            for m in messages
            if m["device"] == device and m["points"]["total_import_kwh"]["q"] == "good"
        }
        for device in ("main_meter", "line_meter")
    }
    assert all(published.values()), "no good reading"
    # The database acknowledged every row (lag 0 above); VictoriaMetrics makes its newest samples
    # searchable a moment after the 2xx even with force_flush, so wait for visibility, bounded.
    async with asyncio.timeout(10):
        while True:
            stored = {
                item["metric"]["device"]: set(item["timestamps"])
                for item in await asyncio.to_thread(victoria.export, '{site="pipeline-test"}')
                if item["metric"]["__name__"] == "power_meter_total_import_kwh"
            }
            if stored == published:
                break
            assert all(stored.get(d, set()) <= ts for d, ts in published.items()), "unpublished rows stored"
            await asyncio.sleep(0.2)

    listed = json.dumps(devices)
    assert "main_meter" in listed
    assert "line_meter" in listed
    assert "online" in listed
