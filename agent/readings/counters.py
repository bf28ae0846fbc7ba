"""Counter tracking: turn raw totalizer readings into trustworthy increments.

Pure: no I/O, no asyncio. A meter's energy register (or running hours, units produced) should only
grow, but in the field it wraps at its register width, restarts at zero when the meter is replaced,
and now and then returns one garbage value. Summing raw differences turns each of those into a spike
in the totals. `CounterTracker` follows one counter of one device and hands out only plausible
increments:

- rollover: a drop that is explained by wrapping at `rollover` within the plausible rate becomes the
  wrapped delta (reason "counter_rollover").
- glitch / reset: any other drop is held as *suspect* (bad, "counter_drop", no delta). If the next
  reading is back on the old track it was a glitch: the delta is measured from the last good value, so
  nothing is lost. If it stays low and grows plausibly, the meter was reset: a new segment starts and
  the delta is the value counted since zero (reason "counter_reset").
- spike: a rise beyond what the rate limit allows is bad ("glitch") and kept out of the totals; if the
  next reading agrees with it (a plausible rise from the spike) the counter really moved to a new
  track and a new segment starts from there (reason "counter_jump").

The plausible rate is `CounterSpec.max_rate_per_h`, else the device's rated power for a kWh counter,
times a margin. Without any rate a rise cannot be judged, so spikes are accepted (say so in config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.config.profile import NumericPoint, PointKind

__all__ = [
    "DEFAULT_RATE_MARGIN",
    "CounterLimits",
    "CounterTracker",
    "CounterUpdate",
    "counter_limits",
]

DEFAULT_RATE_MARGIN = 1.5
_INTEGER_BITS = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}
_ENERGY_UNITS = {"kwh", "kvarh", "kvah"}


@dataclass(frozen=True, slots=True)
class CounterLimits:
    """What a counter can plausibly do.

    `rollover`: value at which it wraps to 0 (None: it does not wrap). `max_rate_per_h`: largest
    plausible increase per hour (None: unknown). `margin` widens the rate for measurement noise;
    `resolution` is the counter's smallest step, always allowed (quantisation of a slow counter).
    """

    rollover: float | None = None
    max_rate_per_h: float | None = None
    margin: float = DEFAULT_RATE_MARGIN
    resolution: float = 0.0

    def allowed(self, seconds: float) -> float:
        """Largest plausible increase over `seconds`."""
        if self.max_rate_per_h is None:
            return float("inf")
        return self.max_rate_per_h * max(seconds, 0.0) / 3600.0 * self.margin + self.resolution


def counter_limits(
    point: NumericPoint, rated_power_kw: float | None = None, margin: float = DEFAULT_RATE_MARGIN
) -> CounterLimits:
    """Limits of a profile counter point; a device's rated power bounds its kWh/kvarh/kVAh counters."""
    if point.kind is not PointKind.COUNTER:
        raise ValueError(f"point {point.name!r} is a {point.kind}, not a counter")
    spec = point.counter
    rollover = spec.rollover if spec is not None else None
    bits = _INTEGER_BITS.get(point.dtype)
    if rollover is None and bits is not None:
        rollover = float(2**bits) * point.scale + point.offset
    rate = spec.max_rate_per_h if spec is not None else None
    if rate is None and rated_power_kw is not None and point.unit.lower() in _ENERGY_UNITS:
        rate = rated_power_kw
    resolution = abs(point.scale) if bits is not None else 0.0
    return CounterLimits(rollover=rollover, max_rate_per_h=rate, margin=margin, resolution=resolution)


CounterReason = Literal["counter_rollover", "counter_reset", "counter_jump", "counter_drop", "glitch"]


@dataclass(frozen=True, slots=True)
class CounterUpdate:
    """The verdict on one reading: its quality, and the increment it contributes over (since, ts]."""

    quality: Literal["good", "bad"]
    reason: CounterReason | None
    delta: float
    since: float | None

    @property
    def counts(self) -> bool:
        """True when the reading adds an increment to the totals."""
        return self.since is not None


@dataclass(slots=True)
class _Sample:
    value: float
    ts: float


class CounterTracker:
    """Follows one counter of one device (feed readings in time order)."""

    def __init__(self, limits: CounterLimits) -> None:
        self.limits = limits
        self._last: _Sample | None = None  # last good reading: the track increments are measured from
        self._suspect: _Sample | None = None  # a drop awaiting the next reading's verdict
        self._spike: _Sample | None = None  # an implausible rise awaiting confirmation
        self.total = 0.0  # sum of good increments since the tracker started

    @property
    def last_good(self) -> float | None:
        return self._last.value if self._last else None

    def update(self, ts: float, value: float) -> CounterUpdate:
        """Judge the reading `value` taken at `ts`."""
        last = self._last
        if last is None:
            self._accept(ts, value)
            return CounterUpdate("good", None, 0.0, None)
        rise = value - last.value
        if rise >= 0:
            return self._rise(ts, value, rise, last)
        return self._drop(ts, value, last)

    def _rise(self, ts: float, value: float, rise: float, last: _Sample) -> CounterUpdate:
        if rise <= self.limits.allowed(ts - last.ts):
            return self._good(ts, value, rise, last.ts, None)
        spike = self._spike
        if spike is not None and 0 <= value - spike.value <= self.limits.allowed(ts - spike.ts):
            return self._good(ts, value, value - spike.value, spike.ts, "counter_jump")
        self._spike, self._suspect = _Sample(value, ts), None
        return CounterUpdate("bad", "glitch", 0.0, None)

    def _drop(self, ts: float, value: float, last: _Sample) -> CounterUpdate:
        rollover = self.limits.rollover
        if rollover is not None:
            wrapped = value + rollover - last.value
            if 0 <= wrapped <= self.limits.allowed(ts - last.ts) and wrapped < rollover / 2:
                return self._good(ts, value, wrapped, last.ts, "counter_rollover")
        suspect = self._suspect
        if suspect is not None and 0 <= value - suspect.value <= self.limits.allowed(ts - suspect.ts):
            # Still low and growing plausibly: the meter restarted from zero somewhere after `last`.
            counted = value if value <= self.limits.allowed(ts - last.ts) else value - suspect.value
            return self._good(ts, value, counted, last.ts, "counter_reset")
        self._suspect, self._spike = _Sample(value, ts), None
        return CounterUpdate("bad", "counter_drop", 0.0, None)

    def _good(
        self, ts: float, value: float, delta: float, since: float, reason: CounterReason | None
    ) -> CounterUpdate:
        self._accept(ts, value)
        self.total += delta
        return CounterUpdate("good", reason, delta, since)

    def _accept(self, ts: float, value: float) -> None:
        self._last = _Sample(value, ts)
        self._suspect = self._spike = None
