"""`energy-agent run` as a process through sink outages and its own crash, on real services.

Simulated factory -> agent (a subprocess, `python -m agent.cli run SITE`) -> real Mosquitto and a
real VictoriaMetrics. The broker and the database are frozen (SIGSTOP: the uplink hangs), killed
and restarted on the same ports; the agent is killed with SIGKILL while they are down.

What the tests prove:
- outage: every seq of every device from the first poll to the last arrives over MQTT (resends are
  identical), each database series holds one value per timestamp, and every poll taken while the
  sinks were down reaches the database;
- crash: every poll the agent had committed to its outbox before `kill -9` and not yet delivered
  is delivered by the restarted agent, to both sinks. The poller's seq lives in memory, so the
  restarted agent starts a new run at seq 0; `boot` (the agent's start time, in every telemetry
  message) tells a consumer a restart from a gap.

The restarted broker first admits only the test's subscriber: a broker killed with -9 keeps no
sessions, and messages published before the subscriber is back would be dropped by the broker,
not by the agent. The database may lose the last unflushed second it acknowledged before a kill
-9 (its own buffer), so completeness in the database is asserted for what was polled after the
sinks went down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.outbox.codec import decode_result
from tests.integration.conftest import StartFactory
from tests.integration.services import Mosquitto, VictoriaMetrics
from tests.integration.test_delivery_mqtt import Collector, running
from tests.scenarios import live_scenario

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]
SITE = "outage-test"
PREFIX = "ot"
TOPIC = f"{PREFIX}/{SITE}/+/telemetry"
WATCHER = ("watcher", "w")
AGENT_USER = ("agent", "agent-pw")
DEVICES = 40
INTERVAL_S = 0.2


def site_yaml(tmp_path: Path, meters_port: int, broker: Mosquitto, influx_url: str) -> Path:
    devices = [
        {
            "name": f"meter_{i:02d}",
            "bus": "meters",
            "unit_id": 1 + i % 2,  # two simulated meters, each polled under several names
            "profile": "eastron/sdm630",
            "interval_s": INTERVAL_S,
        }
        for i in range(DEVICES)
    ]
    config: dict[str, Any] = {
        "site": {"name": SITE, "timezone": "Asia/Shanghai"},
        "buses": [
            {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": meters_port, "timeout_s": 0.15}
        ],
        "devices": devices,
        "sinks": {
            "mqtt": {
                "host": "127.0.0.1",
                "port": broker.port,
                "prefix": PREFIX,
                "username": AGENT_USER[0],
                "password": "${OUTAGE_MQTT_PASSWORD}",
            },
            "influxdb": {"url": influx_url, "org": "o", "bucket": "b", "token": "t"},
            "local_store": {"path": "store"},
        },
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class AgentProcess:
    """`python -m agent.cli run SITE` with its log in a file (a pipe nobody reads would fill)."""

    def __init__(self, site: Path, log: Path, env: dict[str, str]) -> None:
        self.site, self.log, self.env = site, log, env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> AgentProcess:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agent.cli", "run", str(self.site),
                cwd=ROOT, stdout=out, stderr=out, env={**os.environ, **self.env},
            )  # fmt: skip
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self, sig: int = signal.SIGTERM, within_s: float = 20) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), within_s)

    async def ensure_stopped(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()


@contextlib.asynccontextmanager
async def agent_process(site: Path, log: Path, env: dict[str, str]) -> AsyncIterator[AgentProcess]:
    agent = await AgentProcess(site, log, env).start()
    try:
        yield agent
    finally:
        await agent.ensure_stopped()


async def wait_until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Pending:
    """A row of the outbox file that a sink had not confirmed."""

    device: str
    seq: int
    ts: float
    body: str


def read_outbox(path: Path) -> tuple[int, dict[str, int], list[tuple[int, str]]]:
    """(highest row id, cursor per sink, [(id, body)]) from a read-only connection."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, body FROM rows ORDER BY id").fetchall()
        cursors = dict(db.execute("SELECT sink, last_id FROM cursors").fetchall())
        top = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'rows'").fetchone()
    finally:
        db.close()
    return (int(top[0]) if top else 0), cursors, rows


def pending_for(path: Path, sink: str) -> list[Pending]:
    _, cursors, rows = read_outbox(path)
    out = []
    for row_id, body in rows:
        if row_id > cursors.get(sink, 0):
            result = decode_result(body)
            out.append(Pending(result.device, result.seq, result.ts, body))
    return out


