"""Interval series from live readings: what the live recorder writes besides interval energy.

Pure: no I/O, no asyncio. Buckets are aligned to UTC epoch seconds exactly like interval energy
(`agent/readings/intervals.py`), so a production interval and an energy interval cover the same
quarter hour. Four ways to turn a point's readings into one value per bucket:

- `CounterSeries` (production, hour counters, air totaliser): good increments from a
  `CounterTracker` (rollover, reset and glitch handling), shared out over (since, ts] in proportion
  to time, times a unit factor. Nothing is created or dropped: the sum over buckets is the sum of
  increments. After an outage the increment that spans it lands in the first open bucket (its total
  is known, its distribution over the outage is not), as for interval energy.
- `GaugeSeries` in "mean" mode (pressure, temperature): the time-weighted mean of the samples
  (trapezoids between consecutive good samples no further apart than `max_gap_s`), and the lowest
  sample; in "integral" mode (an air-flow rate) the trapezoid integral instead.
- `StateSeries` (a compressor state point): each sample's state holds until the next sample (again
  within `max_gap_s`); loaded and running (loaded + unloaded) seconds become hours.

Every bucket reports its completeness (share of the bucket covered by good data) and a quality:
`good` when complete, `partial` when some of it is covered, `bad` when none is (a counter bucket
with nothing counted while the device was silent is written as 0, `bad`, so "no data" never reads as
"no production"). A gauge bucket without any sample is not written at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from agent.readings.counters import CounterLimits, CounterTracker
from agent.readings.intervals import COMPLETE, bucket_start

__all__ = [
    "CounterSeries",
    "GaugeSeries",
    "SeriesInterval",
    "SeriesQuality",
    "StateSeries",
    "combine",
]

SeriesQuality = Literal["good", "partial", "bad"]


@dataclass(frozen=True, slots=True)
class SeriesInterval:
    """One bucket [start, start + seconds) of a named series, UTC epoch seconds."""

    name: str
    start: float
    seconds: float
    value: float
    quality: SeriesQuality
    completeness: float


def _quality(completeness: float) -> SeriesQuality:
    if completeness >= COMPLETE:
        return "good"
    return "partial" if completeness > 0 else "bad"


@dataclass(slots=True)
class _Cell:
    total: float = 0.0  # counted amount, integral, or loaded seconds
    covered_s: float = 0.0
    extra: float = 0.0  # running seconds (state)
    low: float = math.inf  # lowest sample (gauge)
    samples: int = 0


class _Buckets:
    """Cells per bucket start; hands each bucket out once, oldest first, when it has closed."""

    def __init__(self, bucket_s: float) -> None:
        if bucket_s <= 0:
            raise ValueError(f"bucket length must be positive, got {bucket_s}")
        self.bucket_s = bucket_s
        self._cells: dict[float, _Cell] = {}
        self._open_from: float | None = None

    def cell(self, start: float, *, late_to_open: bool = True) -> _Cell | None:
        """The cell of bucket `start`; for a bucket already handed out, the first open one (or None)."""
        if self._open_from is not None and start < self._open_from:
            if not late_to_open:
                return None
            start = self._open_from
        found = self._cells.get(start)
        if found is None:
            found = self._cells[start] = _Cell()
        return found

    def overlaps(self, lo: float, hi: float) -> Iterator[tuple[float, float]]:
        """(bucket start, seconds of (lo, hi] inside it) for every bucket the span touches."""
        start = bucket_start(lo, self.bucket_s)
        while start < hi:
            overlap = min(hi, start + self.bucket_s) - max(lo, start)
            if overlap > 0:
                yield start, overlap
            start += self.bucket_s

    def close_until(self, ts: float) -> list[tuple[float, _Cell]]:
        if self._open_from is not None and ts < self._open_from + self.bucket_s:
            return []  # most polls: nothing closed
        if self._open_from is None:
            self._open_from = min(self._cells, default=bucket_start(ts, self.bucket_s))
        closed: list[tuple[float, _Cell]] = []
        start = self._open_from
        while start + self.bucket_s <= ts:
            closed.append((start, self._cells.pop(start, _Cell())))
            start += self.bucket_s
        self._open_from = start
        return closed

    def completeness(self, cell: _Cell) -> float:
        return round(min(1.0, cell.covered_s / self.bucket_s), 4)


class CounterSeries:
    """A counter point's good increments x `factor` per bucket (production, hours, air m3)."""

    def __init__(self, name: str, limits: CounterLimits, factor: float, bucket_s: float) -> None:
        self.name = name
        self.factor = factor
        self.tracker = CounterTracker(limits)
        self._buckets = _Buckets(bucket_s)

    def add(self, ts: float, value: float) -> None:
        verdict = self.tracker.update(ts, value)
        if not verdict.counts or verdict.since is None:
            return
        amount = verdict.delta * self.factor
        since = verdict.since
        if ts <= since:
            cell = self._buckets.cell(bucket_start(ts, self._buckets.bucket_s))
            if cell is not None:
                cell.total += amount
            return
        span = ts - since
        for start, overlap in self._buckets.overlaps(since, ts):
            cell = self._buckets.cell(start)
            if cell is not None:
                cell.total += amount * overlap / span
                cell.covered_s += overlap

    def close_until(self, ts: float) -> list[SeriesInterval]:
        out: list[SeriesInterval] = []
        for start, cell in self._buckets.close_until(ts):
            completeness = self._buckets.completeness(cell)
            out.append(
                SeriesInterval(
                    self.name, start, self._buckets.bucket_s, cell.total, _quality(completeness), completeness
                )
            )
        return out


