"""Simulation clocks: what time it is in the simulated factory.

Every device computes its registers from the clock at request time, so the same physics serves a
live demo (real time), a fast test (one simulated day in a minute) and an exact test (frozen time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from agent.runtime.schedule import SimClockSpec

__all__ = ["AcceleratedClock", "Clock", "FixedClock", "RealClock", "SharedClock", "epoch_s"]


def epoch_s(moment: datetime) -> float:
    """Seconds since the Unix epoch of an aware datetime (naive datetimes are rejected)."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment} has no time zone; give one (e.g. +08:00)")
    return moment.timestamp()


class Clock(Protocol):
    def now(self) -> float:
        """Simulated time, seconds since the Unix epoch."""
        ...


class RealClock:
    """Simulated time is wall-clock time."""

    def now(self) -> float:
        return time.time()


@dataclass
class FixedClock:
    """Time stands still (exact expected values in tests); `advance` moves it explicitly."""

    t: float

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class AcceleratedClock:
    """Simulated time runs `factor` times faster than real time from `start` (sim seconds).

    factor=1440 makes one simulated day pass in one real minute.
    """

    start: float
    factor: float = 1.0
    _real_start: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.factor <= 0:
            raise ValueError(f"clock factor must be > 0, got {self.factor}")

    def now(self) -> float:
        return self.start + (time.monotonic() - self._real_start) * self.factor


@dataclass
class SharedClock:
    """Accelerated time that another process can follow: the agent reads the same spec from
    `ENERGY_AGENT_SIM_CLOCK` (`spec.format()`), so its slots and timestamps are the simulator's time.

    Both sides compute `start + (time.time() - anchor) x speed` from the wall clock, the one clock two
    processes share. `refresh_s` > 0 makes every device update its registers once per that many
    simulated seconds (as real meters do, about once a second), so a read answers with the value at
    the start of the refresh period it falls in.
    """

    spec: SimClockSpec
    refresh_s: float = 0.0

    @classmethod
    def starting_now(cls, start: float, speed: float, refresh_s: float = 0.0) -> SharedClock:
        return cls(SimClockSpec(start, speed, time.time()), refresh_s)

    def now(self) -> float:
        t = self.spec.now()
        if self.refresh_s > 0:
            return (t // self.refresh_s) * self.refresh_s
        return t