def lag(path: Path) -> int:
    """Rows the slowest sink has not confirmed (cheap: no bodies read)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (behind,) = db.execute(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'rows'), 0)"
            " - coalesce((SELECT min(last_id) FROM cursors), 0)"
        ).fetchone()
    finally:
        db.close()
    return int(behind)


class Sinks:
    """The broker and the database of one test, restartable on the same ports."""

    def __init__(self, tmp_path: Path) -> None:
        users = dict([WATCHER, AGENT_USER])
        self.broker = Mosquitto(tmp_path / "broker", users=users).start()
        self.db = VictoriaMetrics(tmp_path / "victoria").start()
        self.collector = Collector(self.broker.port, TOPIC, auth=WATCHER)

    def go_down(self) -> None:
        self.broker.freeze()  # the uplink hangs first: requests wait, nothing is confirmed
        self.db.freeze()

    def kill(self) -> None:
        self.broker.kill()
        self.db.kill()

    async def come_back(self) -> None:
        self.db.start()  # same port, same storage directory
        self.broker.users = dict([WATCHER])
        before = self.collector.subscriptions
        self.broker.start()
        await wait_until(lambda: self.collector.subscriptions > before, 10, "the subscriber to return")
        self.broker.write_users(dict([WATCHER, AGENT_USER]))
        self.broker.reload()

    def stop(self) -> None:
        self.broker.kill()
        self.db.kill()


@pytest.fixture
def sinks(tmp_path: Path) -> Any:
    started = Sinks(tmp_path)
    yield started
    started.stop()


def by_device(docs: list[dict[str, Any]], boot: float | None = None) -> dict[str, dict[int, dict[str, Any]]]:
    """{device: {seq: doc}} for one boot (all boots when None); a resend must be identical."""
    out: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for doc in docs:
        if boot is not None and doc["boot"] != boot:
            continue
        first = out[doc["device"]].setdefault(doc["seq"], doc)
        assert first == doc, f"{doc['device']} seq {doc['seq']}: a resend differs from the first copy"
    return out


def stored_timestamps(db: VictoriaMetrics) -> dict[str, list[int]]:
    """{device: timestamps (ms)} of one counter series per device, duplicates kept."""
    exported = db.export(f'{{__name__="power_meter_total_import_kwh",site="{SITE}"}}')
    out: dict[str, list[int]] = defaultdict(list)
    for series in exported:
        out[series["metric"]["device"]].extend(series["timestamps"])
    return out


def good_energy(doc: dict[str, Any]) -> bool:
    """Only good values are written to the database (docs/influxdb.md)."""
    return bool(doc["points"]["total_import_kwh"]["q"] == "good")


def assert_no_duplicates(db: VictoriaMetrics) -> int:
    series = db.export(f'{{site="{SITE}"}}')
    assert series, "nothing reached the database"
    samples = 0
    for item in series:
        repeated = [ts for ts, n in Counter(item["timestamps"]).items() if n > 1]
        assert not repeated, f"{item['metric']}: {len(repeated)} timestamps stored twice"
        samples += len(item["timestamps"])
    return samples


ENV = {"OUTAGE_MQTT_PASSWORD": AGENT_USER[1]}


async def test_sinks_down_and_back_nothing_missing_over_mqtt_nothing_doubled_in_the_database(
    start_factory: StartFactory, sinks: Sinks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    factory = await start_factory(live_scenario("tiny"))
    site = site_yaml(tmp_path, factory.bus("meters").port, sinks.broker, sinks.db.url)
    outbox = tmp_path / "store" / "outbox.db"
    collector = sinks.collector
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        async with agent_process(site, tmp_path / "agent.log", ENV) as agent:
            started = time.monotonic()
            await wait_until(lambda: len(collector.docs) >= 5 * DEVICES or not agent.alive, 20, "telemetry")
            assert agent.alive, (tmp_path / "agent.log").read_text()[-3000:]
            down_at = time.time()
            sinks.go_down()
            await asyncio.sleep(2)
            sinks.kill()
            await asyncio.sleep(4)
            assert agent.alive, "the agent must keep running while its sinks are down"
            backlog = lag(outbox)
            returned = time.monotonic()
            await sinks.come_back()
            before = len(collector.docs)
            await wait_until(lambda: len(collector.docs) > before, 30, "delivery to resume")
            resumed, before = time.monotonic(), len(collector.docs)
            await wait_until(lambda: lag(outbox) < DEVICES, 30, "the backlog to drain")
            drained, replayed = time.monotonic(), len(collector.docs) - before
            assert await agent.stop() == 0, (tmp_path / "agent.log").read_text()[-3000:]
            finished = time.monotonic()
        await asyncio.sleep(0.5)  # the last PUBLISHes on their way to the subscriber

    top, cursors, _ = read_outbox(outbox)
    assert cursors == {"mqtt": top, "influxdb": top}, "a clean stop drains the outbox to every sink"
    assert len({doc["boot"] for doc in collector.docs}) == 1, "one agent start, one boot"
    seen = by_device(collector.docs)
    assert sorted(seen) == [f"meter_{i:02d}" for i in range(DEVICES)]
    for device, docs in seen.items():
        assert sorted(docs) == list(range(len(docs))), f"{device}: seqs missing"
    assert sum(len(d) for d in seen.values()) == top, "every accepted poll arrived over MQTT"

    samples = assert_no_duplicates(sinks.db)
    stored = stored_timestamps(sinks.db)
    for device, docs in seen.items():
        during = {round(d["ts"] * 1000) for d in docs.values() if d["ts"] >= down_at and good_energy(d)}
        assert during, f"{device}: no poll during the outage"
        assert during <= set(stored[device]), f"{device}: polls taken while the database was down are missing"

    with capsys.disabled():
        print(
            f"\noutage: {top} polls over {finished - started:.1f} s ({samples} samples in the database); "
            f"backlog {backlog} rows when the sinks returned; delivery resumed {resumed - returned:.1f} s "
            f"later (backoff) and {replayed} rows arrived in {drained - resumed:.2f} s "
            f"({replayed / (drained - resumed):.0f} rows/s over MQTT, the database alongside)"
        )


async def test_agent_killed_during_an_outage_delivers_everything_it_had_accepted_after_a_restart(
    start_factory: StartFactory, sinks: Sinks, tmp_path: Path
) -> None:
    factory = await start_factory(live_scenario("tiny"))
    site = site_yaml(tmp_path, factory.bus("meters").port, sinks.broker, sinks.db.url)
    outbox = tmp_path / "store" / "outbox.db"
    collector = sinks.collector
    async with running(collector.run()):
        await asyncio.wait_for(collector.subscribed.wait(), 10)
        async with agent_process(site, tmp_path / "first.log", ENV) as first:
            await wait_until(lambda: len(collector.docs) >= 2 * DEVICES or not first.alive, 20, "telemetry")
            sinks.go_down()
            await asyncio.sleep(1)
            sinks.kill()
            await asyncio.sleep(2)
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        unsent = {sink: pending_for(outbox, sink) for sink in ("mqtt", "influxdb")}
        assert len(unsent["mqtt"]) >= DEVICES, "the outage should have left a backlog"
        async with agent_process(site, tmp_path / "second.log", ENV) as second:
            await asyncio.sleep(1.5)  # the new run polls into the outbox while the sinks are still down
            await sinks.come_back()
            await wait_until(lambda: lag(outbox) < DEVICES, 30, "the backlog to drain")
            assert await second.stop() == 0, (tmp_path / "second.log").read_text()[-3000:]
        await asyncio.sleep(0.5)

    docs = collector.docs
    boots = list(dict.fromkeys(doc["boot"] for doc in docs))
    assert len(boots) == 2, f"two agent starts: {boots}"
    assert boots[0] < boots[1], "boots in start order"
    arrived = {(d["boot"], d["device"], d["seq"]): d for d in docs}
    for row in unsent["mqtt"]:
        doc = arrived.get((boots[0], row.device, row.seq))
        assert doc is not None, f"{row.device} seq {row.seq}: accepted before the kill, never delivered"
        assert doc["ts"] == row.ts
    for boot in boots:  # each run complete from its seq 0 to its last accepted poll
        for device, seqs in by_device(docs, boot).items():
            assert sorted(seqs) == list(range(len(seqs))), f"boot {boot} {device}: seqs missing"
    first_seen = {
        key: index for index, key in reversed(list(enumerate((d["boot"], d["device"]) for d in docs)))
    }
    last_old = max(i for i, d in enumerate(docs) if d["boot"] == boots[0])
    assert all(i > last_old for (boot, _), i in first_seen.items() if boot == boots[1]), (
        "the old run's backlog goes out before the new run's polls (outbox order)"
    )

    assert_no_duplicates(sinks.db)
    stored = stored_timestamps(sinks.db)
    for row in unsent["influxdb"]:
        doc = arrived[(boots[0], row.device, row.seq)]
        if good_energy(doc):
            assert round(row.ts * 1000) in set(stored[row.device]), f"{row.device} seq {row.seq}: not stored"
