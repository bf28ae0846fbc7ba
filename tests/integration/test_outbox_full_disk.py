"""A full disk never takes the agent down: on a real 2 MiB tmpfs, through the runtime's own delivery
path (`Delivery`: intake -> SQLite outbox -> forwarder -> a real Mosquitto).

- filled while accepting: acceptance pauses with one ERROR line and the metric, polls are held in
  memory, and once space returns every held poll is committed and delivered in order, no gap, no
  duplicate;
- started on a full disk: the outbox opens degraded, and what the last run stored plus what this
  run polled is delivered once space returns;
- the memory buffer overflows: the oldest held polls go, one WARNING when dropping starts and one
  line with the count when it stops;
- the history store: a full disk is `StoreFull` from its writes and one ERROR line from the runtime;
  the refused rows are kept and written once there is room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from agent.config.loader import LoadedConfig, load_config
from agent.errors import StoreFull
from agent.history.store import EnergyRow, HistoryStore
from agent.outbox import Backoff
from agent.readings.intervals import IntervalEnergy
from agent.readings.model import PollResult, Reading
from agent.runtime.app import Agent
from agent.runtime.delivery import Delivery
from agent.runtime.live import LiveView
from agent.runtime.site import serve_site
from agent.web.metrics import render_metrics
from tests.integration.disk import SmallDisk, small_disk
from tests.integration.services import Mosquitto, free_port, mosquitto
from tests.integration.test_delivery_mqtt import Collector, running

__all__ = ["mosquitto", "small_disk"]  # fixtures
pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

T0 = float(int(time.time()) - 600)  # recent: the outbox's age bound keeps it


def poll(seq: int, points: int = 1) -> PollResult:
    """A meter's poll: a counter, and `points` x (power, voltage) gauges (a full SDM630: 25)."""
    gauges = [
        Reading(f"{name}_{i}", base + seq / 8 + i, unit)
        for i in range(points)
        for name, base, unit in (("power_kw", 10.0, "kW"), ("voltage_v", 230.0, "V"))
    ]
    return PollResult(
        site="plant1",
        device="meter1",
        device_kind="power_meter",
        profile="eastron/sdm630",
        ts=T0 + seq / 100,
        seq=seq,
        readings=(Reading("energy_import_kwh", 5000.0 + seq, "kWh"), *gauges),
    )


def site(tmp_path: Path, store: Path, mqtt_port: int, prefix: str) -> LoadedConfig:
    path = tmp_path / "site.yaml"
    config = {
        "site": {"name": "plant1", "timezone": "UTC"},
        "sinks": {
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": prefix},
            "local_store": {"path": str(store), "max_bytes": 1024**2},
        },
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return load_config(path)


def site_with_dashboard(tmp_path: Path, store: Path, mqtt_port: int, prefix: str) -> Path:
    path = tmp_path / "site.yaml"
    config = {
        "site": {"name": "plant1", "timezone": "UTC"},
        "sinks": {
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": prefix},
            "local_store": {"path": str(store), "max_bytes": 1024**2},
        },
        "web": {"host": "127.0.0.1", "port": free_port()},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def delivery_for(loaded: LoadedConfig, store: Path, **options: int) -> Delivery:
    options.setdefault("max_batch", 100)
    delivery = Delivery(loaded.config, store, flush_interval_s=0.02, **options)
    assert delivery.intake is not None
    delivery.intake.backoff = Backoff(initial_s=0.05, max_s=0.2)  # a quick retry for the test
    for forwarder in delivery.forwarders:
        forwarder.backoff = Backoff(initial_s=0.05, max_s=0.2)
    return delivery


async def until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"not true after {timeout_s} s")


def agent_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("agent") and r.levelno == level]


class Poller:
    """Hands polls to the delivery like the runtime's pollers do, one seq after another."""

    def __init__(self, delivery: Delivery, first: int = 1, points: int = 1) -> None:
        self.delivery = delivery
        self.next_seq = first
        self.points = points

    async def put(self, count: int) -> None:
        for _ in range(count):
            await self.delivery.put(poll(self.next_seq, self.points))
            self.next_seq += 1
        await asyncio.sleep(0.005)

    async def until_paused(self) -> None:
        """Keep polling until the full disk stops acceptance (the WAL's spare room fills first)."""
        intake = self.delivery.intake
        assert intake is not None
        async with asyncio.timeout(15):
            while not intake.paused:
                await self.put(20)
                await self.delivery.flush()


