"""One device's poll loop: schedule, read the plan, judge the values, hand the result on.

Isolation is the point. A device that times out (or only answers with exceptions) goes offline: the
transition is logged once and handed to the output as a status event, and from then on the poller
sends ONE probe request (the first block) per backoff period (interval x 2^k, capped at 5 minutes).
So a dead device costs its bus at most one timeout per backoff period and the other devices on the
line keep their schedules. A timeout ends the poll at once instead of timing out every block.

A block answered with ILLEGAL DATA ADDRESS is bisected (`split_block`) and the halves read again; a
single point that still fails is marked bad ("illegal_address") and its range remembered, so the
next plan reads around it: the plan heals itself after one poll. A device that refuses every point
is not healed into an empty plan (which would read nothing and look online for ever): it goes
offline with reason "illegal_address" (a wrong profile or unit id, or a device not set up yet), what
the poll learned is forgotten, and each probe reads its first block afresh.

A reply that is not Modbus, or not the answer to the request (`ProtocolError`: wrong unit id, a cut
or garbled frame), fails the poll with reason "protocol_error"; the I/O layer has already dropped the
connection, and the next poll opens a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.config.profile import NumericPoint, PointKind, Profile
from agent.config.site import Device
from agent.errors import (
    DecodeError,
    DeviceError,
    DeviceTimeout,
    ExceptionResponse,
    ProtocolError,
    Unreachable,
)
from agent.modbus.bus import Arbiter
from agent.modbus.decode import Decoded, block_columns_decoder
from agent.modbus.plan import (
    DEFAULT_COST,
    AddressRange,
    PlanCost,
    ReadBlock,
    gap_between,
    plan_for_profile,
    split_block,
)
from agent.readings.counters import CounterTracker, counter_limits
from agent.readings.derived import (
    ACTIVE_POWER_POINTS,
    AIR_FLOW_POINTS,
    ENERGY_COUNTER_POINTS,
    derive_readings,
    find_point,
)
from agent.readings.intervals import DEFAULT_BUCKET_S, IntervalAccumulator, IntervalMethod
from agent.readings.model import PollResult, PollStatus, Quality, Readings, Value
from agent.runtime.health import DeviceHealth
from agent.runtime.logfmt import log_event
from agent.runtime.output import Output, StatusEvent
from agent.runtime.schedule import Backoff, Clock, SlotSchedule

__all__ = ["DevicePoller", "DeviceState", "PollerSettings"]

log = logging.getLogger("agent.poller")

# Exceptions that say "the device is not there" (gateways answer 10/11 for a silent slave).
_ABSENT_CODES = {10, 11}
_ILLEGAL_ADDRESS = 2


@dataclass(frozen=True, slots=True)
class PollerSettings:
    max_backoff_s: float = 300.0
    bucket_s: float = DEFAULT_BUCKET_S


@dataclass
class DeviceState:
    """What survives a poller restart (config reload): sequence, counters, interval buckets, health."""

    device: str
    seq: int = 0
    counters: dict[str, CounterTracker] = field(default_factory=dict)
    intervals: IntervalAccumulator | None = None
    bad_ranges: list[AddressRange] = field(default_factory=list)
    bad_points: dict[str, str] = field(default_factory=dict)
    health: DeviceHealth = field(init=False)

    def __post_init__(self) -> None:
        self.health = DeviceHealth(self.device)


_Columns = Callable[[Sequence[int] | Sequence[bool]], tuple[list[Value], list[Decoded | None] | None]]

# One block's outcome: its points' values in block order and, per point, the Decoded of any that is
# not good (None when all are).
_Part = tuple[ReadBlock, list[Value], list[Decoded | None] | None]


def _is_refused(issues: list[Decoded | None] | None) -> bool:
    """Whether every point of a part was refused (exception 2 down to a single point)."""
    return issues is not None and all(d is not None and d.reason == "illegal_address" for d in issues)


def _all_refused(parts: list[_Part]) -> bool:
    """Whether a block's every point ended refused (exception 2, after bisection)."""
    return all(_is_refused(issues) for _, _, issues in parts)


