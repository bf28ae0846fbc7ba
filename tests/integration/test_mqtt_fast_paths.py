"""The MQTT sink's paho fast paths against a real Mosquitto: all of them active with the pinned
libraries (a library change must fail here, not silently cost CPU), every PUBACK settled, also when
many arrive in one read, the in-flight limit kept, and aiomqtt's own publishes (status, KPI)
still confirmed after telemetry windows; over TLS too."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from agent.config.site import MqttSink
from agent.outbox.store import OutboxRow
from agent.readings.model import PollResult, Reading
from agent.sinks import mqtt as sink
from agent.sinks.mqtt import MqttPublisher
from tests.integration.services import Mosquitto, mosquitto
from tests.integration.test_agent_tls import AGENT, WATCHER, TlsMosquitto, certs
from tests.integration.test_delivery_mqtt import Collector, retained, running

__all__ = ["certs", "mosquitto"]  # fixtures
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ALL_FAST_PATHS = {"on_publish", "fast_puback", "buffered_read", "joined_write", "fast_read", "built_publish"}
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


def router_of(publisher: MqttPublisher) -> Any:
    router = publisher._router
    assert router is not None
    return router


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_every_fast_path_is_active_and_windows_beyond_the_inflight_limit_arrive_in_order(
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
        router = router_of(publisher)
        assert router.fast_paths == ALL_FAST_PATHS, "a paho/aiomqtt change disabled a fast path"
        assert router.fast_acks == 600, "every telemetry PUBACK took the fast path"
        assert not router.tracked
        assert isinstance(router.paho._sock, sink._BufferedSocket)
        # aiomqtt's own publishes (awaited per message) on the same connection, after the windows
        await publisher.publish_device_status("meter1", False, "timeout", T0)
        assert await publisher.publish_kpi(T0, "15min", {"energy_kwh": (1.5, "kWh")})
        await publisher.close()
    assert [doc["seq"] for doc in docs] == list(range(1, 601))
    status = await retained(mosquitto.port, f"{prefix}/plant1/meter1/status")
    assert (status["state"], status["reason"]) == ("offline", "timeout")


@pytest.mark.parametrize("qos", [0, 2])
async def test_qos0_and_qos2_windows_take_paho_publish(mosquitto: Mosquitto, qos: int) -> None:
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


async def test_many_pubacks_in_one_read_are_all_handled(tmp_path: Path) -> None:
    # The broker is stopped while the window goes out, then resumed while the agent's loop is
    # blocked: all 200 PUBACKs wait in the socket and one recv returns them. Bytes left in the
    # user-space buffer raise no readiness event, so a window that completes proves they were drained.
    broker = Mosquitto(tmp_path / "broker").start()
    config = MqttSink(host="127.0.0.1", port=broker.port, max_inflight=200)
    publisher = MqttPublisher(config, "plant1", publish_timeout_s=10)
    try:
        await publisher.deliver(rows(1, 1, points=2))
        sock = router_of(publisher).paho._sock
        assert broker.proc is not None
        broker.freeze()
        window = rows(2, 200, points=2)  # small: the whole window fits in the socket buffers
        task = asyncio.create_task(publisher.deliver(window))
        await asyncio.sleep(0.3)  # the publishes are written
        os.kill(broker.proc.pid, signal.SIGCONT)
        time.sleep(1.0)  # noqa: ASYNC251 -- the loop must not read while the broker acknowledges
        delivery = await asyncio.wait_for(task, 15)
        assert (delivery.acked_through, delivery.error) == (201, None)
        assert sock.most >= 100 * 4, "at least 100 PUBACKs (4 bytes each) came in one read"
        await publisher.close()
    finally:
        broker.kill()


async def test_incoming_packets_left_in_the_buffer_are_drained_without_a_new_read_event(
    mosquitto: Mosquitto,
) -> None:
    # With no PUBLISH of its own outstanding, paho's loop_read handles one packet per call: the
    # others wait in the user-space buffer and only aiomqtt's `pending()` loop gets to them. The
    # messages are sent (by mosquitto_pub) while this loop is blocked, so they arrive in one read.
    client = aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="drain-test")
    router = sink._AckRouter(client)
    router.install()
    assert router.fast_paths == ALL_FAST_PATHS
    received: list[bytes] = []
    lines = "".join(f"{i}\n" for i in range(300)) + "end\n"
    async with client:
        await client.subscribe("drain/#", qos=0)
        sock = router.paho._sock
        subprocess.run(  # noqa: ASYNC221 -- blocking on purpose: the loop must not read meanwhile
            ["mosquitto_pub", "-p", str(mosquitto.port), "-t", "drain/x", "-q", "1", "-l"],
            input=lines.encode(),
            check=True,
            timeout=20,
        )
        time.sleep(0.5)  # noqa: ASYNC251 -- the broker forwards them all before the loop reads
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append(message.payload)
                if message.payload == b"end":
                    break
    assert received == [str(i).encode() for i in range(300)] + [b"end"]
    assert isinstance(sock, sink._BufferedSocket)
    assert sock.most >= 100 * 10, "at least 100 messages came in one read"


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
            router = router_of(publisher)
            assert router.fast_paths == ALL_FAST_PATHS
            assert router.fast_acks == 600
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
