"""The MQTT sink (paho-mqtt's public API on the agent's event loop) against a real Mosquitto: windows
beyond the in-flight limit arrive complete and in order and every confirmation reaches the outbox,
QoS 0 and 2 too; a window larger than the socket buffers waits for writability; status and KPI
publishes share the connection; a broker that stops acknowledging or a row that cannot be published
fails the window with a reason and the next connection carries on; over TLS too."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from agent.config.site import MqttSink
from agent.outbox.store import OutboxRow
from agent.readings.model import PollResult, Reading
from agent.sinks.mqtt import MqttPublisher
from tests.integration.services import Mosquitto, mosquitto
from tests.integration.test_agent_tls import AGENT, WATCHER, TlsMosquitto, certs
from tests.integration.test_delivery_mqtt import Collector, retained, running

__all__ = ["certs", "mosquitto"]  # fixtures
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

T0 = float(int(time.time()) - 600)


def rows(first: int, count: int, device: str = "meter1", points: int = 30) -> list[OutboxRow]:
    return [
        OutboxRow(
            id=seq,
            result=PollResult(
                site="plant1",
                device=device,
                device_kind="power_meter",
                profile="eastron/sdm630",
                ts=T0 + seq,
                seq=seq,
                readings=tuple(Reading(f"p{i}", 230.0 + i + seq / 7, "V") for i in range(points)),
            ),
            boot=T0,
        )
        for seq in range(first, first + count)
    ]


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_windows_beyond_the_inflight_limit_arrive_in_order_and_status_shares_the_connection(
    mosquitto: Mosquitto, protocol: str
) -> None:
    prefix = f"fast{protocol.replace('.', '')}"
    config = MqttSink(host="127.0.0.1", port=mosquitto.port, protocol=protocol, prefix=prefix, max_inflight=7)  # type: ignore[arg-type]
    collector = Collector(mosquitto.port, f"{prefix}/plant1/+/telemetry")
    publisher = MqttPublisher(config, "plant1")
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        for first in (1, 201, 401):
            window = rows(first, 200)
            delivery = await publisher.deliver(window)
            assert (delivery.acked_through, delivery.error) == (window[-1].id, None)
        docs = await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= 600), 20)
        assert publisher.connects == 1
        # single publishes (awaited per message) on the same connection, after the windows
        await publisher.publish_device_status("meter1", False, "timeout", T0)
        assert await publisher.publish_kpi(T0, "15min", {"energy_kwh": (1.5, "kWh")})
        await publisher.close()
    assert [doc["seq"] for doc in docs] == list(range(1, 601))
    status = await retained(mosquitto.port, f"{prefix}/plant1/meter1/status")
    assert (status["state"], status["reason"]) == ("offline", "timeout")


@pytest.mark.parametrize("qos", [0, 2])
async def test_qos0_and_qos2_windows_are_confirmed_by_the_write_and_by_pubcomp(
    mosquitto: Mosquitto, qos: int
) -> None:
    # QoS 0 is confirmed by the socket write, QoS 2 by PUBCOMP: both through paho's on_publish.
    prefix = f"q{qos}"
    config = MqttSink(host="127.0.0.1", port=mosquitto.port, prefix=prefix, qos=qos, max_inflight=5)  # type: ignore[arg-type]
    collector = Collector(mosquitto.port, f"{prefix}/plant1/+/telemetry")
    publisher = MqttPublisher(config, "plant1")
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        window = rows(1, 50)
        delivery = await publisher.deliver(window)
        assert (delivery.acked_through, delivery.error) == (50, None)
        docs = await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= 50), 10)
        await publisher.close()
    assert [doc["seq"] for doc in docs] == list(range(1, 51))


async def test_a_window_larger_than_the_socket_buffers_waits_for_writability(tmp_path: Path) -> None:
    # The broker is stopped while ~5 MB go out at once: the kernel buffers fill, paho's write stops
    # short (EAGAIN) and the loop must watch the socket for writability to send the rest.
    broker = Mosquitto(tmp_path / "broker").start()
    config = MqttSink(host="127.0.0.1", port=broker.port, max_inflight=2000)
    publisher = MqttPublisher(config, "plant1", publish_timeout_s=20)
    try:
        assert (await publisher.deliver(rows(1, 1))).error is None
        assert broker.proc is not None
        broker.freeze()
        window = rows(2, 2000)  # ~2.5 KB each
        task = asyncio.create_task(publisher.deliver(window))
        await asyncio.sleep(1.0)
        assert not task.done()
        os.kill(broker.proc.pid, signal.SIGCONT)
        delivery = await asyncio.wait_for(task, 30)
        assert (delivery.acked_through, delivery.error) == (2001, None)
        await publisher.close()
    finally:
        broker.kill()


async def test_a_broker_that_stops_acknowledging_fails_the_window_and_the_next_connection_resends(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    config = MqttSink(host="127.0.0.1", port=broker.port, max_inflight=10)
    publisher = MqttPublisher(config, "plant1", publish_timeout_s=1)
    try:
        assert (await publisher.deliver(rows(1, 5, points=2))).acked_through == 5
        assert broker.proc is not None
        broker.freeze()
        stalled = await asyncio.wait_for(publisher.deliver(rows(6, 50, points=2)), 10)
        assert stalled.acked_through is None
        assert stalled.error is not None
        assert "no acknowledgement for 1 s" in stalled.error
        assert not publisher.connected
        os.kill(broker.proc.pid, signal.SIGCONT)
        again = await asyncio.wait_for(publisher.deliver(rows(6, 50, points=2)), 10)
        assert (again.acked_through, again.error) == (55, None)
        assert publisher.connects == 2
        await publisher.close()
    finally:
        broker.kill()


async def test_windows_over_tls(tmp_path: Path, certs: Path) -> None:
    broker = TlsMosquitto(tmp_path / "broker", certs, dict([AGENT, WATCHER])).start()
    config = MqttSink.model_validate(
        {
            "host": "localhost",
            "port": broker.port,
            "prefix": "tls",
            "username": AGENT[0],
            "password": AGENT[1],
            "tls": {"ca_file": str(certs / "ca.crt")},
            "max_inflight": 50,
        }
    )
    collector = Collector(broker.plain_port, "tls/plant1/+/telemetry", auth=WATCHER)
    publisher = MqttPublisher(config, "plant1")
    try:
        async with running(collector.run()):
            await asyncio.wait_for(collector.subscribed.wait(), 10)
            for first in (1, 301):
                window = rows(first, 300)  # ~2.5 KB each: joined writes span many TLS records
                delivery = await publisher.deliver(window)
                assert (delivery.acked_through, delivery.error) == (window[-1].id, None)
            docs = await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= 600), 20)
            await publisher.close()
    finally:
        broker.kill()
    assert [doc["seq"] for doc in docs] == list(range(1, 601))


async def test_an_unpublishable_row_stops_the_window_and_the_next_connection_carries_on(
    mosquitto: Mosquitto,
) -> None:
    config = MqttSink(host="127.0.0.1", port=mosquitto.port, prefix="refuse")
    publisher = MqttPublisher(config, "plant1")
    window = rows(1, 2) + rows(3, 1, device="bad+device") + rows(4, 2)
    delivery = await publisher.deliver(window)
    assert delivery.error is not None
    assert "invalid publish topic 'refuse/plant1/bad+device/telemetry'" in delivery.error
    assert delivery.acked_through in (None, 1, 2), "nothing at or after the refused row counts"
    assert not publisher.connected, "a failed window drops the connection"
    retry = await publisher.deliver(rows(10, 3))
    assert (retry.acked_through, retry.error) == (12, None)
    assert publisher.connects == 2
    await publisher.close()
