"""Outbox figures: enqueue rate, and replay rate into a real VictoriaMetrics after an outage.

    .venv/bin/python bench/bench_outbox.py [--polls 20000] [--points 50]

Enqueue: polls of `--points` readings stored in batches of 100 (one transaction each, synchronous=FULL).
Replay: the whole backlog (as after an outage) forwarded by one Forwarder + InfluxPublisher
(batches of 5,000 lines) into a VictoriaMetrics started on a free port; timed until the cursor
reaches the end, then the points are counted back through /api/v1/export.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config.site import InfluxSink
from agent.outbox import AsyncOutbox, Forwarder, Outbox
from agent.readings.model import PollResult, Reading
from agent.sinks.influx import InfluxPublisher
from tests.integration.services import VictoriaMetrics


def make_polls(count: int, points: int, devices: int = 20) -> list[PollResult]:
    t0 = float(int(time.time()) - 86400)
    return [
        PollResult(
            site="bench",
            device=f"meter{i % devices}",
            device_kind="power_meter",
            profile="eastron/sdm630",
            ts=t0 + (i // devices) * 1.0,
            seq=i // devices,
            readings=tuple(Reading(f"p{k}", 230.0 + k + (i % 97) / 10, "V") for k in range(points)),
            area="hall-a",
        )
        for i in range(count)
    ]


def bench_enqueue(box: Outbox, polls: list[PollResult], points: int) -> None:
    start = time.perf_counter()
    for i in range(0, len(polls), 100):
        box.put_many(polls[i : i + 100])
    elapsed = time.perf_counter() - start
    print(
        f"enqueue: {len(polls)} polls x {points} points in {elapsed:.2f} s = "
        f"{len(polls) / elapsed:,.0f} polls/s, {len(polls) * points / elapsed:,.0f} points/s "
        f"(batches of 100, synchronous=FULL)"
    )


async def bench_replay(path: Path, vm: VictoriaMetrics, count: int, points: int) -> None:
    outbox = AsyncOutbox(Outbox(path, ["influxdb"], max_age_s=7 * 86400))
    publisher = InfluxPublisher(InfluxSink(url=vm.url, batch_size=5000))
    forwarder = Forwarder(outbox, publisher, batch_rows=5000)
    start = time.perf_counter()
    task = asyncio.create_task(forwarder.run())
    await forwarder.wait_idle()
    elapsed = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    publisher.close()
    fields = points + 1  # + bad_points
    print(
        f"replay:  {count} polls ({count * fields:,} fields) into VictoriaMetrics in {elapsed:.2f} s = "
        f"{count / elapsed:,.0f} polls/s, {count * fields / elapsed:,.0f} points/s"
    )
    stored = sum(len(s["values"]) for s in vm.export('{site="bench"}'))
    print(f"check:   {stored:,} points read back (expected {count * fields:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=50)
    args = parser.parse_args()
    polls = make_polls(args.polls, args.points)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "outbox.db"
        bench_enqueue(Outbox(path, ["influxdb"], max_age_s=7 * 86400), polls, args.points)
        vm = VictoriaMetrics(Path(tmp) / "vm").start()
        try:
            asyncio.run(bench_replay(path, vm, args.polls, args.points))
        finally:
            vm.kill()


if __name__ == "__main__":
    main()
