"""An agent restart mid-stream resumes from the stored cursor: rows confirmed before the stop are
never sent again, the rest arrive, in order, with their original timestamps."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from agent.outbox import AsyncOutbox, Forwarder, Outbox
from agent.sinks.mqtt import MqttPublisher
from tests.integration.services import Mosquitto, mosquitto
from tests.integration.test_delivery_mqtt import Collector, poll, running, seqs, sink_config

__all__ = ["mosquitto"]  # the fixture, shared from tests/integration/services.py
pytestmark = pytest.mark.integration


async def test_restart_resumes_at_the_cursor_and_resends_nothing_confirmed(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    config = sink_config(mosquitto.port, prefix="restart", max_inflight=10)
    collector = Collector(mosquitto.port, "restart/plant1/+/telemetry")
    path = tmp_path / "outbox.db"
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        first = AsyncOutbox(Outbox(path, ["mqtt"]))
        publisher = MqttPublisher(config, "plant1")
        forwarder = Forwarder(first, publisher, batch_rows=20)
        async with running(forwarder.run()):
            await first.put_many([poll(i) for i in range(1, 2001)])
            await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= 300), 20)
        # The task is cancelled mid-stream, like a SIGKILL between two batches.
        confirmed = (await first.stats()).sinks[0].cursor
        await publisher.close()
        await first.close()
        assert 0 < confirmed < 2000, "the stop must fall mid-stream"

        second = AsyncOutbox(Outbox(path, ["mqtt"]))
        again = Forwarder(second, MqttPublisher(config, "plant1"), batch_rows=200)
        async with running(again.run()):
            again.wake()
            docs = await asyncio.wait_for(
                collector.wait_for(lambda d: len(d) >= 2000 and seqs(d) >= set(range(1, 2001))), 20
            )
            await asyncio.wait_for(again.wait_idle(), 10)
    counts = Counter(doc["seq"] for doc in docs)
    assert all(counts[seq] == 1 for seq in range(1, confirmed + 1)), "confirmed rows are never resent"
    assert sorted(counts) == list(range(1, 2001))
    resent = sum(c - 1 for c in counts.values())
    assert resent <= 20, "only the batch in flight at the stop may arrive twice"
    first_seen: dict[int, float] = {}
    for doc in docs:
        first_seen.setdefault(doc["seq"], doc["ts"])
    assert all(first_seen[seq] == poll(seq).ts for seq in (1, confirmed + 1, 2000))
    assert time.time() - first_seen[2000] < 7200