async def test_full_disk_pauses_acceptance_holds_polls_and_delivers_all_in_order_when_space_returns(
    mosquitto: Mosquitto, small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    store = small_disk.root / "store"
    loaded = site(tmp_path, store, mosquitto.port, "fd1")
    delivery = delivery_for(loaded, store)
    intake = delivery.intake
    assert intake is not None
    view = LiveView(Agent(loaded, delivery), delivery)  # the agent is not run: only the metrics are read
    poller = Poller(delivery)
    collector = Collector(mosquitto.port, "fd1/plant1/+/telemetry")
    try:
        async with running(collector.run()):
            await asyncio.wait_for(collector.subscribed.wait(), 10)
            async with running(delivery.run()) as (pipeline,):
                await poller.put(300)
                await until(lambda: delivery.accepted == 300)

                small_disk.fill()
                await poller.until_paused()
                await poller.put(500)  # polled while paused: held in memory
                await asyncio.sleep(0.5)  # several retries fail, quietly
                assert not pipeline.done(), "the delivery pipeline is still running"
                errors = agent_records(caplog, logging.ERROR)
                assert len(errors) == 1, errors
                assert "event=outbox_paused" in errors[0]
                assert "disk full" in errors[0]
                held = intake.stats().held
                assert held == poller.next_seq - 1 - delivery.accepted >= 500
                metrics = render_metrics(view.agent_metrics())
                assert "energy_agent_outbox_paused 1.0" in metrics
                assert f"energy_agent_outbox_held_polls {float(held)}" in metrics

                small_disk.free()
                await poller.put(100)  # polling goes on while the held polls are committed
                last = poller.next_seq - 1
                await until(lambda: delivery.accepted == last)
                docs = await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= last), 20)
                assert await delivery.drain()
                assert "energy_agent_outbox_paused 0.0" in render_metrics(view.agent_metrics())
    finally:
        await delivery.close()
    assert [d["seq"] for d in docs] == list(range(1, last + 1)), "in order, no gap, no duplicate"
    assert len(agent_records(caplog, logging.ERROR)) == 1
    resumed = [m for m in agent_records(caplog, logging.INFO) if "event=outbox_resumed" in m]
    assert len(resumed) == 1
    # No drops, and the forwarder never saw the outbox fail: its cursor moves waited in memory.
    assert agent_records(caplog, logging.WARNING) == []


