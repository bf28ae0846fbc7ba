"""Compact, lossless encoding of a PollResult for the outbox (JSON arrays, no key names).

JSON keeps int/float/bool/str/None apart, so a value comes back with the type it went in with;
NaN and infinity are allowed here (Python's JSON extension) because the outbox is private storage.

A row is the result's fields, then its readings as columns: points, values, units, and qualities
and reasons (both null when every point is good). Rows written before the columns (13 fields, the
readings as one [point, value, unit, quality, reason] list each) still decode: an outbox that
outlived an upgrade is delivered as it was accepted.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from agent.readings.model import PollResult, Reading, Readings

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
    units = result.readings.units
    known = _counter_units.get(id(units))
    if known is not None and known[0] is units:
        return known[1]
    answer = any(unit.lower() in ENERGY_UNITS for unit in units)
    if len(_counter_units) >= 4096:
        _counter_units.clear()
    _counter_units[id(units)] = (units, answer)  # keeps the tuple alive: its id is not reused
    return answer


# The poller shares one units tuple between every poll of a device: the answer is kept per tuple.
_counter_units: dict[int, tuple[tuple[str, ...], bool]] = {}


class _RecentBodies:
    """The last few thousand encoded bodies and the results they came from.

    Every sink's forwarder reads each row back within a second or so of its commit; rebuilding the
    PollResult and its Readings from JSON was a third of the agent's CPU per point. A body that is
    still here decodes to the very result that was encoded (an equal value: the encoding is
    lossless), so the JSON parse is skipped; a body that was evicted (a replay after an outage, a
    restart) is parsed as before.

    An entry leaves once `readers` reads took it (every sink has its copy), so the cache holds just
    the rows not yet read by every sink (a few hundred at 200 devices: ~5 KB each with its value
    texts, it was 11 MB when the full capacity stayed filled); `capacity` bounds it while a sink is
    down and never reads.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, list[Any]] = OrderedDict()  # body -> [result, reads so far]
        self._lock = threading.Lock()  # encode and decode run in different worker threads

    def add(self, body: str, result: PollResult) -> None:
        with self._lock:
            self._items[body] = [result, 0]
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, body: str, readers: int) -> PollResult | None:
        with self._lock:
            entry = self._items.get(body)
            if entry is None:
                return None
            entry[1] += 1
            if entry[1] >= readers:
                del self._items[body]
            result: PollResult = entry[0]
            return result

    def __len__(self) -> int:
        return len(self._items)


_recent = _RecentBodies(capacity=2048)


def encode_result(result: PollResult) -> str:
    body = _encode(result)
    _recent.add(body, result)
    return body


def _encode(result: PollResult) -> str:
    readings = result.readings
    head = json.dumps(
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
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    plain = readings.plain_texts()
    if plain is not None:  # all good numbers: the texts the sinks will use too, no second repr
        values = ",".join(plain[0])
        tail = "null,null"
    else:
        values = json.dumps(readings.values, separators=(",", ":"), ensure_ascii=False)[1:-1]
        tail = json.dumps([readings.qualities, readings.reasons], separators=(",", ":"), ensure_ascii=False)[
            1:-1
        ]
    return f"{head[:-1]},{_names_json(readings.points)},[{values}],{_names_json(readings.units)},{tail}]"


# Point names and units repeat in every row of a device: their JSON is kept per tuple (by identity,
# the poller shares its tuples between polls; each entry keeps its tuple alive so the id is not reused).
_NAMES_JSON: dict[int, tuple[tuple[str, ...], str]] = {}


def _names_json(names: tuple[str, ...]) -> str:
    found = _NAMES_JSON.get(id(names))
    if found is not None and found[0] is names:
        return found[1]
    text = json.dumps(names, separators=(",", ":"), ensure_ascii=False)
    if len(_NAMES_JSON) >= 4096:
        _NAMES_JSON.clear()
    _NAMES_JSON[id(names)] = (names, text)
    return text


def _reading(item: list[Any]) -> Reading:
    point, value, unit, quality, reason = item
    return Reading(point, value, unit, quality, reason)


def decode_result(body: str, readers: int = 1) -> PollResult:
    """The result a body encodes. `readers`: how many reads of this body to expect (the outbox's
    sink count); the cached result is kept until that many took it."""
    recent = _recent.get(body, readers)
    if recent is not None:
        return recent
    fields = json.loads(body)
    (site, device, kind, profile, ts, seq, status, error, area, requested_at, latency_ms, tags) = fields[:12]
    if len(fields) == 13:  # written before readings were columns
        readings = Readings.of(_reading(item) for item in fields[12])
    else:
        points, values, units, qualities, reasons = fields[12:]
        readings = Readings(tuple(points), values, tuple(units), qualities, reasons)
    return PollResult(
        site=site,
        device=device,
        device_kind=kind,
        profile=profile,
        ts=ts,
        seq=seq,
        readings=readings,
        status=status,
        error=error,
        area=area,
        requested_at=requested_at,
        latency_ms=latency_ms,
        tags=tags,
    )
