"""Polls reach a real VictoriaMetrics (InfluxDB write API) through outbox + forwarder with exact
values and millisecond timestamps; an outage loses nothing; bad lines are isolated and counted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.config.site import InfluxSink
from agent.outbox import AsyncOutbox, Backoff, Forwarder, Outbox
from agent.readings.model import PollResult, Reading
from agent.sinks.influx import InfluxPublisher, InfluxWriter, WriteRejected, WriteRetryable, find_bad_lines
from tests.integration.services import VictoriaMetrics, victoria

__all__ = ["victoria"]  # the fixture, shared from tests/integration/services.py
pytestmark = pytest.mark.integration

T0 = float(int(time.time()) - 7200)  # recent: the outbox's age bound keeps it


def poll(seq: int, device: str, site: str) -> PollResult:
    return PollResult(
        site=site,
        device=device,
        device_kind="power_meter",
        profile="eastron/sdm630",
        ts=T0 + seq * 0.5 + 0.123,
        seq=seq,
        readings=(
            Reading("active_power_kw", round(10.0 + seq / 7, 6), "kW"),
            Reading("energy_import_kwh", 5000.0 + seq * 0.25, "kWh"),
            Reading("alarms", seq % 3),
            Reading("voltage_l1_v", None, "V", "bad", "timeout"),
            Reading("serial", "SN1", ""),
        ),
        area="hall-a",
    )


@contextlib.asynccontextmanager
async def forwarding(
    outbox: AsyncOutbox, publisher: InfluxPublisher, **kwargs: Any
) -> AsyncIterator[Forwarder]:
    forwarder = Forwarder(outbox, publisher, **kwargs)
    task = asyncio.create_task(forwarder.run())
    try:
        yield forwarder
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def series(vm: VictoriaMetrics, site: str) -> dict[tuple[str, str], dict[int, float]]:
    """(metric name, device) -> {timestamp ms: value} for one site."""
    found: dict[tuple[str, str], dict[int, float]] = {}
    for item in vm.export(f'{{site="{site}"}}'):
        metric = item["metric"]
        key = (metric["__name__"], metric["device"])
        found.setdefault(key, {}).update(zip(item["timestamps"], item["values"], strict=True))
        assert (metric["area"], metric["profile"]) == ("hall-a", "eastron/sdm630")
    return found


def expected(polls: Sequence[PollResult]) -> dict[tuple[str, str], dict[int, float]]:
    want: dict[tuple[str, str], dict[int, float]] = {}
    for p in polls:
        ts_ms = round(p.ts * 1000)
        for reading in p.readings:
            if isinstance(reading.value, int | float) and not isinstance(reading.value, bool):
                want.setdefault((f"power_meter_{reading.point}", p.device), {})[ts_ms] = float(reading.value)
        want.setdefault(("power_meter_bad_points", p.device), {})[ts_ms] = 1.0
    return want


async def failures(forwarder: Forwarder, at_least: int) -> None:
    """Wait until the forwarder has met `at_least` failed deliveries (it keeps no event for that)."""
    while forwarder.retried < at_least:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def influx_config(vm: VictoriaMetrics, **overrides: Any) -> InfluxSink:
    return InfluxSink(url=vm.url, bucket="energy", org="energy", **overrides)


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_values_and_millisecond_timestamps_arrive_exactly(
    victoria: VictoriaMetrics, tmp_path: Path, api: str
) -> None:
    site = f"exact-{api}"
    polls = [poll(seq, device, site) for seq in range(1, 401) for device in ("m1", "m2", "m3")]
    outbox = AsyncOutbox(Outbox(tmp_path / "o.db", ["influxdb"]))
    publisher = InfluxPublisher(influx_config(victoria, api=api, batch_size=500))
    async with forwarding(outbox, publisher) as forwarder:
        for start in range(0, len(polls), 150):
            await outbox.put_many(polls[start : start + 150])
        await asyncio.wait_for(forwarder.wait_idle(), 20)
    publisher.close()
    assert series(victoria, site) == expected(polls)


async def test_database_outage_mid_stream_loses_nothing(tmp_path: Path) -> None:
    vm = VictoriaMetrics(tmp_path / "vm").start()
    site = "outage"
    polls = [poll(seq, device, site) for seq in range(1, 601) for device in ("m1", "m2")]
    outbox = AsyncOutbox(Outbox(tmp_path / "o.db", ["influxdb"]))
    publisher = InfluxPublisher(influx_config(vm, batch_size=100, timeout_s=1.0))
    backoff = Backoff(initial_s=0.05, max_s=0.3)
    try:
        async with forwarding(outbox, publisher, batch_rows=100, backoff=backoff) as forwarder:
            await outbox.put_many(polls[:400])
            await asyncio.wait_for(forwarder.wait_idle(), 20)
            vm.freeze()  # writes now hang until the client's timeout, like a dead uplink
            await outbox.put_many(polls[400:800])
            await asyncio.wait_for(failures(forwarder, 1), 10)
            # VictoriaMetrics keeps the last second of accepted points in memory; SIGTERM (not -9)
            # lets it flush them, so what it confirmed is on disk.
            vm.kill(signal.SIGTERM)
            await outbox.put_many(polls[800:1000])
            await asyncio.wait_for(failures(forwarder, 2), 10)  # now: connection refused
            vm.start()
            await outbox.put_many(polls[1000:])
            await asyncio.wait_for(forwarder.wait_idle(), 30)
            stats = await forwarder.stats()
        assert series(vm, site) == expected(polls)
        assert stats.retried >= 2
        assert (stats.lag_rows, stats.dropped) == (0, 0)
    finally:
        publisher.close()
        vm.kill()


async def test_bad_lines_are_isolated_counted_and_the_rest_arrives(
    victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    # VictoriaMetrics accepts anything (HTTP 204 even for unparsable lines), so the refusal is
    # made at the seam: a writer that refuses lines of poisoned polls like InfluxDB does (HTTP 400)
    # and hands every other batch to the real database.
    site = "bisect"
    polls = [poll(seq, "m1", site) for seq in range(1, 301)]
    poisoned = {17, 18, 150, 299}
    real = InfluxWriter(influx_config(victoria))
    calls = 0

    async def strict_writer(lines: Sequence[str]) -> None:
        nonlocal calls
        calls += 1
        if any(
            f"alarms={seq % 3}i" in line and f" {round(polls[seq - 1].ts * 1000)}" in line
            for line in lines
            for seq in poisoned
        ):
            raise WriteRejected("HTTP 400: field type conflict")
        await real(lines)

    outbox = AsyncOutbox(Outbox(tmp_path / "o.db", ["influxdb"]))
    publisher = InfluxPublisher(influx_config(victoria, batch_size=100), writer=strict_writer)
    async with forwarding(outbox, publisher) as forwarder:
        await outbox.put_many(polls)
        await asyncio.wait_for(forwarder.wait_idle(), 20)
        stats = await forwarder.stats()
    real.close()
    good = [p for p in polls if p.seq not in poisoned]
    assert series(victoria, site) == expected(good)
    assert (publisher.rejected_lines, stats.dropped, stats.lag_rows) == (4, 4, 0)
    assert calls < 3 * 4 * 8, "bisection, not one write per line"


async def test_bisection_finds_exactly_the_refused_lines() -> None:
    written: list[str] = []

    async def writer(lines: Sequence[str]) -> None:
        if any(line.startswith("bad") for line in lines):
            raise WriteRejected("HTTP 422")
        written.extend(lines)

    lines = [f"bad{i}" if i in {0, 5, 6, 63} else f"ok{i}" for i in range(64)]
    assert await find_bad_lines(lines, writer) == [0, 5, 6, 63]
    assert sorted(written) == sorted(line for line in lines if line.startswith("ok"))


async def test_retryable_errors_stop_the_batch_and_carry_retry_after(tmp_path: Path) -> None:
    async def busy(lines: Sequence[str]) -> None:
        raise WriteRetryable("HTTP 429: slow down", retry_after_s=7.0)

    outbox = Outbox(tmp_path / "o.db", ["influxdb"])
    outbox.put_many([poll(1, "m1", "s")])
    publisher = InfluxPublisher(InfluxSink(), writer=busy)
    delivery = await publisher.deliver(outbox.read_after("influxdb", 10))
    assert (delivery.acked_through, delivery.retry_after_s) == (None, 7.0)
    assert delivery.error is not None
    assert "429" in delivery.error