async def test_starting_on_a_full_disk_opens_degraded_and_delivers_everything_once_space_returns(
    mosquitto: Mosquitto, small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    store = small_disk.root / "store"
    loaded = site(tmp_path, store, mosquitto.port, "fd2")
    first = delivery_for(loaded, store)  # the last run: stored 200 polls, delivered none, stopped
    for seq in range(1, 201):
        await first.put(poll(seq))
    await first.close()
    assert first.accepted == 200

    small_disk.fill()
    second = delivery_for(loaded, store)  # must not raise
    assert second.outbox is not None
    assert not second.outbox.store.ready
    poller = Poller(second, first=201)
    collector = Collector(mosquitto.port, "fd2/plant1/+/telemetry")
    try:
        async with running(collector.run()):
            await asyncio.wait_for(collector.subscribed.wait(), 10)
            async with running(second.run()) as (pipeline,):
                await poller.until_paused()
                await poller.put(100)
                await asyncio.sleep(0.3)
                assert not pipeline.done()
                assert collector.docs == [], "nothing can be read before the outbox opens"
                errors = agent_records(caplog, logging.ERROR)
                assert len(errors) == 1, errors
                assert "event=outbox_paused" in errors[0], errors

                small_disk.free()
                last = poller.next_seq - 1
                docs = await asyncio.wait_for(collector.wait_for(lambda d: len(d) >= last), 20)
                assert await second.drain()
    finally:
        await second.close()
    assert [d["seq"] for d in docs] == list(range(1, last + 1))
    assert len({d["boot"] for d in docs}) == 2, "the two runs' polls carry their own boot"


async def test_a_full_memory_buffer_drops_the_oldest_held_polls_and_logs_the_episode_twice(
    mosquitto: Mosquitto, small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    store = small_disk.root / "store"
    delivery = delivery_for(site(tmp_path, store, mosquitto.port, "fd3"), store, max_held=150)
    intake = delivery.intake
    assert intake is not None
    assert delivery.outbox is not None
    poller = Poller(delivery)
    try:
        await poller.put(50)
        await delivery.flush()
        small_disk.fill()
        await poller.until_paused()
        accepted = delivery.accepted
        await poller.put(400)  # far beyond 150 held
        last = poller.next_seq - 1
        assert intake.stats().held == 150
        assert intake.dropped == last - accepted - 150
        dropping = [m for m in agent_records(caplog, logging.WARNING) if "polls_dropp" in m]
        assert len(dropping) == 1, dropping
        assert "event=polls_dropping where=memory" in dropping[0], dropping

        small_disk.free()
        await delivery.flush()
        assert not intake.paused
        assert delivery.accepted == accepted + 150
        rows = delivery.outbox.store.read_after("mqtt", 10_000)
    finally:
        await delivery.close()
    assert [r.result.seq for r in rows] == list(range(1, accepted + 1)) + list(range(last - 149, last + 1))
    dropping = [m for m in agent_records(caplog, logging.WARNING) if "polls_dropp" in m]
    assert len(dropping) == 2
    assert f"event=polls_dropped where=memory count={intake.dropped}" in dropping[1]


async def test_history_writes_on_a_full_disk_raise_store_full_and_the_runtime_logs_once(
    mosquitto: Mosquitto, small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    small_disk.fill()
    with HistoryStore(small_disk.root / "opened-full.db") as history:  # opening does not raise
        with pytest.raises(StoreFull, match="disk full"):
            history.write_energy([EnergyRow("m1", 0, 900, 1.5)])
        small_disk.free()
        assert history.write_energy([EnergyRow("m1", 0, 900, 1.5)]) == 1
        assert history.devices() == ["m1"]

    store = small_disk.root / "store"
    delivery = delivery_for(site(tmp_path, store, mosquitto.port, "fd4"), store)
    try:
        small_disk.fill()
        for start in range(0, 9000, 900):  # every interval write fails with the disk full
            await delivery.interval(
                IntervalEnergy("m1", float(start), float(start + 900), 1.0, "counter", 1.0, "good")
            )
        await delivery.history.drain()
        errors = agent_records(caplog, logging.ERROR)
        assert len(errors) == 1, errors
        assert "event=history_write_failed" in errors[0], errors
        small_disk.free()
        await delivery.interval(IntervalEnergy("m1", 9000.0, 9900.0, 1.0, "counter", 1.0, "good"))
        await delivery.history.drain()
        # the rows the full disk refused were kept by the history writer and are in now
        assert any("event=history_write_resumed" in m and "rows=11" in m for m in caplog.messages), (
            caplog.messages
        )
    finally:
        await delivery.close()
    with HistoryStore(store / "history.db") as history:
        assert history.energy()["m1"].sum() == pytest.approx(11.0)


async def test_a_backlog_larger_than_the_bound_is_committed_in_small_batches_within_the_bound(
    mosquitto: Mosquitto, small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Full SDM630-sized polls held through a pause add up to more than the outbox bound (1 MiB) and
    # the whole disk (2 MiB): one transaction for all of them could never fit; small ones do, and
    # the outbox's own bound drops the oldest (logged).
    caplog.set_level(logging.INFO, logger="agent")
    store = small_disk.root / "store"
    delivery = delivery_for(
        site(tmp_path, store, mosquitto.port, "fd6"), store, max_batch=2000
    )  # the default
    intake = delivery.intake
    assert intake is not None
    assert delivery.outbox is not None
    poller = Poller(delivery, points=25)
    try:
        small_disk.fill()
        await poller.until_paused()
        await poller.put(1500)
        assert intake.stats().held_bytes > 3 * 1024**2
        small_disk.free()
        await delivery.flush()
        assert not intake.paused
        assert delivery.accepted == poller.next_seq - 1
        outbox = delivery.outbox.store
        assert outbox.disk_bytes() <= outbox.max_bytes
        kept = [r.result.seq for r in outbox.read_after("mqtt", 10_000)]
    finally:
        await delivery.close()
    last = poller.next_seq - 1
    assert kept == list(range(last - len(kept) + 1, last + 1)), "the newest polls, in order"
    assert outbox.dropped_by_bounds == last - len(kept) > 0
    dropping = [m for m in agent_records(caplog, logging.WARNING) if "polls_dropp" in m]
    assert len(dropping) == 2, "one line when dropping starts, one with the count at the stop"
    assert "event=polls_dropping where=outbox" in dropping[0]
    assert dropping[1] == f"event=polls_dropped where=outbox count={outbox.dropped_by_bounds}"


async def test_stopping_while_paused_names_the_held_polls_it_loses(
    mosquitto: Mosquitto, small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    store = small_disk.root / "store"
    delivery = delivery_for(site(tmp_path, store, mosquitto.port, "fd5"), store)
    intake = delivery.intake
    assert intake is not None
    small_disk.fill()
    poller = Poller(delivery)
    await poller.until_paused()
    held = intake.stats().held
    await delivery.close()  # the disk is still full: the last commit fails too
    errors = agent_records(caplog, logging.ERROR)
    assert [e.split(" reason=")[0] for e in errors] == [
        "event=outbox_paused",
        f"event=polls_lost_on_stop count={held}",
    ]
    assert held == poller.next_seq - 1 - delivery.accepted > 0


async def test_energy_agent_run_started_on_a_full_disk_keeps_running_until_stopped(
    mosquitto: Mosquitto, small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The whole `run` composition (delivery, rating publisher, dashboard warm-up) on a disk that
    # filled while the agent was down. The rating publisher's first history read at start fails
    # as the agent's StoreFull (it once ended the agent as sqlite3's 'disk I/O error').
    caplog.set_level(logging.INFO, logger="agent")
    store = small_disk.root / "store"
    path = site_with_dashboard(tmp_path, store, mosquitto.port, "fd7")
    earlier = delivery_for(load_config(path), store)  # the last run left its outbox and history
    await earlier.close()
    small_disk.fill()
    running: dict[str, Agent] = {}
    task = asyncio.create_task(
        serve_site(path, load_config(path), started=lambda agent, _: running.setdefault("agent", agent))
    )
    await until(lambda: "agent" in running or task.done())
    await asyncio.sleep(1.0)  # the rating publisher and the dashboard warm-up run at start
    assert not task.done(), task.exception() if task.done() else None
    small_disk.free()
    running["agent"].stop()
    await asyncio.wait_for(task, 15)
    assert any("event=task_failed task=rating" in m and "StoreFull" in m for m in caplog.messages)
