"""Interval energy per device: good counter increments (or integrated power) in wall-clock buckets.

Pure: no I/O, no asyncio. Buckets are aligned to UTC epoch seconds (a 15-minute bucket starts at
:00, :15, :30, :45 of every UTC hour, which is also every whole-hour time zone's quarter hour).
An increment covers a time span (since, ts]; when the span crosses a bucket boundary it is shared
out in proportion to time, which is exact for constant power and never creates or drops energy.

Method "counter" sums the device's energy counter increments (from `CounterTracker`, so rollovers,
resets and glitches are already handled). A device without an energy counter falls back to
"integrated": the trapezoid of its active power samples, with quality "integrated" so nobody takes
it for a billing-grade figure. Completeness is the share of the bucket covered by good data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_BUCKET_S",
    "IntervalAccumulator",
    "IntervalEnergy",
    "IntervalMethod",
    "bucket_start",
]

DEFAULT_BUCKET_S = 900.0
COMPLETE = 0.999  # coverage above this is complete (float sums of spans)

IntervalMethod = Literal["counter", "integrated"]
IntervalQuality = Literal["good", "partial", "integrated"]


@dataclass(frozen=True, slots=True)
class IntervalEnergy:
    """Energy of one device in one bucket [start, end), UTC epoch seconds."""

    device: str
    start: float
    end: float
    kwh: float
    method: IntervalMethod
    completeness: float
    quality: IntervalQuality


def bucket_start(ts: float, bucket_s: float) -> float:
    """Start of the bucket holding `ts` (a timestamp exactly on a boundary opens the later bucket)."""
    return math.floor(ts / bucket_s) * bucket_s


@dataclass(slots=True)
class _Bucket:
    kwh: float = 0.0
    covered_s: float = 0.0


class IntervalAccumulator:
    """Collects one device's energy into buckets and hands out each bucket once it has closed."""

    def __init__(
        self,
        device: str,
        method: IntervalMethod,
        bucket_s: float = DEFAULT_BUCKET_S,
        max_power_gap_s: float | None = None,
    ) -> None:
        if bucket_s <= 0:
            raise ValueError(f"bucket length must be positive, got {bucket_s}")
        self.device = device
        self.method = method
        self.bucket_s = bucket_s
        # Integrating across a long outage would invent a flat load; leave such gaps uncovered.
        self.max_power_gap_s = bucket_s if max_power_gap_s is None else max_power_gap_s
        self._buckets: dict[float, _Bucket] = {}
        self._open_from: float | None = None  # start of the earliest bucket not yet emitted
        self._last_power: tuple[float, float] | None = None

    def add_energy(self, since: float, ts: float, kwh: float) -> None:
        """A good increment of `kwh` over (since, ts]."""
        if ts <= since:
            if kwh:
                self._bucket(bucket_start(ts, self.bucket_s)).kwh += kwh
            return
        span = ts - since
        for start, overlap in self._overlaps(since, ts):
            bucket = self._bucket(start)
            bucket.kwh += kwh * overlap / span
            bucket.covered_s += overlap

    def add_power(self, ts: float, kw: float) -> None:
        """A good active-power sample; the trapezoid with the previous sample becomes energy."""
        last = self._last_power
        self._last_power = (ts, kw)
        if last is None or not 0 < ts - last[0] <= self.max_power_gap_s:
            return
        t0, kw0 = last
        for start, _ in self._overlaps(t0, ts):
            lo, hi = max(t0, start), min(ts, start + self.bucket_s)
            kw_lo = kw0 + (kw - kw0) * (lo - t0) / (ts - t0)
            kw_hi = kw0 + (kw - kw0) * (hi - t0) / (ts - t0)
            bucket = self._bucket(start)
            bucket.kwh += (kw_lo + kw_hi) / 2 * (hi - lo) / 3600.0
            bucket.covered_s += hi - lo

    def observe(self, ts: float) -> None:
        """Note that time `ts` was reached (polled or not), so buckets before it can close."""
        if self._open_from is None:
            self._open_from = bucket_start(ts, self.bucket_s)

    def close_until(self, ts: float) -> list[IntervalEnergy]:
        """Every bucket that ended at or before `ts` and was not handed out yet, oldest first."""
        if self._open_from is None:
            self._open_from = min(self._buckets, default=bucket_start(ts, self.bucket_s))
        closed: list[IntervalEnergy] = []
        start = self._open_from
        while start + self.bucket_s <= ts:
            bucket = self._buckets.pop(start, _Bucket())
            closed.append(self._record(start, bucket))
            start += self.bucket_s
        self._open_from = start
        return closed

    def _record(self, start: float, bucket: _Bucket) -> IntervalEnergy:
        completeness = min(1.0, bucket.covered_s / self.bucket_s)
        quality: IntervalQuality
        if self.method == "integrated":
            quality = "integrated"
        else:
            quality = "good" if completeness >= COMPLETE else "partial"
        return IntervalEnergy(
            self.device,
            start,
            start + self.bucket_s,
            bucket.kwh,
            self.method,
            round(completeness, 4),
            quality,
        )

    def _bucket(self, start: float) -> _Bucket:
        if self._open_from is not None and start < self._open_from:
            start = self._open_from  # late data for an emitted bucket lands in the open one
        bucket = self._buckets.get(start)
        if bucket is None:
            bucket = self._buckets[start] = _Bucket()
        return bucket

    def _overlaps(self, lo: float, hi: float) -> list[tuple[float, float]]:
        """(bucket start, seconds of (lo, hi] inside it) for every bucket the span touches."""
        parts: list[tuple[float, float]] = []
        start = bucket_start(lo, self.bucket_s)
        while start < hi:
            overlap = min(hi, start + self.bucket_s) - max(lo, start)
            if overlap > 0:
                parts.append((start, overlap))
            start += self.bucket_s
        return parts
