"""The README's main job: `energy-agent demo` starts the whole factory and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.integration.services import free_port

pytestmark = pytest.mark.integration


async def get_json(url: str) -> Any:
    def fetch() -> Any:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return json.loads(resp.read())

    return await asyncio.to_thread(fetch)


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
async def test_demo_serves_live_data_mqtt_and_rating_then_stops_on_sigint(
    tmp_path: Path, broker: str
) -> None:
    web, mqtt = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        "demo",
        "--workdir",
        str(tmp_path),
        "--port",
        str(web),
        "--mqtt-port",
        str(mqtt),
        "--days",
        "150",
        "--interval",
        "1",
        "--broker",
        broker,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(90):
            banner = ""
            while "dashboard" not in banner:
                line = await process.stdout.readline()
                assert line, "demo exited before it was ready"
                banner += line.decode()
            async with aiomqtt.Client("127.0.0.1", mqtt) as client:
                await client.subscribe("energy/demo-factory/main_meter/telemetry", qos=1)
                message = await anext(aiter(client.messages))
                assert isinstance(message.payload, bytes)
                telemetry = json.loads(message.payload)
            overview = await get_json(f"http://127.0.0.1:{web}/api/overview")
            devices = await get_json(f"http://127.0.0.1:{web}/api/devices")
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0
    assert f"http://127.0.0.1:{web}/" in banner
    assert telemetry["points"]["active_power_total_kw"]["q"] == "good"
    assert overview["power"]["kw"] > 0
    assert overview["power"]["method"] == "live reading active_power_total_kw"
    assert (
        overview["savings_to_date"]["kwh"] > 0
    )  # the retrofit 50 days ago already shows against a 100-day baseline
    assert len(devices["devices"]) == 33
    assert (tmp_path / "demo_site.yaml").exists()
