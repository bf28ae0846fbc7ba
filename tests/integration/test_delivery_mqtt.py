"""Telemetry reaches a real Mosquitto through outbox + forwarder: complete, in order, schema-valid,
and complete again after the broker died and came back; the last will marks the agent offline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest
from pydantic import SecretStr

from agent.config.site import MqttSink
from agent.outbox import AsyncOutbox, Backoff, Forwarder, Outbox
from agent.readings.model import PollResult, Reading
from agent.sinks.mqtt import MqttPublisher
from tests.integration.services import Mosquitto, mosquitto

__all__ = ["mosquitto"]  # the fixture, shared from tests/integration/services.py
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TELEMETRY = jsonschema.Draft202012Validator(
    json.loads((ROOT / "schemas" / "mqtt" / "telemetry.schema.json").read_text())
)
AGENT = jsonschema.Draft202012Validator(
    json.loads((ROOT / "schemas" / "mqtt" / "agent_status.schema.json").read_text())
)
T0 = float(int(time.time()) - 3600)  # recent: the outbox's age bound keeps it


def poll(seq: int, device: str = "meter1") -> PollResult:
    return PollResult(
        site="plant1",
        device=device,
        device_kind="power_meter",
        profile="eastron/sdm630",
        ts=T0 + seq,
        seq=seq,
        readings=(
            Reading("active_power_kw", 10.0 + seq / 8, "kW"),
            Reading("energy_import_kwh", 5000.0 + seq, "kWh"),
            Reading("voltage_l1_v", None, "V", "bad", "timeout"),
        ),
    )


class Collector:
    """A subscriber that keeps every telemetry payload, reconnecting when the broker goes away."""

    def __init__(self, port: int, topic: str, auth: tuple[str, str] | None = None) -> None:
        self.port, self.topic, self.auth = port, topic, auth
        self.docs: list[dict[str, Any]] = []
        self.subscribed = asyncio.Event()
        self.subscriptions = 0  # counts (re)subscriptions, so a test can wait for a fresh one
        self._changed = asyncio.Event()

    async def run(self) -> None:
        user, password = self.auth or (None, None)
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, username=user, password=password) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.subscriptions += 1
                    self.subscribed.set()
                    self._changed.set()
                    async for message in client.messages:
                        assert isinstance(message.payload, bytes)
                        self.docs.append(json.loads(message.payload))
                        self._changed.set()
            except aiomqtt.MqttError:
                self.subscribed.clear()
                await asyncio.sleep(0.05)

    async def wait_for(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """Wait (bounded by the caller's timeout) until `done(docs)` holds."""
        while not done(self.docs):
            self._changed.clear()
            await self._changed.wait()
        return self.docs


@contextlib.asynccontextmanager
async def running(*coros: Any) -> AsyncIterator[list[asyncio.Task[Any]]]:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def seqs(docs: list[dict[str, Any]]) -> set[int]:
    return {doc["seq"] for doc in docs}


def sink_config(port: int, **overrides: Any) -> MqttSink:
    return MqttSink(host="127.0.0.1", port=port, **overrides)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_every_poll_arrives_once_in_order_and_valid(
    mosquitto: Mosquitto, tmp_path: Path, protocol: str
) -> None:
    config = sink_config(mosquitto.port, protocol=protocol, prefix=f"t{protocol.replace('.', '')}")
    collector = Collector(mosquitto.port, f"{config.prefix}/plant1/+/telemetry")
    outbox = AsyncOutbox(Outbox(tmp_path / "o.db", ["mqtt"]))
    publisher = MqttPublisher(config, "plant1")
    forwarder = Forwarder(outbox, publisher, batch_rows=200)
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        async with running(forwarder.run()):
            for start in range(1, 1001, 100):
                await outbox.put_many([poll(i) for i in range(start, start + 100)])
            docs = await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= 1000), 20)
            await asyncio.wait_for(forwarder.wait_idle(), 10)
        await publisher.close()
    assert [d["seq"] for d in docs] == list(range(1, 1001))
    for doc in docs:
        TELEMETRY.validate(doc)
    assert docs[0]["points"]["voltage_l1_v"] == {"v": None, "u": "V", "q": "bad", "r": "timeout"}
    assert (await forwarder.stats()).lag_rows == 0