class _PollAborted(Exception):
    """The device did not answer: stop this poll, the remaining blocks would time out too."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class DevicePoller:
    """Polls one device on its schedule until stopped."""

    def __init__(
        self,
        *,
        site: str,
        device: Device,
        profile: Profile,
        bus: Arbiter,
        output: Output,
        clock: Clock,
        state: DeviceState | None = None,
        settings: PollerSettings | None = None,
        plan_cost: PlanCost = DEFAULT_COST,
    ) -> None:
        self.site, self.device, self.profile, self.bus = site, device, profile, bus
        # What a request costs on this bus decides where the plan reads through gaps: on a serial
        # line every register is wire time (PlanCost.rtu), on TCP a request's round trip dominates.
        self.plan_cost = plan_cost
        self.output, self.clock = output, clock
        self.settings = settings or PollerSettings()
        self.state = state or DeviceState(device.name)
        if self.health.state == "stopped":  # restarted by a reload: no second "online" event
            self.health.state = self.health.state_before_stop
        self.schedule = SlotSchedule(device.interval_s)
        self.backoff = Backoff(2 * device.interval_s, max(self.settings.max_backoff_s, device.interval_s))
        self._stop = asyncio.Event()
        # A name listed twice is polled once.
        self._names = tuple(dict.fromkeys(device.points or [p.name for p in profile.points]))
        # Profile.point() is a linear search; per point per poll it was the poller's top entry.
        self._units = {p.name: p.unit for p in profile.points}
        self._unit_column = tuple(self._units[n] for n in self._names)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._block_indexes: dict[ReadBlock, tuple[int, ...]] = {}
        self._tags = dict(device.tags)  # one dict shared by every poll's result: nothing mutates it
        self._energy = find_point(profile, ENERGY_COUNTER_POINTS, self._names, counter=True)
        self._power = find_point(profile, ACTIVE_POWER_POINTS, self._names, counter=False)
        self._flow = find_point(profile, AIR_FLOW_POINTS, self._names, counter=False)
        self._plan = self._make_plan()
        # Each plan block with its compiled decoder (filled on first use), so a poll neither hashes
        # nor compares blocks to find it.
        self._decoders: list[_Columns | None] = [None] * len(self._plan)
        self._init_counters()
        self._counter_columns = [
            (i, name, self.state.counters[name])
            for i, name in enumerate(self._names)
            if name in self.state.counters
        ]
        self._power_index = self._index.get(self._power) if self._power else None
        self.last: PollResult | None = None  # the latest poll (the sequencer reads the room from it)

    @property
    def health(self) -> DeviceHealth:
        return self.state.health

    @property
    def plan(self) -> list[ReadBlock]:
        return list(self._plan)

    def stop(self) -> None:
        """Finish the poll in flight (if any), then return from `run`."""
        self._stop.set()

    async def run(self) -> None:
        slot = self.schedule.slot_at_or_after(self.clock.time())
        while True:
            await self.clock.wait(slot - self.clock.time(), self._stop)
            if self._stop.is_set():
                break
            await self.poll(slot)
            not_before = self.health.next_probe if self.health.state == "offline" else None
            slot, missed = self.schedule.next_after(slot, self.clock.time(), not_before)
            self.health.missed_slots += missed
        self.health.state_before_stop, self.health.state = self.health.state, "stopped"

    async def poll(self, slot: float) -> PollResult:
        """Poll once for `slot` and hand the result (and any closed intervals, status change) on."""
        requested_at = self.clock.time()
        started = time.monotonic()
        try:
            readings, all_failed = await self._read_all(probe=self.health.state == "offline")
        except _PollAborted as exc:
            result = self._result(slot, self._all_bad(exc.reason), "failed", str(exc), requested_at, started)
            await self._failed(slot, exc.reason, str(exc))
        else:
            status: PollStatus = "failed" if all_failed else "ok"
            if (
                status == "ok"
                and readings.qualities is not None
                and any(q != "good" for q in readings.qualities)
            ):
                status = "partial"
            readings = self._judge(slot, readings)
            result = self._result(slot, readings, status, None, requested_at, started)
            if status == "failed":
                await self._failed(slot, "exception", "every block answered with an exception")
            else:
                await self._succeeded(slot, result.latency_ms or 0.0)
        self.state.seq += 1
        self.last = result
        await self.output.put(result)
        await self._close_intervals(slot)
        return result

    # -- reading -------------------------------------------------------------------------------

    async def _read_all(self, *, probe: bool) -> tuple[Readings, bool]:
        """Read every block (a probe stops after the first if it fails). Returns the readings and
        whether every block of the plan failed (judged before a healed plan replaces it)."""
        parts: list[_Part] = []
        failed = 0
        replan = False
        decoders = self._decoders
        refused = 0
        for index, block in enumerate(self._plan):
            got, ok, healed = await self._read_block(block, decoders, index)
            parts += got
            failed += not ok
            replan |= healed
            refused += not ok and _all_refused(got)
            if probe and not ok:
                if refused:
                    raise self._refusal(f"probe of {block}")
                raise _PollAborted("exception", f"probe of {block} failed")
            probe = False
        blocks = len(self._plan)
        if refused and refused == blocks:
            raise self._refusal(f"every block of {blocks}")
        if replan:
            name = self.device.name
            for block, _, issues in parts:
                if _is_refused(issues):
                    log_event(log, logging.WARNING, "illegal_address", device=name, block=str(block))
            self._plan = self._make_plan()
            self._decoders = [None] * len(self._plan)
        return self._assemble(parts), bool(blocks) and failed == blocks

    def _refusal(self, what: str) -> _PollAborted:
        """Every point read was refused (exception 2). What the poll learned is forgotten: the full
        plan stays, for the probes, and the device goes offline instead of healing into an empty plan."""
        self.state.bad_ranges.clear()
        self.state.bad_points.clear()
        self._plan = self._make_plan()
        self._decoders = [None] * len(self._plan)
        return _PollAborted(
            "illegal_address",
            f"device {self.device.name} unit {self.device.unit_id}: {what} refused"
            " with exception 2 (ILLEGAL DATA ADDRESS): check the profile and unit id",
        )

    def _assemble(self, parts: list[_Part]) -> Readings:
        """The blocks' columns in the device's point order; a point no block delivered is bad."""
        names = self._names
        if len(parts) == 1 and parts[0][0].points == names:  # one block holds the device: as it came
            _, values, issues = parts[0]
            if issues is None:
                return Readings(names, values, self._unit_column)
            return self._flagged(values, issues)
        count = len(names)
        column: list[Value] = [None] * count
        flags: list[Decoded | None] = [None] * count
        covered = bytearray(count)
        for block, values, issues in parts:
            indexes = self._block_indexes.get(block) or self._indexes_of(block)
            for j, i in enumerate(indexes):
                column[i] = values[j]
                covered[i] = 1
                if issues is not None:
                    flags[i] = issues[j]
        for i in range(count):
            if not covered[i]:
                flags[i] = Decoded(None, "bad", self.state.bad_points.get(names[i], "not_read"))
        return self._flagged(column, flags)

    def _flagged(self, values: list[Value], issues: list[Decoded | None]) -> Readings:
        qualities: list[Quality] = ["good"] * len(values)
        reasons: list[str | None] = [None] * len(values)
        for i, decoded in enumerate(issues):
            if decoded is not None:
                qualities[i], reasons[i] = decoded.quality, decoded.reason
        return Readings(self._names, values, self._unit_column, qualities, reasons)

    def _indexes_of(self, block: ReadBlock) -> tuple[int, ...]:
        if len(self._block_indexes) > 64:  # plans change rarely (a healed range); keep a few
            self._block_indexes.clear()
        indexes = self._block_indexes[block] = tuple(self._index[name] for name in block.points)
        return indexes

    async def _read_block(
        self, block: ReadBlock, decoders: list[_Columns | None] | None = None, index: int = 0
    ) -> tuple[list[_Part], bool, bool]:
        """The block's columns, whether it was read, and whether the plan learned a bad range.

        `decoders[index]` holds the block's compiled decoder when the block is in the plan (a split
        half is not: it is compiled, and cached by the decoder module, when it is read)."""
        try:
            words = await self.bus.read(self.device.unit_id, block.function, block.start, block.count)
        except ExceptionResponse as exc:
            if exc.code == _ILLEGAL_ADDRESS:
                return await self._split(block)
            if exc.code in _ABSENT_CODES:
                raise _PollAborted("timeout", f"{self._where(block)}: {exc}") from exc
            return [self._bad(block, f"exception_{exc.code}")], False, False
        except DeviceTimeout as exc:
            raise _PollAborted("timeout", f"{self._where(block)}: {exc}") from exc
        except Unreachable as exc:
            raise _PollAborted("unreachable", f"{self._where(block)}: {exc}") from exc
        except ProtocolError as exc:
            raise _PollAborted("protocol_error", f"{self._where(block)}: {exc}") from exc
        except DeviceError as exc:
            raise _PollAborted("device_error", f"{self._where(block)}: {exc}") from exc
        try:
            columns = decoders[index] if decoders is not None else None
            if columns is None:
                columns = block_columns_decoder(block, self.profile)
                if decoders is not None:
                    decoders[index] = columns
            values, issues = columns(words)
        except DecodeError:
            return [self._bad(block, "decode_error")], False, False
        return [(block, values, issues)], True, False

    async def _split(self, block: ReadBlock) -> tuple[list[_Part], bool, bool]:
        try:
            left, right = split_block(block, self.profile.points)
        except ValueError:
            self.state.bad_ranges.append(AddressRange(block.function, block.start, block.end - 1))
            for name in block.points:
                self.state.bad_points[name] = "illegal_address"
            return [self._bad(block, "illegal_address")], False, True
        got_left, ok_left, _ = await self._read_block(left)
        got_right, ok_right, _ = await self._read_block(right)
        gap = gap_between(left, right)
        if ok_left and ok_right and gap is not None:
            self.state.bad_ranges.append(gap)
        return got_left + got_right, ok_left or ok_right, True

    def _bad(self, block: ReadBlock, reason: str) -> _Part:
        count = len(block.points)
        return block, [None] * count, [Decoded(None, "bad", reason)] * count

    def _where(self, block: ReadBlock) -> str:
        return f"device {self.device.name} unit {self.device.unit_id} {block}"

    def _make_plan(self) -> list[ReadBlock]:
        names = [n for n in self._names if n not in self.state.bad_points]
        if not names:
            return []
        return plan_for_profile(self.profile, names, cost=self.plan_cost, bad_ranges=self.state.bad_ranges)

    # -- judging -------------------------------------------------------------------------------

    def _all_bad(self, reason: str) -> Readings:
        count = len(self._names)
        return Readings(self._names, [None] * count, self._unit_column, ["bad"] * count, [reason] * count)

    def _init_counters(self) -> None:
        state = self.state
        for name in self._names:
            point = self.profile.point(name)
            is_counter = isinstance(point, NumericPoint) and point.kind is PointKind.COUNTER
            if is_counter and name not in state.counters:
                assert isinstance(point, NumericPoint)
                state.counters[name] = CounterTracker(counter_limits(point, self.device.rated_power_kw))
        if state.intervals is None and (self._energy or self._power):
            method: IntervalMethod = "counter" if self._energy else "integrated"
            state.intervals = IntervalAccumulator(self.device.name, method, self.settings.bucket_s)

    def _judge(self, slot: float, readings: Readings) -> Readings:
        """Counter verdicts, interval energy, derived points."""
        values = readings.values
        qualities, reasons = readings.qualities, readings.reasons
        intervals = self.state.intervals
        for i, name, tracker in self._counter_columns:
            value = values[i]
            if (qualities is not None and qualities[i] != "good") or not isinstance(value, int | float):
                continue
            verdict = tracker.update(slot, float(value))
            if verdict.counts and name == self._energy and intervals is not None:
                assert verdict.since is not None
                intervals.add_energy(verdict.since, slot, verdict.delta)
            if verdict.quality == "good" and verdict.reason is None:
                continue
            if qualities is None or reasons is None:
                qualities, reasons = ["good"] * len(values), [None] * len(values)
            else:
                qualities, reasons = list(qualities), list(reasons)
            qualities[i], reasons[i] = verdict.quality, verdict.reason
        if qualities is not readings.qualities:
            readings = Readings(readings.points, values, readings.units, qualities, reasons)
        if intervals is not None and intervals.method == "integrated" and self._power_index is not None:
            power = values[self._power_index]
            if readings.quality(self._power_index) == "good" and isinstance(power, int | float):
                intervals.add_power(slot, float(power))
        if self._power is None or self._flow is None:
            return readings
        inputs = [r for r in (readings.get(self._power), readings.get(self._flow)) if r is not None]
        derived = derive_readings(inputs, self._power, self._flow)
        return Readings.of([*readings, *derived]) if derived else readings

    # -- outcome -------------------------------------------------------------------------------

    def _result(
        self,
        slot: float,
        readings: Readings,
        status: PollStatus,
        error: str | None,
        requested_at: float,
        started: float,
    ) -> PollResult:
        return PollResult(
            site=self.site,
            device=self.device.name,
            device_kind=self.profile.device_kind,
            profile=self.profile.id,
            ts=slot,
            seq=self.state.seq,
            readings=readings,
            status=status,
            error=error,
            area=self.device.area,
            requested_at=requested_at,
            latency_ms=round((time.monotonic() - started) * 1000.0, 3),
            tags=self._tags,
        )

    async def _succeeded(self, slot: float, latency_ms: float) -> None:
        health = self.health
        health.succeeded(slot, latency_ms)
        if health.state != "online":
            health.state = "online"
            log_event(log, logging.INFO, "device_online", device=self.device.name, bus=self.bus.name)
            await self.output.status(StatusEvent(self.device.name, "online", None, slot))

    async def _failed(self, slot: float, reason: str, detail: str) -> None:
        health = self.health
        health.failed(detail)
        delay = self.backoff.delay(health.consecutive_failures)
        health.next_probe = slot + delay
        if health.state != "offline":
            health.state = "offline"
            log_event(
                log, logging.WARNING, "device_offline", device=self.device.name, reason=reason, detail=detail
            )
            await self.output.status(StatusEvent(self.device.name, "offline", reason, slot))

    async def _close_intervals(self, slot: float) -> None:
        intervals = self.state.intervals
        if intervals is None:
            return
        for record in intervals.close_until(slot):
            await self.output.interval(record)
