"""The README's main job: `energy-agent demo` starts the whole factory and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.integration.services import free_port

pytestmark = pytest.mark.integration


def demo_args(workdir: Path, web: int, mqtt: int, broker: str) -> list[str]:
    return [
        sys.executable, "-m", "agent.cli", "demo", "--workdir", str(workdir), "--port", str(web),
        "--mqtt-port", str(mqtt), "--days", "150", "--interval", "1", "--broker", broker,
    ]  # fmt: skip


async def refused(args: list[str]) -> tuple[int, list[str]]:
    """Run a demo that must refuse: its exit code and stderr lines (how fast: bench/bench_demo_refusal.py).

    That it refuses before doing any work is shown by what it leaves behind: nothing.
    """
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    assert out == b""  # no "preparing" or "running" banner
    return process.returncode, err.decode().splitlines()


def files_outside_the_store(workdir: Path) -> dict[str, bytes]:
    """The demo's own files (config, generated history, lock); the store changes while it polls."""
    return {
        str(p.relative_to(workdir)): p.read_bytes()
        for p in workdir.rglob("*")
        if p.is_file() and p.relative_to(workdir).parts[0] != "store"
    }


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
        *demo_args(tmp_path, web, mqtt, broker),
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
            # Issue 20: a second demo (same workdir and ports; or another workdir, same ports) refuses
            # at once and leaves the running demo's files alone.
            before = files_outside_the_store(tmp_path)
            assert "demo_site.yaml" in before
            second = await refused(demo_args(tmp_path, web, mqtt, broker))
            elsewhere = await refused(demo_args(tmp_path / "other", web, mqtt, broker))
            after = files_outside_the_store(tmp_path)
            overview = await get_json(f"http://127.0.0.1:{web}/api/overview")
            devices = await get_json(f"http://127.0.0.1:{web}/api/devices")
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 0
    assert f"http://127.0.0.1:{web}/" in banner
    assert after == before  # byte for byte: config, generated history, lock
    exit_code, lines = second
    assert (exit_code, len(lines)) == (1, 1), lines
    assert "a demo is already running in" in lines[0]
    exit_code, lines = elsewhere
    assert (exit_code, len(lines)) == (1, 1), lines
    assert f"port {web} on 127.0.0.1 for the dashboard (--port) is in use" in lines[0]
    assert not (tmp_path / "other").exists()
    assert telemetry["points"]["active_power_total_kw"]["q"] == "good"
    assert overview["power"]["kw"] > 0
    assert overview["power"]["method"] == "live reading active_power_total_kw"
    assert (
        overview["savings_to_date"]["kwh"] > 0
    )  # the retrofit 50 days ago already shows against a 100-day baseline
    assert len(devices["devices"]) == 34
    assert (tmp_path / "demo_site.yaml").exists()


@pytest.mark.parametrize("taken", ["web", "mqtt"])
async def test_a_demo_whose_port_is_taken_refuses_at_once_writing_nothing(tmp_path: Path, taken: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        web, mqtt = (port, free_port()) if taken == "web" else (free_port(), port)
        code, lines = await refused(demo_args(tmp_path / "demo", web, mqtt, "embedded"))
    assert (code, len(lines)) == (1, 1), lines
    what = "the dashboard (--port)" if taken == "web" else "the MQTT broker (--mqtt-port)"
    assert lines[0].startswith(f"error: port {port} on 127.0.0.1 for {what} is in use"), lines
    assert not (tmp_path / "demo").exists()  # no history generated, no config written
