"""What flows from the poller to the sinks: one `PollResult` per device poll, holding its `Readings`.

Quality travels with every value (good / stale / bad + a short machine-readable reason), so a sink or
an analyst never has to guess from the log whether a number can be trusted.

`Readings` keeps one poll's points as columns (names, values, units, and qualities/reasons only when
some point is not good): at 200 devices x 30 points a second, one object per point was the poller's
top cost, and every sink renders a whole poll at once anyway. Iterating it still yields `Reading`s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, overload

__all__ = ["PollResult", "PollStatus", "Quality", "Reading", "Readings", "Value"]

Quality = Literal["good", "stale", "bad"]
PollStatus = Literal["ok", "partial", "failed"]
Value = float | int | bool | str | None


_NUMBER_TYPES = frozenset({float, int})
_FLOAT_ONLY = frozenset({float})


class Reading(NamedTuple):
    """One point's value at one poll."""

    point: str
    value: Value
    unit: str = ""
    quality: Quality = "good"
    reason: str | None = None  # e.g. "timeout", "non_finite", "sentinel", "counter_reset", "glitch"


class Readings(Sequence[Reading]):
    """One poll's readings as columns, in the device's point order.

    `qualities` and `reasons` are None when every point is good with no reason (the common case,
    which the sinks render from cached templates); otherwise both have one entry per point.
    `points` and `units` are usually the poller's own tuples, shared by every poll of the device.
    """

    __slots__ = ("_texts", "points", "qualities", "reasons", "units", "values")

    def __init__(
        self,
        points: tuple[str, ...],
        values: Sequence[Value],
        units: tuple[str, ...],
        qualities: Sequence[Quality] | None = None,
        reasons: Sequence[str | None] | None = None,
    ) -> None:
        if not len(points) == len(values) == len(units):
            raise ValueError(f"readings: {len(points)} points, {len(values)} values, {len(units)} units")
        if (qualities is None) != (reasons is None):
            raise ValueError("readings: qualities and reasons go together")
        if qualities is not None and reasons is not None:
            if not len(qualities) == len(reasons) == len(points):
                raise ValueError(
                    f"readings: {len(points)} points, {len(qualities)} qualities, {len(reasons)} reasons"
                )
            if all(q == "good" for q in qualities) and all(r is None for r in reasons):
                qualities = reasons = None
        self.points = points
        self.values = values
        self.units = units
        self.qualities = qualities
        self.reasons = reasons
        self._texts: tuple[list[str], bool] | bool | None = False  # False: not computed yet

    @classmethod
    def of(cls, readings: Iterable[Reading]) -> Readings:
        """Columns from row-wise readings (tests, the outbox's old row format, derived points)."""
        rows = [Reading(*r) for r in readings]
        return cls(
            tuple(r.point for r in rows),
            [r.value for r in rows],
            tuple(r.unit for r in rows),
            [r.quality for r in rows],
            [r.reason for r in rows],
        )

    @property
    def all_good(self) -> bool:
        return self.qualities is None

    def plain_texts(self) -> tuple[list[str], bool] | None:
        """`repr` of every value and whether all are floats, when every point is good and every value
        an exact finite float or int (not bool); else None.

        That text is what JSON and line protocol write for such a number, so the outbox row, the
        MQTT payload and the line of one poll share one conversion (float repr is the costliest
        step of rendering). Computed on first use; two threads racing compute the same answer.
        """
        texts = self._texts
        if texts is False:
            texts = self._texts = self._plain_texts()
        return texts  # type: ignore[return-value]  # False was replaced above

    def _plain_texts(self) -> tuple[list[str], bool] | None:
        if self.qualities is not None:
            return None
        values = self.values
        kinds = frozenset(map(type, values))
        if not kinds or not kinds <= _NUMBER_TYPES:
            return None
        try:
            if not math.isfinite(sum(values)):  # type: ignore[arg-type]  # numbers, checked above
                return None
        except OverflowError:  # ints beyond float range: exact, but leave them to the slow path
            return None
        return list(map(repr, values)), kinds == _FLOAT_ONLY

    def quality(self, index: int) -> Quality:
        return "good" if self.qualities is None else self.qualities[index]

    def reason(self, index: int) -> str | None:
        return None if self.reasons is None else self.reasons[index]

    def get(self, point: str) -> Reading | None:
        """The first reading of `point`, or None."""
        try:
            return self[self.points.index(point)]
        except ValueError:
            return None

    def __len__(self) -> int:
        return len(self.points)

    @overload
    def __getitem__(self, index: int) -> Reading: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Reading]: ...

    def __getitem__(self, index: int | slice) -> Reading | Sequence[Reading]:
        if isinstance(index, slice):
            return tuple(self)[index]
        if self.qualities is None or self.reasons is None:
            return Reading(self.points[index], self.values[index], self.units[index])
        return Reading(
            self.points[index],
            self.values[index],
            self.units[index],
            self.qualities[index],
            self.reasons[index],
        )

    def __iter__(self) -> Iterator[Reading]:
        if self.qualities is None or self.reasons is None:
            return map(Reading, self.points, self.values, self.units)
        return map(Reading, self.points, self.values, self.units, self.qualities, self.reasons)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Readings):
            return tuple(self) == tuple(other)
        if isinstance(other, tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to tuples and lists: not hashable

    def __repr__(self) -> str:
        return f"Readings({list(self)!r})"


@dataclass(frozen=True, slots=True)
class PollResult:
    """Everything one scheduled poll of one device produced (one MQTT telemetry message).

    `ts` is the scheduled slot (UTC epoch seconds, wall-clock aligned), not when the request happened;
    `requested_at` and `latency_ms` keep the real timing as metadata. `seq` increases by one per poll
    of the device, so a consumer can prove there are no gaps. `readings` may be given as any sequence
    of `Reading`s; it is kept as `Readings`.
    """

    site: str
    device: str
    device_kind: str
    profile: str
    ts: float
    seq: int
    readings: Readings
    status: PollStatus = "ok"
    error: str | None = None
    area: str | None = None
    requested_at: float | None = None
    latency_ms: float | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.readings, Readings):
            object.__setattr__(self, "readings", Readings.of(self.readings))  # type: ignore[unreachable]
