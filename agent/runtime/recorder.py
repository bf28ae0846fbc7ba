"""The live recorder: poll results become the history series the analytics read, written off the loop.

`LiveRecorder` plans, once per device, which polled points feed which series (names from
`agent/mv/series.py`), from the profiles' point roles and the site config:

- `analytics.production.sources` -> the production series (`analytics.production.column`), each
  counter converted by its factor, several sources summed;
- `analytics.temperature` -> `temperature_c` (interval mean);
- every polled device whose profile has compressor roles -> `{device}.loaded_h`, `.running_h` (hour
  counters, else the state point), `.air_m3` (totaliser, else the integrated flow rate),
  `.pressure_bar` (mean) and `.pressure_min_bar` (lowest sample);
- the first polled point with role header_pressure -> `air.header_pressure_bar` (mean) and
  `air.header_pressure_min_bar` (lowest sample).

It is fed every `PollResult` (failed ones too, so buckets close while a device is down) and returns
the buckets that closed, at the site's interval (`analytics.interval_minutes`, aligned like interval
energy). `HistoryWriter` owns the SQLite history store in one worker thread: the event loop hands it
rows and goes on; at most `max_pending` batches wait, after that the caller waits (backpressure,
never an unbounded queue). A failed write is logged once, kept and retried with the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.config.profile import NumericPoint, Profile, Role, role_unit_factor
from agent.config.site import Device, SiteConfig
from agent.errors import AgentError
from agent.history.store import EnergyRow, HistoryStore, SeriesRow
from agent.mv.series import (
    HEADER_PRESSURE_MIN_SERIES,
    HEADER_PRESSURE_SERIES,
    TEMPERATURE_SERIES,
    compressor_series,
    production_series,
)
from agent.readings.counters import counter_limits
from agent.readings.model import PollResult
from agent.readings.recording import CounterSeries, GaugeSeries, SeriesInterval, StateSeries, combine
from agent.runtime.logfmt import log_event

__all__ = ["HistoryWriter", "LiveRecorder"]

log = logging.getLogger("agent.recorder")

# A counter reading the poller judged bad only by its own counter tracking still has a sound value:
# this tracker must see it too to reach the same verdict (a drop that turns out to be a reset).
_COUNTER_VERDICTS = frozenset({"counter_drop", "glitch"})
_MAX_RETRY_ROWS = 100_000

_Accumulator = CounterSeries | GaugeSeries | StateSeries


@dataclass(frozen=True, slots=True)
class _Feed:
    point: str
    kind: Literal["counter", "gauge"]
    accumulator: _Accumulator


class LiveRecorder:
    """Turns poll results into closed interval series rows (pure bookkeeping, no I/O)."""

    def __init__(self, config: SiteConfig, profiles: Callable[[str], Profile]) -> None:
        self.bucket_s = float(config.analytics.interval_minutes * 60)
        self._plans: dict[str, list[_Feed]] = {}
        self._sources: dict[str, int] = {}  # series name -> how many sources add up to it
        self._waiting: dict[tuple[str, float], list[SeriesInterval]] = {}
        devices = {d.name: d for d in config.devices if d.enabled}
        found: dict[str, Profile] = {}
        for device in devices.values():
            try:
                found[device.name] = profiles(device.profile)
            except (KeyError, AgentError):
                log_event(
                    log, logging.WARNING, "recorder_no_profile", device=device.name, profile=device.profile
                )
        for device in devices.values():
            if device.name in found:
                self._plan_compressor(device, found[device.name])
        self._plan_header(devices, found)
        self._plan_production(config, devices, found)
        self._plan_temperature(config, devices, found)

    def _plan_production(
        self, config: SiteConfig, devices: dict[str, Device], found: dict[str, Profile]
    ) -> None:
        name = production_series(config)
        for source in config.analytics.production.sources:
            device, profile = devices.get(source.device), found.get(source.device)
            if device is None or profile is None:
                continue
            point = self._resolve(profile, source.point, Role.PRODUCTION)
            if point is None or not _polled(device, profile, point.name):
                continue
            limits = counter_limits(point, device.rated_power_kw)
            self._add(
                device.name, point.name, "counter", CounterSeries(name, limits, source.factor, self.bucket_s)
            )
            self._sources[name] = self._sources.get(name, 0) + 1

    def _plan_temperature(
        self, config: SiteConfig, devices: dict[str, Device], found: dict[str, Profile]
    ) -> None:
        source = config.analytics.temperature
        if source is None or source.device not in found or source.device not in devices:
            return
        device, profile = devices[source.device], found[source.device]
        point = self._resolve(profile, source.point, Role.OUTDOOR_TEMPERATURE)
        if point is None or not _polled(device, profile, point.name):
            return
        factor = role_unit_factor(Role.OUTDOOR_TEMPERATURE, point.unit) or 1.0
        self._add(
            device.name, point.name, "gauge", GaugeSeries(TEMPERATURE_SERIES, self.bucket_s, factor=factor)
        )

    def _plan_header(self, devices: dict[str, Device], found: dict[str, Profile]) -> None:
        """The first polled point with role header_pressure: the air room's header pressure."""
        for device in devices.values():
            profile = found.get(device.name)
            point = profile.role_point(Role.HEADER_PRESSURE) if profile is not None else None
            if profile is None or point is None or not _polled(device, profile, point.name):
                continue
            factor = role_unit_factor(Role.HEADER_PRESSURE, point.unit) or 1.0
            acc = GaugeSeries(
                HEADER_PRESSURE_SERIES, self.bucket_s, factor=factor, min_name=HEADER_PRESSURE_MIN_SERIES
            )
            self._add(device.name, point.name, "gauge", acc)
            return

    @property
    def devices(self) -> list[str]:
        """Devices with at least one recorded point."""
        return sorted(self._plans)

    def series_of(self, device: str) -> list[str]:
        """Which point feeds which series for `device` ("point -> series" strings, for logs and tests)."""
        out = []
        for feed in self._plans.get(device, []):
            acc = feed.accumulator
            names = ([acc.loaded_name, acc.running_name] if isinstance(acc, StateSeries) else [acc.name]) + (
                [acc.min_name] if isinstance(acc, GaugeSeries) and acc.min_name else []
            )
            out += [f"{feed.point} -> {n}" for n in names if n is not None]
        return out

    def feed(self, result: PollResult) -> list[SeriesInterval]:
        """Take one poll's readings; return every bucket that closed with it."""
        plan = self._plans.get(result.device)
        if plan is None:
            return []
        readings, ts = result.readings, result.ts
        points = readings.points
        closed: list[SeriesInterval] = []
        for feed in plan:
            acc = feed.accumulator
            try:
                i = points.index(feed.point)
            except ValueError:
                i = -1
            value = readings.values[i] if i >= 0 else None
            number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            quality = readings.quality(i) if i >= 0 else "bad"
            if feed.kind == "counter":
                if number and (quality == "good" or readings.reason(i) in _COUNTER_VERDICTS):
                    acc.add(ts, float(value))  # type: ignore[arg-type]  # a number, checked above
            elif number and quality == "good":
                acc.add(ts, float(value))  # type: ignore[arg-type]
            elif not isinstance(acc, CounterSeries):
                acc.gap()
            closed += acc.close_until(ts)
        return self._combined(closed)

    def _combined(self, closed: list[SeriesInterval]) -> list[SeriesInterval]:
        out = []
        for interval in closed:
            expected = self._sources.get(interval.name, 1)
            if expected == 1:
                out.append(interval)
                continue
            parts = self._waiting.setdefault((interval.name, interval.start), [])
            parts.append(interval)
            if len(parts) == expected:
                del self._waiting[(interval.name, interval.start)]
                out.append(combine(parts))
        return out

    # -- planning ------------------------------------------------------------------------------

    def _add(self, device: str, point: str, kind: Literal["counter", "gauge"], acc: _Accumulator) -> None:
        self._plans.setdefault(device, []).append(_Feed(point, kind, acc))

    @staticmethod
    def _resolve(profile: Profile, name: str | None, role: Role) -> NumericPoint | None:
        if name is None:
            return profile.role_point(role)
        try:
            point = profile.point(name)  # `load_config` reports a missing one with file:line
        except KeyError:
            return None
        return point if isinstance(point, NumericPoint) else None

    def _plan_compressor(self, device: Device, profile: Profile) -> None:
        def polled(role: Role) -> NumericPoint | None:
            point = profile.role_point(role)
            return point if point is not None and _polled(device, profile, point.name) else None

        name, bucket_s = device.name, self.bucket_s
        state = polled(Role.COMPRESSOR_STATE)
        loaded, running = polled(Role.LOADED_HOURS), polled(Role.RUNNING_HOURS)
        for point, field in ((loaded, "loaded_h"), (running, "running_h")):
            if point is not None:
                factor = role_unit_factor(point.role or Role.LOADED_HOURS, point.unit) or 1.0
                limits = counter_limits(point, device.rated_power_kw)
                self._add(
                    name,
                    point.name,
                    "counter",
                    CounterSeries(compressor_series(name, field), limits, factor, bucket_s),
                )
        if state is not None and state.states is not None and (loaded is None or running is None):
            self._add(
                name,
                state.name,
                "gauge",
                StateSeries(
                    None if loaded is not None else compressor_series(name, "loaded_h"),
                    None if running is not None else compressor_series(name, "running_h"),
                    frozenset(state.states.loaded),
                    frozenset(state.states.unloaded),
                    bucket_s,
                ),
            )
        total, flow = polled(Role.AIR_TOTAL), polled(Role.AIR_FLOW)
        if total is not None:
            factor = role_unit_factor(Role.AIR_TOTAL, total.unit) or 1.0
            limits = counter_limits(total, device.rated_power_kw)
            self._add(
                name,
                total.name,
                "counter",
                CounterSeries(compressor_series(name, "air_m3"), limits, factor, bucket_s),
            )
        elif flow is not None:
            per_s = (role_unit_factor(Role.AIR_FLOW, flow.unit) or 1.0) / 60.0  # m3/min -> m3/s
            acc = GaugeSeries(compressor_series(name, "air_m3"), bucket_s, mode="integral", factor=per_s)
            self._add(name, flow.name, "gauge", acc)
        pressure = polled(Role.DISCHARGE_PRESSURE)
        if pressure is not None:
            factor = role_unit_factor(Role.DISCHARGE_PRESSURE, pressure.unit) or 1.0
            acc = GaugeSeries(
                compressor_series(name, "pressure_bar"),
                bucket_s,
                factor=factor,
                min_name=compressor_series(name, "pressure_min_bar"),
            )
            self._add(name, pressure.name, "gauge", acc)


