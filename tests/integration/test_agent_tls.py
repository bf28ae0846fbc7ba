"""`energy-agent run` against Mosquitto over TLS with a password from the environment.

The CA and server certificate come from the shipped deploy/mosquitto/make-certs.sh; the site YAML
says `password: ${MQTT_PASSWORD}` and the variable is set only for the agent's process. With the
right password telemetry arrives; with a wrong one the agent keeps polling into its outbox, logs
the refusal once (naming the broker and the reason, no traceback) and retries with backoff: a
handful of connection attempts in ten seconds, not hundreds.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import StartFactory
from tests.integration.services import MOSQUITTO, Mosquitto, _wait_until, free_port
from tests.integration.test_agent_outage import agent_process, lag, wait_until
from tests.integration.test_delivery_mqtt import Collector, running
from tests.scenarios import live_scenario

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]
SITE = "tls-test"
AGENT = ("energy-agent", "s3cret-agent-pw")
WATCHER = ("watcher", "w")


class TlsMosquitto(Mosquitto):
    """A TLS listener for the agent and a plain loopback listener for the test's subscriber."""

    def __init__(self, workdir: Path, certs: Path, users: dict[str, str]) -> None:
        super().__init__(workdir, users=users)
        self.certs = certs
        self.plain_port = free_port()

    def start(self) -> TlsMosquitto:
        self.write_users(self.users or {})
        lines = [
            "persistence false",
            "max_queued_messages 0",
            "allow_anonymous false",
            f"password_file {self.passwords}",
            f"listener {self.port} 127.0.0.1",
            f"cafile {self.certs / 'ca.crt'}",
            f"certfile {self.certs / 'server.crt'}",
            f"keyfile {self.certs / 'server.key'}",
            f"listener {self.plain_port} 127.0.0.1",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # mosquitto's own user cannot enter pytest's 0700 directories
        self.config.write_text("\n".join(lines) + "\n")
        self._spawn([MOSQUITTO, "-c", str(self.config)])
        assert self.proc is not None
        _wait_until(self._accepts, "mosquitto (tls)", self.proc, self.log)
        return self


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    script = ROOT / "deploy" / "mosquitto" / "make-certs.sh"
    subprocess.run(["bash", str(script), str(out), "localhost", "127.0.0.1"], check=True, capture_output=True)
    (out / "server.key").chmod(0o644)  # read by mosquitto after it drops privileges
    return out


@pytest.fixture
def broker(tmp_path: Path, certs: Path) -> Iterator[TlsMosquitto]:
    started = TlsMosquitto(tmp_path / "broker", certs, dict([AGENT, WATCHER])).start()
    yield started
    started.kill(signal.SIGTERM)


def refusals(broker: TlsMosquitto) -> int:
    """Connection attempts the broker has refused so far (it logs each one)."""
    return broker.log.read_text().count("not authorised")


def site_yaml(tmp_path: Path, meters_port: int, broker: TlsMosquitto, certs: Path) -> Path:
    devices = [
        {"name": name, "bus": "meters", "unit_id": unit, "profile": "eastron/sdm630", "interval_s": 0.5}
        for name, unit in (("main_meter", 1), ("line_meter", 2))
    ]
    config: dict[str, Any] = {
        "site": {"name": SITE},
        "buses": [
            {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": meters_port, "timeout_s": 0.3}
        ],
        "devices": devices,
        "sinks": {
            "mqtt": {
                "host": "localhost",  # the name in the certificate is checked
                "port": broker.port,
                "prefix": "tls",
                "username": AGENT[0],
                "password": "${MQTT_PASSWORD}",
                "tls": {"ca_file": str(certs / "ca.crt")},
            },
            "local_store": {"path": "store"},
        },
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_telemetry_arrives_over_tls_with_the_password_from_the_environment(
    start_factory: StartFactory, broker: TlsMosquitto, certs: Path, tmp_path: Path
) -> None:
    factory = await start_factory(live_scenario("tiny"))
    site = site_yaml(tmp_path, factory.bus("meters").port, broker, certs)
    collector = Collector(broker.plain_port, f"tls/{SITE}/+/telemetry", auth=WATCHER)
    log = tmp_path / "agent.log"
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        async with agent_process(site, log, {"MQTT_PASSWORD": AGENT[1]}) as agent:
            await wait_until(lambda: len(collector.docs) >= 6 or not agent.alive, 45, "telemetry over TLS")
            assert await agent.stop() == 0, log.read_text()[-3000:]
    assert {doc["device"] for doc in collector.docs} == {"main_meter", "line_meter"}
    assert re.search(
        r"New client connected from 127\.0\.0\.1:\d+ as energy-agent-tls-test", broker.log.read_text()
    )


async def test_a_wrong_password_is_logged_once_retried_with_backoff_and_polling_goes_on(
    start_factory: StartFactory, broker: TlsMosquitto, certs: Path, tmp_path: Path
) -> None:
    factory = await start_factory(live_scenario("tiny"))
    site = site_yaml(tmp_path, factory.bus("meters").port, broker, certs)
    log = tmp_path / "agent.log"
    async with agent_process(site, log, {"MQTT_PASSWORD": "not-the-password"}) as agent:
        # The ten seconds start at the agent's first attempt, not at its launch: a process starting on a
        # loaded machine spends seconds importing before it polls or connects.
        await wait_until(lambda: refusals(broker) >= 1 or not agent.alive, 40, "the first connection attempt")
        await asyncio.sleep(10)
        assert agent.alive, log.read_text()[-3000:]
        backlog = lag(tmp_path / "store" / "outbox.db")
        attempts = refusals(broker)
        assert await agent.stop() == 0, log.read_text()[-3000:]
    text = log.read_text()
    refused = [line for line in text.splitlines() if "not authori" in line.lower()]
    assert len(refused) == 1, f"one line for the refusal, not one per attempt: {refused}"
    assert f"localhost:{broker.port}" in refused[0]
    assert "Traceback" not in text
    assert 2 <= attempts <= 10, f"{attempts} connection attempts in 10 s: retries should back off"
    assert backlog >= 30, "polling goes on into the outbox while the broker refuses the agent"
