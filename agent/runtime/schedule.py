"""Wall-clock aligned poll slots, backoff, and the clocks the runtime sleeps on.

A 15 s device polls at :00, :15, :30, :45 of the wall clock, so readings of different devices line
up and a reading's timestamp (the slot) means the same thing on every gateway. Slot times come from
`time.time()`; sleeping uses the event loop's monotonic clock (asyncio.sleep), so a wall-clock step
(NTP) moves the next slot but never makes a sleep hang or spin. When a poll overruns, the slots it
covered are skipped and counted, never queued: a slow bus must not turn into a burst of stale polls.

For tests and simulation only, the agent can run on a simulated clock shared with the simulator
(`energy-agent simulate --speed`): the environment variable `ENERGY_AGENT_SIM_CLOCK` =
`start=<ISO time or epoch s>,speed=<factor>[,anchor=<real epoch s>]` makes simulated time
`start + (time.time() - anchor) x speed` (anchor defaults to the moment the agent starts), and every
slot, timestamp and sleep follows it. It is logged as a warning at start: a gateway must never run
on it. `SimClockSpec.format()` writes the variable, `simulators.clock.SharedClock` reads the same one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from agent.errors import ConfigError, ConfigIssue

__all__ = [
    "SIM_CLOCK_ENV",
    "Backoff",
    "Clock",
    "ManualClock",
    "SimClockSpec",
    "SimulatedClock",
    "SlotSchedule",
    "SystemClock",
    "default_clock",
]

log = logging.getLogger("agent.runtime")

SIM_CLOCK_ENV = "ENERGY_AGENT_SIM_CLOCK"


class Clock(Protocol):
    """Wall time, and a sleep that returns early when `stop` is set."""

    def time(self) -> float: ...

    async def wait(self, seconds: float, stop: asyncio.Event) -> None: ...


class SystemClock:
    """The real clock: wall time from time.time(), sleeping on the loop's monotonic clock.

    A wait is one future and one loop timer, as cheap as asyncio.sleep: the stop event is watched by
    one shared task per event (it wakes every sleeper of that event when it is set), not by a task
    and a timeout per call as `asyncio.wait_for(stop.wait(), seconds)` did -- at 200 devices polled
    every second that was 6 % of the agent's CPU. A watcher ends when its event is set (a poller's
    stop); one for an event never set is cancelled with the loop's other tasks at shutdown.
    """

    def __init__(self) -> None:
        self._sleepers: dict[asyncio.Event, set[asyncio.Future[None]]] = {}
        self._watchers: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def time(self) -> float:
        return time.time()

    async def wait(self, seconds: float, stop: asyncio.Event) -> None:
        if seconds <= 0 or stop.is_set():
            return
        loop = asyncio.get_running_loop()
        sleepers = self._sleepers.get(stop)
        if sleepers is None:
            sleepers = self._sleepers[stop] = set()
            watcher = loop.create_task(self._watch(stop, sleepers), name="clock-stop-watch")
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)
        future: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, _wake, future)
        sleepers.add(future)
        try:
            await future
        finally:
            timer.cancel()
            sleepers.discard(future)

    async def _watch(self, stop: asyncio.Event, sleepers: set[asyncio.Future[None]]) -> None:
        try:
            await stop.wait()
        finally:  # set, or cancelled with the loop: either way this event's sleepers wake now
            if self._sleepers.get(stop) is sleepers:
                del self._sleepers[stop]
            for future in sleepers:
                _wake(future)


@dataclass(frozen=True, slots=True)
class SimClockSpec:
    """A simulated clock two processes can share: sim time = start + (wall - anchor) x speed."""

    start: float  # simulated epoch seconds at `anchor`
    speed: float  # simulated seconds per real second
    anchor: float  # real epoch seconds (time.time()) at which simulated time was `start`

    def now(self, wall: float | None = None) -> float:
        return self.start + ((time.time() if wall is None else wall) - self.anchor) * self.speed

    def format(self) -> str:
        return f"start={self.start!r},speed={self.speed!r},anchor={self.anchor!r}"

    @classmethod
    def parse(cls, text: str, *, now: float | None = None) -> SimClockSpec:
        """Read `start=...,speed=...[,anchor=...]`; a ConfigError names the variable and the part."""
        fields: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in ("start", "speed", "anchor"):
                raise _clock_error(f"{part.strip()!r}: expected start=..., speed=... and anchor=...")
            fields[key.strip()] = value.strip()
        if "start" not in fields or "speed" not in fields:
            raise _clock_error("needs start=<ISO time or epoch seconds> and speed=<factor>")
        start = _epoch(fields["start"])
        try:
            speed = float(fields["speed"])
            anchor = float(fields["anchor"]) if "anchor" in fields else (time.time() if now is None else now)
        except ValueError as exc:
            raise _clock_error(f"not a number: {exc}") from None
        if not 0 < speed <= 1e6 or not math.isfinite(anchor):
            raise _clock_error(f"speed must be in (0, 1e6], got {speed}")
        return cls(start, speed, anchor)


def _epoch(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _clock_error(f"start {text!r} is neither epoch seconds nor an ISO time") from None
    if moment.tzinfo is None:
        raise _clock_error(f"start {text!r} has no UTC offset (e.g. +08:00)")
    return moment.timestamp()


def _clock_error(message: str) -> ConfigError:
    return ConfigError([ConfigIssue("environment", None, SIM_CLOCK_ENV, message)])


class SimulatedClock(SystemClock):
    """Runs `spec.speed` times faster than real time (tests and simulation only)."""

    def __init__(self, spec: SimClockSpec) -> None:
        super().__init__()
        self.spec = spec

    def time(self) -> float:
        return self.spec.now()

    async def wait(self, seconds: float, stop: asyncio.Event) -> None:
        # A loop timer may fire up to a millisecond early (uvloop's are in whole ms), which is seconds
        # of simulated time: sleep again until the simulated target is really reached, so a poll
        # never reads the device before its slot.
        target = self.time() + seconds
        while not stop.is_set() and (remaining := target - self.time()) > 0:
            await super().wait(max(remaining / self.spec.speed, 0.0005), stop)


def default_clock(environ: Mapping[str, str] | None = None) -> Clock:
    """The system clock, or the simulated one `ENERGY_AGENT_SIM_CLOCK` names (logged loudly)."""
    text = (os.environ if environ is None else environ).get(SIM_CLOCK_ENV, "").strip()
    if not text:
        return SystemClock()
    spec = SimClockSpec.parse(text)
    log.warning(
        "event=simulated_clock start=%s speed=%s anchor=%s detail=%s is set: timestamps are SIMULATED "
        "time, not real time (tests and simulation only; never on a gateway)",
        datetime.fromtimestamp(spec.start, tz=UTC).isoformat(),
        spec.speed,
        spec.anchor,
        SIM_CLOCK_ENV,
    )
    return SimulatedClock(spec)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock:
    """A test clock: waiting moves time forward instantly (and lets other tasks run)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    async def wait(self, seconds: float, stop: asyncio.Event) -> None:
        if not stop.is_set():
            self.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class SlotSchedule:
    """Slots k x interval (+ phase) of the wall clock for one device."""

    interval_s: float
    phase_s: float = 0.0

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError(f"interval must be positive, got {self.interval_s}")

    def slot_at_or_after(self, wall: float) -> float:
        """The first slot at or after `wall`."""
        k = math.ceil(round((wall - self.phase_s) / self.interval_s, 9))
        return k * self.interval_s + self.phase_s

    def next_after(self, slot: float, now: float, not_before: float | None = None) -> tuple[float, int]:
        """The slot to poll after `slot` given it is `now`, and how many slots were missed.

        Slots already past are skipped (counted as missed) rather than polled late. `not_before`
        (backoff) pushes the next slot out; slots skipped for backoff are not counted as missed.
        """
        following = slot + self.interval_s
        nxt = max(following, self.slot_at_or_after(now))
        missed = round((nxt - following) / self.interval_s)
        if not_before is not None and not_before > nxt:
            nxt = self.slot_at_or_after(not_before)
        return nxt, missed


@dataclass
class Backoff:
    """Exponential backoff: base x 2^(failures-1), capped (failures counted from 1)."""

    base_s: float
    cap_s: float = 300.0

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return float(min(self.cap_s, self.base_s * 2 ** min(failures - 1, 30)))