async def test_broker_dies_mid_stream_and_every_seq_arrives_after_it_returns(tmp_path: Path) -> None:
    # The restarted broker first admits only the watcher, so the watcher is subscribed before the agent
    # may publish again (the broker keeps no state across a kill -9); then the agent's user is added.
    broker = Mosquitto(tmp_path / "broker", users={"watcher": "w", "agent": "secret"}).start()
    config = sink_config(broker.port, username="agent", password=SecretStr("secret"))
    collector = Collector(broker.port, "energy/plant1/+/telemetry", auth=("watcher", "w"))
    outbox = AsyncOutbox(Outbox(tmp_path / "o.db", ["mqtt"]))
    publisher = MqttPublisher(config, "plant1", publish_timeout_s=5)
    forwarder = Forwarder(outbox, publisher, batch_rows=50, backoff=Backoff(initial_s=0.05, max_s=0.5))
    try:
        async with running(collector.run(), forwarder.run()):
            await asyncio.wait_for(collector.subscribed.wait(), 10)
            for start in range(1, 301, 20):
                await outbox.put_many([poll(i) for i in range(start, start + 20)])
            await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= 100), 20)
            broker.freeze()  # the uplink hangs first: publishes wait, nothing is confirmed
            for start in range(301, 601, 20):
                await outbox.put_many([poll(i) for i in range(start, start + 20)])
            broker.kill()
            broker.users = {"watcher": "w"}
            subscriptions_before = collector.subscriptions
            broker.start()
            await asyncio.wait_for(
                collector.wait_for(lambda _: collector.subscriptions > subscriptions_before), 10
            )
            broker.write_users({"watcher": "w", "agent": "secret"})
            broker.reload()
            for start in range(601, 801, 20):
                await outbox.put_many([poll(i) for i in range(start, start + 20)])
            everything = set(range(1, 801))
            docs = await asyncio.wait_for(
                collector.wait_for(lambda d: len(d) >= 800 and seqs(d) >= everything), 30
            )
            await asyncio.wait_for(forwarder.wait_idle(), 10)
        await publisher.close()
    finally:
        broker.kill()
    by_seq: dict[int, dict[str, Any]] = {}
    for doc in docs:
        assert by_seq.setdefault(doc["seq"], doc) == doc, "a resent message must be identical"
    assert sorted(by_seq) == list(range(1, 801))
    stats = await forwarder.stats()
    assert stats.retried >= 1
    assert stats.lag_rows == 0
    assert publisher.connects >= 2


LAST_WILL_CHILD = r"""
import asyncio, sys
from agent.config.site import MqttSink
from agent.sinks.mqtt import MqttPublisher

async def main():
    publisher = MqttPublisher(MqttSink(host="127.0.0.1", port=int(sys.argv[1])), "plant1")
    await publisher.deliver([])
    await publisher.publish_device_status("meter1", True, None, 1.0)
    print("connected", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_agent_killed_abruptly_leaves_a_retained_offline_status(mosquitto: Mosquitto) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAST_WILL_CHILD,
        str(mosquitto.port),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 20) == b"connected\n"
        assert (await retained(mosquitto.port, "energy/plant1/agent/status"))["state"] == "online"
        assert (await retained(mosquitto.port, "energy/plant1/meter1/status"))["state"] == "online"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    # The broker publishes the will once it sees the socket close; poll the retained state for it.
    async with asyncio.timeout(10):
        while (status := await retained(mosquitto.port, "energy/plant1/agent/status"))["state"] != "offline":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    AGENT.validate(status)
    assert status["reason"] == "connection_lost"


async def retained(port: int, topic: str) -> dict[str, Any]:
    """The retained message on `topic`, read by a fresh subscriber."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                document: dict[str, Any] = json.loads(message.payload)
                return document
    raise AssertionError(f"no retained message on {topic}")


async def test_device_status_is_retained_and_republished_after_a_clean_close(mosquitto: Mosquitto) -> None:
    config = sink_config(mosquitto.port, prefix="retain")
    publisher = MqttPublisher(config, "plant1")
    await publisher.deliver([])
    await publisher.publish_device_status("meter2", False, "timeout", 5.0)
    await publisher.close()
    doc = await retained(mosquitto.port, "retain/plant1/meter2/status")
    assert (doc["state"], doc["reason"]) == ("offline", "timeout")
    agent = await retained(mosquitto.port, "retain/plant1/agent/status")
    assert (agent["state"], agent["reason"]) == ("offline", "shutdown")


KPI = jsonschema.Draft202012Validator(json.loads((ROOT / "schemas" / "mqtt" / "kpi.schema.json").read_text()))


async def test_each_closed_days_kpis_reach_the_broker_once_and_valid(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """The runtime's KPI publisher (run by `serve_site`) over a real history and a real Mosquitto."""
    from datetime import date, datetime

    import pandas as pd

    from agent.runtime.kpi import KpiPublisher
    from tests.unit.test_rating_measure import TZ, make_site, write_days

    site = make_site(tmp_path)
    write_days(site.history, date(2026, 10, 1), 3)  # 1000 kWh and 100 t a day
    now = [pd.Timestamp("2026-10-03T00:05", tz=TZ).to_pydatetime()]

    def clock() -> datetime:
        return now[0]

    config = sink_config(mosquitto.port, prefix="kpis")
    collector = Collector(mosquitto.port, "kpis/test-plant/kpi")
    publisher = MqttPublisher(config, "test-plant")
    kpis = KpiPublisher(site.loaded, site.history, publisher, clock=clock)
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        await publisher.deliver([])  # connected, as the forwarder keeps it
        await kpis.step()
        await kpis.step()  # the same day again: not re-sent
        now[0] = pd.Timestamp("2026-10-04T00:05", tz=TZ).to_pydatetime()
        await kpis.step()
        docs = await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= 2), 10)
        await asyncio.sleep(0.3)  # anything extra would arrive now
    await publisher.close()
    assert [doc["period"] for doc in collector.docs] == [
        "2026-10-02T00:00:00+08:00/P1D",
        "2026-10-03T00:00:00+08:00/P1D",
    ]
    for doc in docs:
        KPI.validate(doc)
    first = docs[0]["values"]
    assert first["site_energy_kwh"] == {"value": pytest.approx(1000.0), "unit": "kWh"}
    assert first["eui_kwh_per_unit"] == {"value": pytest.approx(10.0), "unit": "kWh/t"}
    assert first["savings_verified"] == {"value": None, "unit": "yes=1/no=0"}
    assert docs[0]["time"].startswith("2026-10-02T16:05")  # sent at 00:05 local, UTC in `time`
