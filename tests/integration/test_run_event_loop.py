"""`energy-agent run` as a process on each event loop it can pick (uvloop, the standard one): polls
reach the real Mosquitto (aiomqtt/paho on the loop's add_reader/add_writer) and VictoriaMetrics, the
dashboard (uvicorn, `web:` section) and its /health answer, the log says which loop runs, and
SIGTERM exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import StartFactory
from tests.integration.services import Mosquitto, VictoriaMetrics, free_port, mosquitto, victoria
from tests.integration.test_delivery_mqtt import Collector, running
from tests.scenarios import live_scenario

__all__ = ["mosquitto", "victoria"]  # fixtures shared from tests/integration/services.py

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]


def site_yaml(
    tmp_path: Path, site: str, meters_port: int, mqtt_port: int, influx_url: str, web_port: int
) -> Path:
    bus = {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": meters_port, "timeout_s": 0.15}
    devices = [
        {"name": f"meter_{unit}", "bus": "meters", "unit_id": unit, "profile": "eastron/sdm630"}
        | {"interval_s": 0.2}
        for unit in (1, 2)
    ]
    config: dict[str, Any] = {
        "site": {"name": site, "timezone": "Europe/Berlin"},
        "buses": [bus],
        "devices": devices,
        "sinks": {
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": "lt"},
            "influxdb": {"url": influx_url, "org": "o", "bucket": "b", "token": "t"},
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


async def samples_in_db(db: VictoriaMetrics, site: str) -> int:
    """Samples the agent wrote for `site`, once VictoriaMetrics makes them searchable (bounded wait)."""
    async with asyncio.timeout(15):
        while True:
            found = await asyncio.to_thread(db.export, f'{{site="{site}"}}')
            if found:
                return sum(len(item["timestamps"]) for item in found)
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_run_delivers_and_serves_the_dashboard_on_the_chosen_loop(
    start_factory: StartFactory,
    mosquitto: Mosquitto,
    victoria: VictoriaMetrics,
    tmp_path: Path,
    loop: str,
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    factory = await start_factory(live_scenario("tiny"))
    web_port = free_port()
    name = f"loop-{loop}"  # the broker and the database are shared by the module's tests
    site = site_yaml(tmp_path, name, factory.bus("meters").port, mosquitto.port, victoria.url, web_port)
    log = tmp_path / "agent.log"
    collector = Collector(mosquitto.port, f"lt/{name}/+/telemetry")
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agent.cli", "run", str(site),
                cwd=ROOT, stdout=out, stderr=out, env={**os.environ, "ENERGY_AGENT_LOOP": loop},
            )  # fmt: skip
        try:
            docs = await asyncio.wait_for(
                collector.wait_for(
                    lambda d: {m["device"] for m in d if m["seq"] >= 3} >= {"meter_1", "meter_2"}
                ),
                30,
            )
            devices = await asyncio.wait_for(get_json(f"http://127.0.0.1:{web_port}/api/devices"), 15)
            # No token on loopback; urlopen raises on the 503 an unhealthy agent answers.
            health = await asyncio.wait_for(get_json(f"http://127.0.0.1:{web_port}/health"), 15)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert f"event=event_loop loop={loop}" in text
    assert "Traceback" not in text, text[-3000:]
    for device in ("meter_1", "meter_2"):
        seqs = sorted({m["seq"] for m in docs if m["device"] == device})
        assert seqs == list(range(seqs[0], seqs[-1] + 1))
    listed = json.dumps(devices)  # the dashboard's live view of the running agent
    assert "meter_1" in listed
    assert "meter_2" in listed
    assert "online" in listed
    assert (health["status"], health["healthy"]) == ("ok", True)
    assert {d: h["state"] for d, h in health["devices"].items()} == {"meter_1": "online", "meter_2": "online"}
    assert health["outbox"]["paused"] is False
    assert await samples_in_db(victoria, name) > 0