class GaugeSeries:
    """A gauge's time-weighted mean and lowest sample ("mean"), or its time integral ("integral").

    `factor` converts the point's unit (kPa -> bar: 0.01); in "integral" mode it also turns the
    rate's time unit into seconds (m3/min -> m3 per second: 1/60). `min_name` (mean mode only)
    names a second series with the lowest sample of each bucket.
    """

    def __init__(
        self,
        name: str,
        bucket_s: float,
        *,
        mode: Literal["mean", "integral"] = "mean",
        factor: float = 1.0,
        min_name: str | None = None,
        max_gap_s: float | None = None,
    ) -> None:
        self.name, self.min_name, self.mode, self.factor = name, min_name, mode, factor
        self._buckets = _Buckets(bucket_s)
        self.max_gap_s = bucket_s if max_gap_s is None else max_gap_s
        self._last: tuple[float, float] | None = None

    def add(self, ts: float, value: float) -> None:
        value *= self.factor
        cell = self._buckets.cell(bucket_start(ts, self._buckets.bucket_s), late_to_open=False)
        if cell is not None:
            cell.low = min(cell.low, value)
            cell.samples += 1
        last, self._last = self._last, (ts, value)
        if last is None or not 0 < ts - last[0] <= self.max_gap_s:
            return
        t0, v0 = last
        slope = (value - v0) / (ts - t0)
        for start, overlap in self._buckets.overlaps(t0, ts):
            lo = max(t0, start)
            piece = self._buckets.cell(start, late_to_open=False)
            if piece is None:
                continue  # a bucket already handed out keeps its value
            middle = v0 + slope * (lo + overlap / 2 - t0)  # trapezoid = width x value at its middle
            piece.total += middle * overlap
            piece.covered_s += overlap

    def gap(self) -> None:
        """The point was not good at a poll: do not integrate across it."""
        self._last = None

    def close_until(self, ts: float) -> list[SeriesInterval]:
        out: list[SeriesInterval] = []
        bucket_s = self._buckets.bucket_s
        for start, cell in self._buckets.close_until(ts):
            completeness = self._buckets.completeness(cell)
            quality = _quality(completeness)
            if self.mode == "integral":
                out.append(SeriesInterval(self.name, start, bucket_s, cell.total, quality, completeness))
                continue
            if cell.covered_s > 0:
                mean = cell.total / cell.covered_s
            elif cell.samples:
                mean, quality = cell.low, "partial"  # one lone sample: a value, not a mean
            else:
                continue  # nothing seen: no value (a gauge has no zero to write)
            out.append(SeriesInterval(self.name, start, bucket_s, mean, quality, completeness))
            if self.min_name is not None and cell.samples:
                out.append(SeriesInterval(self.min_name, start, bucket_s, cell.low, quality, completeness))
        return out


class StateSeries:
    """Loaded and running hours per bucket from a state point (sample and hold)."""

    def __init__(
        self,
        loaded_name: str | None,
        running_name: str | None,
        loaded: frozenset[int],
        unloaded: frozenset[int],
        bucket_s: float,
        max_gap_s: float | None = None,
    ) -> None:
        self.loaded_name, self.running_name = loaded_name, running_name
        self.loaded, self.running = loaded, loaded | unloaded
        self._buckets = _Buckets(bucket_s)
        self.max_gap_s = bucket_s if max_gap_s is None else max_gap_s
        self._last: tuple[float, int] | None = None

    def add(self, ts: float, value: float) -> None:
        last, self._last = self._last, (ts, round(value))
        if last is None or not 0 < ts - last[0] <= self.max_gap_s:
            return
        t0, state = last
        is_loaded, is_running = state in self.loaded, state in self.running
        for start, overlap in self._buckets.overlaps(t0, ts):
            cell = self._buckets.cell(start, late_to_open=False)
            if cell is None:
                continue
            cell.total += overlap if is_loaded else 0.0
            cell.extra += overlap if is_running else 0.0
            cell.covered_s += overlap

    def gap(self) -> None:
        self._last = None

    def close_until(self, ts: float) -> list[SeriesInterval]:
        out: list[SeriesInterval] = []
        bucket_s = self._buckets.bucket_s
        for start, cell in self._buckets.close_until(ts):
            completeness = self._buckets.completeness(cell)
            quality = _quality(completeness)
            if self.loaded_name is not None:
                out.append(
                    SeriesInterval(
                        self.loaded_name, start, bucket_s, cell.total / 3600, quality, completeness
                    )
                )
            if self.running_name is not None:
                out.append(
                    SeriesInterval(
                        self.running_name, start, bucket_s, cell.extra / 3600, quality, completeness
                    )
                )
        return out


def combine(parts: list[SeriesInterval]) -> SeriesInterval:
    """One bucket of a series fed by several sources (two production lines): values add up, the
    least complete source sets completeness and quality."""
    first = parts[0]
    completeness = min(p.completeness for p in parts)
    return SeriesInterval(
        first.name,
        first.start,
        first.seconds,
        math.fsum(p.value for p in parts),
        _quality(completeness),
        completeness,
    )
