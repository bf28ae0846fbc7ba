"""The outbox keeps every accepted poll until each sink confirmed it, and counts what it must drop."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.config.site import LocalStoreSink
from agent.errors import SinkError
from agent.outbox import AsyncOutbox, Backoff, Delivery, Forwarder, Outbox, OutboxRow
from agent.outbox.codec import carries_counter, decode_result, encode_result
from agent.readings.model import PollResult, Reading


def poll(seq: int, *, counter: bool = False, ts: float | None = None, device: str = "meter1") -> PollResult:
    readings = [Reading("active_power_kw", 10.5 + seq, "kW"), Reading("status", "run", "")]
    if counter:
        readings.append(Reading("energy_import_kwh", 1000.25 + seq, "kWh"))
    return PollResult(
        site="plant1",
        device=device,
        device_kind="power_meter",
        profile="eastron/sdm630",
        ts=1_700_000_000.0 + seq if ts is None else ts,
        seq=seq,
        readings=tuple(readings),
    )


NOW = 1_700_000_100.0


def make_box(path: Path, sinks: list[str], **kwargs: object) -> Outbox:
    """An outbox whose clock sits just after the test polls (so the age bound keeps them)."""
    kwargs.setdefault("clock", lambda: NOW)
    return Outbox(path, sinks, **kwargs)  # type: ignore[arg-type]


def test_codec_round_trips_every_value_type_and_metadata() -> None:
    result = PollResult(
        site="s",
        device="d",
        device_kind="compressor",
        profile="generic/vsd",
        ts=1.5,
        seq=7,
        readings=(
            Reading("p", 1.0, "kW"),
            Reading("n", 3, ""),
            Reading("b", True),
            Reading("s", "x"),
            Reading("none", None, "", "bad", "timeout"),
            Reading("nan", math.inf, "", "bad", "non_finite"),
        ),
        status="partial",
        error="unit 3 timeout",
        area="hall-a",
        requested_at=1.6,
        latency_ms=12.5,
        tags={"line": "l1"},
    )
    back = decode_result(encode_result(result))
    assert back == result
    assert [type(r.value) for r in back.readings] == [float, int, bool, str, type(None), float]


def test_counter_priority_follows_energy_units() -> None:
    assert carries_counter(poll(1, counter=True))
    assert not carries_counter(poll(1))


def test_each_sink_reads_after_its_own_cursor_and_rows_are_pruned_when_all_passed(tmp_path: Path) -> None:
    box = make_box(tmp_path / "o.db", ["mqtt", "influx"])
    last = box.put_many([poll(i) for i in range(1, 11)])
    assert last == 10
    box.ack("mqtt", 10)
    assert box.read_after("mqtt", 100) == []
    assert [r.result.seq for r in box.read_after("influx", 3)] == [1, 2, 3]
    box.ack("influx", 4)
    assert box.stats().rows == 6  # rows 1..4 passed by both cursors are gone
    box.ack("influx", 2)  # a late, smaller ack never moves a cursor back
    assert box.read_after("influx", 1)[0].id == 5


def test_from_config_uses_the_store_directory_and_bounds(tmp_path: Path) -> None:
    config = LocalStoreSink(path=tmp_path / "store", max_bytes=5 * 1024**2, max_age_days=2)
    box = Outbox.from_config(config, ["mqtt"])
    assert (box.path, box.max_bytes, box.max_age_s) == (tmp_path / "store" / "outbox.db", 5 * 1024**2, 172800)


def test_unknown_sink_is_an_error_naming_the_file(tmp_path: Path) -> None:
    box = make_box(tmp_path / "o.db", ["mqtt"])
    with pytest.raises(SinkError, match=r"o\.db.*'influx'"):
        box.read_after("influx", 1)


def test_reopen_resumes_at_the_cursor_with_original_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make_box(path, ["mqtt"])
    box.put_many([poll(i) for i in range(1, 6)])
    box.ack("mqtt", 2)
    box.close()
    again = make_box(path, ["mqtt"])
    rows = again.read_after("mqtt", 10)
    assert [r.result.seq for r in rows] == [3, 4, 5]
    assert [r.result.ts for r in rows] == [1_700_000_003.0, 1_700_000_004.0, 1_700_000_005.0]


def test_a_sink_removed_from_the_config_does_not_keep_rows_alive(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make_box(path, ["mqtt", "influx"])
    box.put_many([poll(1)])
    box.ack("mqtt", 1)
    box.close()
    assert make_box(path, ["mqtt"]).stats().rows == 0


def test_when_full_gauge_rows_go_first_and_drops_are_counted_per_unacked_sink(tmp_path: Path) -> None:
    # 500 kB: room for every counter row once the WAL's and its index's share are set aside.
    box = make_box(tmp_path / "o.db", ["mqtt", "influx"], max_bytes=500_000)
    box.put_many([poll(i, counter=(i % 10 == 0)) for i in range(1, 501)])
    box.ack("mqtt", 500)
    for start in range(501, 9001, 500):
        box.put_many([poll(i, counter=(i % 10 == 0)) for i in range(start, start + 500)])
    stats = box.stats()
    assert stats.bytes_used <= box.max_bytes
    kept = box.read_after("influx", 100_000)
    kept_counters = {r.result.seq for r in kept if r.result.seq % 10 == 0}
    assert kept_counters == set(range(10, 9001, 10)), "no counter row may go while gauge rows remain"
    dropped_total = 9000 - len(kept)
    by_sink = {s.sink: s.dropped for s in stats.sinks}
    assert by_sink["influx"] == dropped_total
    assert by_sink["mqtt"] == dropped_total - sum(1 for i in range(1, 501) if i % 10)  # acked gauges
    assert by_sink["mqtt"] < by_sink["influx"]


def test_counter_rows_are_dropped_only_when_nothing_else_is_left(tmp_path: Path) -> None:
    box = make_box(tmp_path / "o.db", ["influx"], max_bytes=200_000)
    for start in range(1, 6001, 500):
        box.put_many([poll(i, counter=True) for i in range(start, start + 500)])
    kept = [r.result.seq for r in box.read_after("influx", 100_000)]
    assert kept == list(range(6001 - len(kept), 6001)), "the oldest counter rows go first"
    assert box.stats().sinks[0].dropped == 6000 - len(kept) > 0


def test_rows_older_than_the_age_bound_are_dropped_and_counted(tmp_path: Path) -> None:
    now = [2_000_000.0]
    box = Outbox(tmp_path / "o.db", ["mqtt"], max_age_s=3600, clock=lambda: now[0])
    box.put_many([poll(i, ts=now[0] - 7200 + i) for i in range(3)] + [poll(9, ts=now[0])])
    assert box.enforce_bounds() == 0, "the put already applied the bound"
    stats = box.stats()
    assert stats.rows == 1
    assert stats.sinks[0].dropped == 3


def test_stats_report_lag_in_rows_and_seconds(tmp_path: Path) -> None:
    box = make_box(tmp_path / "o.db", ["mqtt"])
    box.put_many([poll(i) for i in range(1, 5)])
    box.ack("mqtt", 1)
    (sink,) = box.stats().sinks
    assert (sink.lag_rows, sink.lag_s, sink.cursor) == (3, 98.0, 1)


class ScriptedSink:
    """A sink at the seam: confirms rows unless told to fail, and records what it was sent."""

    name = "test"

    def __init__(self) -> None:
        self.failures_left = 0
        self.reject_seqs: set[int] = set()
        self.received: list[int] = []

    async def deliver(self, rows: Sequence[OutboxRow]) -> Delivery:
        error = None
        if self.failures_left:
            self.failures_left -= 1
            rows, error = rows[: len(rows) // 2], "link down"
        rejected = sum(1 for r in rows if r.result.seq in self.reject_seqs)
        self.received += [r.result.seq for r in rows if r.result.seq not in self.reject_seqs]
        return Delivery(acked_through=rows[-1].id if rows else None, rejected=rejected, error=error)


async def test_forwarder_resends_after_failures_without_gaps_and_counts_rejects(tmp_path: Path) -> None:
    outbox = AsyncOutbox(make_box(tmp_path / "o.db", ["test"]))
    sink = ScriptedSink()
    sink.failures_left = 3
    sink.reject_seqs = {7}
    forwarder = Forwarder(outbox, sink, batch_rows=8, backoff=Backoff(initial_s=0.001, max_s=0.004))
    task = asyncio.create_task(forwarder.run())
    try:
        await outbox.put_many([poll(i) for i in range(1, 41)])
        await asyncio.wait_for(forwarder.wait_idle(), timeout=10)
    finally:
        task.cancel()
    assert sink.received == [i for i in range(1, 41) if i != 7]
    stats = await forwarder.stats()
    assert (stats.retried, stats.dropped, stats.lag_rows, stats.acked) == (3, 1, 0, 39)


class FailingReads(AsyncOutbox):
    """The outbox at the forwarder's seam, whose first reads fail as a broken store's would."""

    def __init__(self, outbox: Outbox, failures: int) -> None:
        super().__init__(outbox)
        self.failures_left = failures

    async def read_after(self, sink: str, limit: int) -> list[OutboxRow]:
        if self.failures_left:
            self.failures_left -= 1
            raise SinkError("outbox o.db: cannot read: disk I/O error")
        return await super().read_after(sink, limit)


async def test_a_failing_outbox_read_backs_the_forwarder_off_instead_of_ending_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = FailingReads(make_box(tmp_path / "o.db", ["test"]), failures=3)
    sink = ScriptedSink()
    forwarder = Forwarder(outbox, sink, backoff=Backoff(initial_s=0.001, max_s=0.004))
    task = asyncio.create_task(forwarder.run())
    try:
        await outbox.put_many([poll(i) for i in range(1, 11)])
        await asyncio.wait_for(forwarder.wait_idle(), timeout=10)
    finally:
        task.cancel()
    assert sink.received == list(range(1, 11))
    assert forwarder.retried == 3
    failing = [r.getMessage() for r in caplog.records if "delivery failing" in r.getMessage()]
    assert failing == [
        "sink test: delivery failing, will retry: outbox: outbox o.db: cannot read: disk I/O error"
    ]


def test_backoff_is_exponential_capped_and_jittered() -> None:
    backoff = Backoff(initial_s=1, max_s=8, rand=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    low = Backoff(initial_s=1, max_s=8, rand=lambda: 0.0)
    assert low.next_delay() == 0.5


def files_on_disk(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name)}


def test_the_size_bound_covers_the_wal_and_its_index_after_every_batch(tmp_path: Path) -> None:
    # No sink confirms anything: 20,000 polls into a 1 MiB bound (before the WAL was counted, this
    # left 5.6 MB on disk: a 4.4 MB WAL beside a 1.2 MB database).
    path = tmp_path / "o.db"
    box = make_box(path, ["mqtt"], max_bytes=1024**2)
    assert box.wal_budget + box.row_budget < box.max_bytes
    for start in range(1, 20_001, 500):
        box.put_many([poll(i, counter=True) for i in range(start, start + 500)])
        files = files_on_disk(path)
        assert sum(files.values()) <= box.max_bytes, files
        assert files.get("o.db-wal", 0) <= box.wal_budget, files
        assert box.stats().bytes_used == sum(files.values())
    kept = [r.result.seq for r in box.read_after("mqtt", 100_000)]
    assert kept == list(range(20_001 - len(kept), 20_001)), "the newest rows stay, in order"
    assert box.stats().sinks[0].dropped == 20_000 - len(kept) > 15_000


def test_a_lowered_bound_gives_the_space_back_to_the_file_system(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = make_box(path, ["mqtt"], max_bytes=8 * 1024**2)
    for start in range(1, 20_001, 1000):
        box.put_many([poll(i) for i in range(start, start + 1000)])
    box.close()
    assert sum(files_on_disk(path).values()) > 3 * 1024**2
    smaller = make_box(path, ["mqtt"], max_bytes=1024**2)
    smaller.put_many([poll(20_001)])
    assert sum(files_on_disk(path).values()) <= 1024**2
    assert smaller.read_after("mqtt", 100_000)[-1].result.seq == 20_001
