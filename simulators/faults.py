"""Faults a simulated device can show, switchable while the server runs.

Transport faults change how (or whether) a device answers; value faults change what its registers
say. None of them touches the physics: the true counters stay known, so a test can check that the
runtime's corrections (rollover, reset, glitch) recover the true energy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from agent.config.profile import NumericPoint, PointKind, Profile

__all__ = ["Fault", "FaultKind", "FaultTable", "counter_rollover"]


class FaultKind(StrEnum):
    TIMEOUT = "timeout"  # no answer at all until cleared
    EXCEPTION = "exception"  # a Modbus exception response with `code`
    OFFLINE = "offline"  # no answer for `duration_s` real seconds, then back by itself
    SLOW = "slow"  # answers after an extra `delay_s`
    CORRUPT = "corrupt"  # answers with a damaged frame (RTU: wrong CRC; TCP: wrong protocol id)
    ROLLOVER = "rollover"  # counter jumps to `margin` below its rollover and wraps from there
    RESET = "reset"  # counters restart from zero (meter replaced or cleared)
    GLITCH = "glitch"  # one read returns `value` (default 0) instead of the true value

    @property
    def is_transport(self) -> bool:
        return self in _TRANSPORT


_EXCEPTION_CODES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)
_TRANSPORT = {FaultKind.TIMEOUT, FaultKind.EXCEPTION, FaultKind.OFFLINE, FaultKind.SLOW, FaultKind.CORRUPT}


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    code: int = 4
    delay_s: float = 0.5
    duration_s: float | None = None
    point: str | None = None  # value faults: one point; default every counter (glitch: every counter)
    value: float | None = None  # glitch: the value served once
    margin: float = 1.0  # rollover: engineering units left before the wrap


def counter_rollover(point: NumericPoint) -> float:
    """The engineering value at which a counter register wraps."""
    if point.counter is not None and point.counter.rollover is not None:
        return point.counter.rollover
    bits = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}.get(point.dtype)
    if bits is None:
        raise ValueError(f"point {point.name!r} ({point.dtype}) has no rollover: give counter.rollover")
    return float(2**bits) * point.scale + point.offset


@dataclass
class _Active:
    fault: Fault
    set_at: float = field(default_factory=time.monotonic)
    offsets: dict[str, float] = field(default_factory=dict)  # rollover/reset: per point, fixed at first read
    spent: bool = False  # glitch: served once


class FaultTable:
    """Active faults per unit id on one bus. At most one fault of each kind per unit."""

    def __init__(self) -> None:
        self._active: dict[int, dict[FaultKind, _Active]] = {}

    def set(self, unit_id: int, fault: Fault) -> None:
        if fault.kind is FaultKind.EXCEPTION and fault.code not in _EXCEPTION_CODES:
            raise ValueError(
                f"unit {unit_id}: Modbus exception code {fault.code} is not one of {_EXCEPTION_CODES}"
            )
        self._active.setdefault(unit_id, {})[fault.kind] = _Active(fault)

    def clear(self, unit_id: int, kind: FaultKind | None = None) -> None:
        if kind is None:
            self._active.pop(unit_id, None)
        else:
            self._active.get(unit_id, {}).pop(kind, None)

    def active(self, unit_id: int) -> list[Fault]:
        self._expire(unit_id)
        return [a.fault for a in self._active.get(unit_id, {}).values()]

    def _expire(self, unit_id: int) -> None:
        faults = self._active.get(unit_id, {})
        offline = faults.get(FaultKind.OFFLINE)
        duration = offline.fault.duration_s if offline else None
        if offline and duration is not None and time.monotonic() - offline.set_at >= duration:
            del faults[FaultKind.OFFLINE]
        glitch = faults.get(FaultKind.GLITCH)
        if glitch and glitch.spent:
            del faults[FaultKind.GLITCH]

    def transport_fault(self, unit_id: int, kind: FaultKind) -> Fault | None:
        self._expire(unit_id)
        entry = self._active.get(unit_id, {}).get(kind)
        return entry.fault if entry else None

    def apply_values(self, unit_id: int, profile: Profile, values: dict[str, float]) -> dict[str, float]:
        """The values the device shows: true values changed by the unit's value faults."""
        self._expire(unit_id)
        faults = self._active.get(unit_id, {})
        if not any(not kind.is_transport for kind in faults):
            return values
        shown = dict(values)
        counters = [p for p in profile.points if isinstance(p, NumericPoint) and p.kind is PointKind.COUNTER]
        for kind, entry in faults.items():
            targets = [p for p in counters if entry.fault.point in (None, p.name)]
            if kind is FaultKind.RESET:
                _reset(entry, targets, shown)
            elif kind is FaultKind.ROLLOVER:
                _rollover(entry, targets, shown)
            elif kind is FaultKind.GLITCH:
                names = [entry.fault.point] if entry.fault.point else [p.name for p in counters]
                for name in names:
                    shown[name] = entry.fault.value if entry.fault.value is not None else 0.0
                entry.spent = True
        return shown


def _reset(entry: _Active, targets: list[NumericPoint], shown: dict[str, float]) -> None:
    for point in targets:
        true = shown.get(point.name, 0.0)
        base = entry.offsets.setdefault(point.name, true)
        shown[point.name] = max(0.0, true - base)


def _rollover(entry: _Active, targets: list[NumericPoint], shown: dict[str, float]) -> None:
    for point in targets:
        true = shown.get(point.name, 0.0)
        wrap = counter_rollover(point)
        offset = entry.offsets.setdefault(point.name, wrap - entry.fault.margin - true)
        shown[point.name] = (true + offset) % wrap
