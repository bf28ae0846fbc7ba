"""The production `Output`: poll results into the durable outbox, one forwarder per sink, interval
energy and the live recorder's series (production, compressor hours, air, pressure, temperature:
`agent/runtime/recorder.py`) into the history store from its worker thread, device status to MQTT,
and the latest poll per device for the dashboard.

Acceptance: `put` buffers a result; a flusher commits the buffer to the outbox every
`flush_interval_s` (or sooner when `max_batch` results wait), one SQLite transaction per batch, so
a gateway polling a thousand devices a second does one fsync per batch, not per poll. A result is
*accepted* once that commit returns; `flush()` (called on SIGTERM) commits whatever is buffered, so
a clean stop loses nothing, and a power cut loses at most one flush interval of readings that were
never acknowledged to anyone.

The buffer and the commits are `agent.outbox.Intake`: on a full disk acceptance pauses (one ERROR
line), polls are held in memory (bounded: `max_held` polls, `max_held_bytes` estimated bytes; the
oldest go first when it overflows) and committed in order once the disk has room again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from agent.config.loader import store_dir
from agent.config.registry import ProfileRegistry
from agent.config.site import SiteConfig
from agent.history.store import EnergyRow
from agent.outbox import AsyncOutbox, Forwarder, Intake, Outbox, Sink
from agent.readings.intervals import IntervalEnergy
from agent.readings.model import PollResult
from agent.runtime.output import StatusEvent
from agent.runtime.recorder import HistoryWriter, LiveRecorder, series_rows
from agent.sinks.influx import InfluxPublisher
from agent.sinks.mqtt import MqttPublisher

__all__ = ["Delivery", "store_dir"]

log = logging.getLogger(__name__)


class Delivery:
    """Implements the runtime's `Output`. Run `run()` beside the agent; `close()` after it."""

    def __init__(
        self,
        config: SiteConfig,
        directory: Path,
        *,
        flush_interval_s: float = 0.2,
        max_batch: int = 2000,
        max_held: int = 200_000,
        max_held_bytes: int = 64 * 1024**2,
        drain_timeout_s: float = 5.0,
        registry: ProfileRegistry | None = None,
    ) -> None:
        self.config = config
        self.directory = directory
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.drain_timeout_s = drain_timeout_s
        directory.mkdir(parents=True, exist_ok=True)
        self.history = HistoryWriter(directory / "history.db")
        # `registry`: the loaded config's (with its extra profile dirs); default: shipped profiles only.
        self.recorder = LiveRecorder(config, (registry or ProfileRegistry()).get)
        self.latest: dict[str, PollResult] = {}
        sinks = config.sinks
        self.mqtt = MqttPublisher(sinks.mqtt, config.site.name) if sinks.mqtt and sinks.mqtt.enabled else None
        self.influx = InfluxPublisher(sinks.influxdb) if sinks.influxdb and sinks.influxdb.enabled else None
        self.sinks: list[Sink] = [s for s in (self.mqtt, self.influx) if s is not None]
        self.outbox: AsyncOutbox | None = None
        self.forwarders: list[Forwarder] = []
        if self.sinks:
            store = sinks.local_store
            self.outbox = AsyncOutbox(
                Outbox(
                    directory / "outbox.db",
                    [s.name for s in self.sinks],
                    max_bytes=store.max_bytes,
                    max_age_s=store.max_age_days * 86400,
                )
            )
            self.forwarders = [Forwarder(self.outbox, sink) for sink in self.sinks]
        self.intake = (
            Intake(self.outbox, max_batch=max_batch, max_held=max_held, max_held_bytes=max_held_bytes)
            if self.outbox is not None
            else None
        )
        self._due = asyncio.Event()
        self._accepted_without_outbox = 0

    @property
    def accepted(self) -> int:
        """Polls accepted: committed to the outbox (or taken, when no sink needs one)."""
        return self.intake.accepted if self.intake is not None else self._accepted_without_outbox

    # --- Output -------------------------------------------------------------------------------

    async def put(self, result: PollResult) -> None:
        self.latest[result.device] = result
        closed = self.recorder.feed(result)
        if closed:
            await self.history.write(series=series_rows(closed))
        if self.intake is None:
            self._accepted_without_outbox += 1
            return
        if self.intake.hold(result):
            self._due.set()

    async def record(self, result: PollResult) -> None:
        """A record that is not a poll (the sequencer's cycle, `agent.runtime.control`): into the
        outbox like a poll, so it reaches every sink and survives an outage, but not into the
        dashboard's latest values or the history series."""
        if self.intake is not None and self.intake.hold(result):
            self._due.set()

    async def status(self, event: StatusEvent) -> None:
        if self.mqtt is not None:
            await self.mqtt.publish_device_status(
                event.device, event.state == "online", event.reason, event.ts
            )

    async def interval(self, record: IntervalEnergy) -> None:
        row = EnergyRow(
            device=record.device,
            start=int(record.start),
            seconds=int(record.end - record.start),
            kwh=record.kwh,
            method=record.method,
            quality="good" if record.quality in ("good", "integrated") else "stale",
            completeness=record.completeness,
        )
        await self.history.write(energy=[row])  # SQLite in the writer's thread, never on the loop

    async def flush(self) -> None:
        await self._commit(force=True)
        await self.history.drain()

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush periodically and drive the forwarders until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for forwarder in self.forwarders:
                tg.create_task(forwarder.run(), name=f"forward-{forwarder.sink.name}")
            tg.create_task(self._flush_loop(), name="outbox-flush")

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), timeout=self.flush_interval_s)
            self._due.clear()
            await self._commit()

    async def _commit(self, *, force: bool = False) -> None:
        if self.intake is not None:
            await self.intake.commit(force=force)

    async def drain(self) -> bool:
        """Wait (bounded) until every sink confirmed what is stored; True if all caught up."""
        await self._commit(force=True)
        try:
            async with asyncio.timeout(self.drain_timeout_s):
                for forwarder in self.forwarders:
                    await forwarder.wait_idle()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self.intake is not None:
            await self.intake.commit(force=True)
            self.intake.abandon()  # logs what a disk full until the stop kept from the outbox
        if self.mqtt is not None:
            await self.mqtt.close()
        if self.outbox is not None:
            await self.outbox.close()
        await self.history.close()
