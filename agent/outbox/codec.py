"""Compact, lossless encoding of a PollResult for the outbox (JSON arrays, no key names).

JSON keeps int/float/bool/str/None apart, so a value comes back with the type it went in with;
NaN and infinity are allowed here (Python's JSON extension) because the outbox is private storage.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from agent.readings.model import PollResult, Reading

__all__ = ["ENERGY_UNITS", "carries_counter", "decode_result", "encode_result"]

# Units of accumulated quantities: a row holding one of them cannot be rebuilt from later rows.
ENERGY_UNITS = frozenset(
    {
        "wh",
        "kwh",
        "mwh",
        "varh",
        "kvarh",
        "mvarh",
        "vah",
        "kvah",
        "m3",
        "nm3",
        "t",
        "kg",
        "gj",
        "mj",
        "h",
        "pcs",
    }
)


def carries_counter(result: PollResult) -> bool:
    """Default priority rule: a poll with any energy/volume/count-like unit is counter data.

    Counter rows are dropped last when the outbox is full: a missing gauge sample leaves a gap in a
    curve, a missing counter sample can move energy between intervals. The runtime can pass a rule
    built from the profiles' `kind: counter` instead.
    """
    return any(r.unit.lower() in ENERGY_UNITS for r in result.readings)


class _RecentBodies:
    """The last few thousand encoded bodies and the results they came from.

    Every sink's forwarder reads each row back within a second or so of its commit; rebuilding the
    PollResult and its Readings from JSON was a third of the agent's CPU per point. A body that is
    still here decodes to the very result that was encoded (an equal value: the encoding is
    lossless), so the JSON parse is skipped; a body that was evicted (a replay after an outage, a
    restart) is parsed as before. Bounded, so the cache costs a fixed few MB at most.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, PollResult] = OrderedDict()
        self._lock = threading.Lock()  # encode and decode run in different worker threads

    def add(self, body: str, result: PollResult) -> None:
        with self._lock:
            self._items[body] = result
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, body: str) -> PollResult | None:
        with self._lock:
            return self._items.get(body)


_recent = _RecentBodies(capacity=2048)


def encode_result(result: PollResult) -> str:
    body = _encode(result)
    _recent.add(body, result)
    return body


def _encode(result: PollResult) -> str:
    readings = [[r.point, r.value, r.unit, r.quality, r.reason] for r in result.readings]
    return json.dumps(
        [
            result.site,
            result.device,
            result.device_kind,
            result.profile,
            result.ts,
            result.seq,
            result.status,
            result.error,
            result.area,
            result.requested_at,
            result.latency_ms,
            result.tags,
            readings,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _reading(item: list[Any]) -> Reading:
    point, value, unit, quality, reason = item
    return Reading(point=point, value=value, unit=unit, quality=quality, reason=reason)


def decode_result(body: str) -> PollResult:
    recent = _recent.get(body)
    if recent is not None:
        return recent
    (site, device, kind, profile, ts, seq, status, error, area, requested_at, latency_ms, tags, readings) = (
        json.loads(body)
    )
    return PollResult(
        site=site,
        device=device,
        device_kind=kind,
        profile=profile,
        ts=ts,
        seq=seq,
        readings=tuple(_reading(item) for item in readings),
        status=status,
        error=error,
        area=area,
        requested_at=requested_at,
        latency_ms=latency_ms,
        tags=tags,
    )