def _polled(device: Device, profile: Profile, point: str) -> bool:
    names = device.points if device.points is not None else [p.name for p in profile.points]
    return point in names


def series_rows(intervals: Sequence[SeriesInterval]) -> list[SeriesRow]:
    return [SeriesRow(i.name, int(i.start), i.value, i.quality, i.completeness) for i in intervals]


class HistoryWriter:
    """The history store, written from one worker thread; the event loop only hands rows over."""

    def __init__(
        self,
        path: Path,
        *,
        max_pending: int = 64,
        open_store: Callable[[Path], HistoryStore] = HistoryStore,
    ) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-writer")
        # Opened in the worker thread, which is the only one that ever touches it.
        self._store: HistoryStore = self._executor.submit(open_store, path).result()
        self._slots = asyncio.Semaphore(max_pending)
        self._pending: set[asyncio.Future[None]] = set()
        self._retry_energy: list[EnergyRow] = []
        self._retry_series: list[SeriesRow] = []
        self._failing = False
        self.written = 0  # rows committed (energy + series)

    async def write(self, energy: Sequence[EnergyRow] = (), series: Sequence[SeriesRow] = ()) -> None:
        """Queue rows for the worker; waits only while `max_pending` batches are already queued."""
        await self._slots.acquire()
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, self._write, list(energy), list(series)
        )
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[None]) -> None:
        self._pending.discard(future)
        self._slots.release()

    async def drain(self) -> None:
        """Wait until every queued batch has been written (or kept for retry)."""
        if self._pending:
            await asyncio.gather(*list(self._pending))

    async def close(self) -> None:
        await self.drain()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    # -- in the worker thread ------------------------------------------------------------------

    def _write(self, energy: list[EnergyRow], series: list[SeriesRow]) -> None:
        energy, series = self._retry_energy + energy, self._retry_series + series
        try:
            if energy:
                self._store.write_energy(energy)
            if series:
                self._store.write_series_rows(series)
        except (sqlite3.Error, OSError, AgentError) as exc:
            self._keep(energy, series)
            if not self._failing:
                self._failing = True
                log_event(log, logging.ERROR, "history_write_failed", path=str(self.path), detail=str(exc))
            return
        self._retry_energy, self._retry_series = [], []
        self.written += len(energy) + len(series)
        if self._failing:
            self._failing = False
            log_event(
                log,
                logging.INFO,
                "history_write_resumed",
                path=str(self.path),
                rows=len(energy) + len(series),
            )

    def _keep(self, energy: list[EnergyRow], series: list[SeriesRow]) -> None:
        dropped = max(0, len(energy) + len(series) - _MAX_RETRY_ROWS)
        if dropped:
            log_event(log, logging.ERROR, "history_rows_dropped", rows=dropped, reason="retry buffer full")
        self._retry_energy = energy[-_MAX_RETRY_ROWS:]
        self._retry_series = series[-max(0, _MAX_RETRY_ROWS - len(self._retry_energy)) :]

    def _close(self) -> None:
        if self._retry_energy or self._retry_series:
            self._write([], [])
        self._store.close()
