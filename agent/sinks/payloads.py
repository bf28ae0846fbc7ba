"""Pure builders of what the sinks send: MQTT JSON payloads, topics and InfluxDB line protocol.

No I/O, no asyncio, no client library: every function maps plain values to bytes or strings, so the
contracts (schemas/mqtt/*.schema.json, docs/influxdb.md) are tested with plain values, fast.

Non-finite floats (NaN, inf) cannot be written as JSON or line protocol. In MQTT they travel as
`null` with quality `bad` and reason `non_finite`; in InfluxDB they are left out and counted in the
`bad_points` field, like every other bad value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from agent.readings.model import PollResult, Reading, Readings

__all__ = [
    "CONTROL_KIND",
    "CONTROL_PAYLOAD",
    "SCHEMA_AGENT_STATUS",
    "SCHEMA_DEVICE_STATUS",
    "SCHEMA_KPI",
    "SCHEMA_RATING",
    "SCHEMA_TELEMETRY",
    "agent_status_payload",
    "control_line",
    "device_status_payload",
    "escape_measurement",
    "escape_tag",
    "iso_utc",
    "kpi_payload",
    "line_protocol",
    "lines_for",
    "rating_payload",
    "telemetry_payload",
    "topic",
]

SCHEMA_TELEMETRY = "energy-agent/telemetry/1"
SCHEMA_DEVICE_STATUS = "energy-agent/device-status/1"
SCHEMA_AGENT_STATUS = "energy-agent/agent-status/1"
SCHEMA_KPI = "energy-agent/kpi/1"
SCHEMA_RATING = "energy-agent/rating/1"

CONTROL_KIND = "control"
"""`device_kind` of a sequencer record in the outbox (no profile has it): one room's cycle, `device`
the room, tag `mode`, its figures as numeric readings and the `{prefix}/{site}/control` message as
the string reading `CONTROL_PAYLOAD`. MQTT sends the message on the control topic, InfluxDB gets
`control_line`."""
CONTROL_PAYLOAD = "payload"


def topic(prefix: str, site: str, *parts: str) -> str:
    """`{prefix}/{site}/{parts...}`, e.g. topic("energy", "plant1", "meter1", "telemetry")."""
    return "/".join((prefix, site, *parts))


def iso_utc(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds (what humans and Grafana read)."""
    # Every device polled in one slot has the same ts: a few recent answers are kept.
    text = _ISO.get(ts)
    if text is None:
        if len(_ISO) >= 256:
            _ISO.clear()
        text = _ISO[ts] = (
            datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    return text


_ISO: dict[float, str] = {}


def _dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()


def telemetry_payload(result: PollResult, boot: float | None = None) -> bytes:
    """One poll as one JSON message (schemas/mqtt/telemetry.schema.json).

    `boot` (the accepting agent's start time) is added when known: seq restarts at 0 with every
    agent start, so a consumer tells a restart from a gap, and a duplicate, by (boot, device, seq).

    Built from cached fragments (the device header, each point's name, each unit/quality/reason
    tail), byte for byte what `json.dumps(..., separators=(",", ":"), ensure_ascii=False)` of the
    document gives: dicts plus `json.dumps` cost ~6 µs per point at 200 devices.
    """
    parts = [
        _header(result.site, result.device, result.device_kind, result.profile, result.area),
        _number(result.ts),
        ',"time":',
        _string(iso_utc(result.ts)),
        ',"seq":',
        _number(result.seq),
        ',"status":',
        _string(result.status),
        ',"error":',
        _optional_string(result.error),
        ',"requested_at":',
        _optional_number(result.requested_at),
        ',"latency_ms":',
        _optional_number(result.latency_ms),
        ',"tags":',
        _tags_json(result.tags),
        ',"points":{',
        _points_json(result.readings),
        "}",
    ]
    if boot is not None:
        parts.append(',"boot":')
        parts.append(_number(boot))
    parts.append("}")
    return "".join(parts).encode()


# Fragment caches are bounded: names, units and reasons come from profiles and a small vocabulary,
# but a long-running agent must not grow without limit on free-form error text.
_CACHE_LIMIT = 4096
_HEADERS: dict[tuple[str, str, str, str, str | None], str] = {}
_POINT_NAMES: dict[str, str] = {}
_POINT_TAILS: dict[tuple[str, str, str | None], str] = {}
_string = json.encoder.encode_basestring
_Key = TypeVar("_Key", bound=Hashable)


def _cached(cache: dict[_Key, str], key: _Key, build: Callable[[_Key], str]) -> str:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    text = cache[key] = build(key)
    return text


def _header(site: str, device: str, kind: str, profile: str, area: str | None) -> str:
    key = (site, device, kind, profile, area)
    return _HEADERS.get(key) or _cached(_HEADERS, key, _build_header)


def _build_header(key: tuple[str, str, str, str, str | None]) -> str:
    site, device, kind, profile, area = key
    return (
        f'{{"schema":{_string(SCHEMA_TELEMETRY)},"site":{_string(site)},"device":{_string(device)},'
        f'"kind":{_string(kind)},"profile":{_string(profile)},"area":{_optional_string(area)},"ts":'
    )


def _points_json(readings: Readings) -> str:
    """The "points" object's members. A poll whose points are all good finite numbers (the common
    case) fills the device's cached template in one `%` operation; anything else goes point by point."""
    plain = readings.plain_texts()
    if plain is not None:
        template = _points_template(readings.points, readings.units)
        if template is not None:
            return template % tuple(plain[0])
    # Keyed by point like the dict it replaces: a repeated name keeps its first place, last value.
    return ",".join({r.point: _point_fragment(r) for r in readings}.values())


# Per (points, units) tuple pair, keyed by identity: the poller shares both between polls of a device.
_TEMPLATES: dict[tuple[int, int], tuple[tuple[str, ...], tuple[str, ...], str | None]] = {}


def _points_template(points: tuple[str, ...], units: tuple[str, ...]) -> str | None:
    found = _TEMPLATES.get((id(points), id(units)))
    if found is not None and found[0] is points and found[1] is units:
        return found[2]
    template = None
    if len(set(points)) == len(points):  # a repeated name keeps the dict rule: point by point
        template = ",".join(
            _point_name(name).replace("%", "%%") + "%s" + _point_tail((unit, "good", None)).replace("%", "%%")
            for name, unit in zip(points, units, strict=True)
        )
    if len(_TEMPLATES) >= _CACHE_LIMIT:
        _TEMPLATES.clear()
    _TEMPLATES[(id(points), id(units))] = (points, units, template)  # keeps both alive: ids not reused
    return template


def _point_fragment(reading: Reading) -> str:
    value, quality, reason = reading.value, reading.quality, reading.reason
    if type(value) is float:
        if math.isfinite(value):
            encoded = float.__repr__(value)
        else:
            encoded, quality, reason = "null", "bad", reason or "non_finite"
    else:
        encoded = _json_value(value)
    name = _POINT_NAMES.get(reading.point) or _cached(_POINT_NAMES, reading.point, _point_name)
    tail_key = (reading.unit, quality, reason)
    tail = _POINT_TAILS.get(tail_key) or _cached(_POINT_TAILS, tail_key, _point_tail)
    return name + encoded + tail


def _point_name(point: str) -> str:
    return f'{_string(point)}:{{"v":'


def _point_tail(key: tuple[str, str, str | None]) -> str:
    unit, quality, reason = key
    return f',"u":{_string(unit)},"q":{_string(quality)},"r":{_optional_string(reason)}}}'


def _json_value(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is str:
        return _string(value)
    # Anything unusual (a subclass, a non-finite float) goes the reference way, errors included.
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


def _number(value: float) -> str:
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    return _json_value(value)


def _optional_number(value: float | None) -> str:
    return "null" if value is None else _number(value)


def _optional_string(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _tags_json(tags: Mapping[str, str]) -> str:
    return json.dumps(tags, separators=(",", ":"), ensure_ascii=False) if tags else "{}"


def device_status_payload(site: str, device: str, online: bool, reason: str | None, ts: float) -> bytes:
    """Retained availability of one device: changes only on transitions (online <-> offline)."""
    state = "online" if online else "offline"
    return _dumps(
        {
            "schema": SCHEMA_DEVICE_STATUS,
            "site": site,
            "device": device,
            "state": state,
            "reason": reason,
            "ts": ts,
            "time": iso_utc(ts),
        }
    )


def agent_status_payload(site: str, online: bool, reason: str | None, ts: float | None) -> bytes:
    """Retained agent availability; the offline form is also the MQTT last will (ts unknown: null)."""
    return _dumps(
        {
            "schema": SCHEMA_AGENT_STATUS,
            "site": site,
            "state": "online" if online else "offline",
            "reason": reason,
            "ts": ts,
            "time": None if ts is None else iso_utc(ts),
        }
    )


def kpi_payload(site: str, ts: float, period: str, values: Mapping[str, tuple[float | None, str]]) -> bytes:
    """KPIs of one period: `values` maps a KPI name to (value, unit); non-finite values become null."""
    return _dumps(
        {
            "schema": SCHEMA_KPI,
            "site": site,
            "ts": ts,
            "time": iso_utc(ts),
            "period": period,
            "values": {
                name: {"value": value if value is None or math.isfinite(value) else None, "unit": unit}
                for name, (value, unit) in values.items()
            },
        }
    )


def rating_payload(site: str, ts: float, package: Mapping[str, Any]) -> bytes:
    """The rating data package (owned by agent.rating) wrapped with site and time."""
    return _dumps({"schema": SCHEMA_RATING, "site": site, "ts": ts, "time": iso_utc(ts), "package": package})


# --- InfluxDB line protocol -------------------------------------------------------------------------

# The same escapes as influxdb-client's own Point (the reference writer): a backslash stays literal.
_CONTROL = {"\n": r"\n", "\t": r"\t", "\r": r"\r"}
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", **_CONTROL})
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", **_CONTROL})


def escape_measurement(name: str) -> str:
    """Measurement names escape commas, spaces and control characters."""
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_tag(text: str) -> str:
    """Tag keys, tag values and field keys also escape equals signs."""
    return text.translate(_TAG_ESCAPES)


def _field_value(value: object) -> str | None:
    """Line-protocol field value, or None when the value cannot be written as a number."""
    if isinstance(value, bool):
        return "1i" if value else "0i"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def _tags(result: PollResult) -> str:
    pairs: dict[str, str] = dict(result.tags)
    # The standard tags win over free-form device tags of the same name: they are the contract.
    pairs.update({"site": result.site, "device": result.device, "profile": result.profile})
    if result.area:
        pairs["area"] = result.area
    # Influx stores tags sorted; sending them sorted saves the server the work.
    return "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(pairs.items()) if k and v)


def control_line(result: PollResult) -> str:
    """A sequencer record: `control,site=,room=,mode= pressure_bar=..,running=2i,... <ms>`; a
    figure that is None or not finite is left out (commands, writes, alarms always stay)."""
    tags = {"site": result.site, "room": result.device, "mode": result.tags.get("mode", "")}
    series = "control" + "".join(f",{k}={escape_tag(v)}" for k, v in tags.items() if v)
    fields = []
    for reading in result.readings:
        if reading.point == CONTROL_PAYLOAD:
            continue
        encoded = _field_value(reading.value)
        if encoded is not None:
            fields.append(f"{escape_tag(reading.point)}={encoded}")
    return f"{series} {','.join(fields)} {round(result.ts * 1000)}"


def line_protocol(result: PollResult) -> str:
    """One line per poll: measurement = device kind, numeric good/stale values, ms timestamp.

    Strings are skipped (not numbers); bad or non-finite values are counted in `bad_points`, which
    also guarantees that every line has at least one field. A sequencer record is `control_line`.
    """
    if result.device_kind == CONTROL_KIND:
        return control_line(result)
    readings = result.readings
    ts_ms = round(result.ts * 1000)
    plain = readings.plain_texts()
    if plain is not None and plain[1]:  # floats only: an int field needs its "i" suffix
        template = _fields_template(readings.points)
        if template is not None:
            return f"{_series(result)} {template % tuple(plain[0])} {ts_ms}"
    fields: list[str] = []
    bad = 0
    for reading in readings:
        if isinstance(reading.value, str):
            continue
        encoded = _field_value(reading.value) if reading.quality != "bad" else None
        if encoded is None:
            bad += 1
            continue
        key = _FIELD_KEYS.get(reading.point) or _cached(_FIELD_KEYS, reading.point, escape_tag)
        fields.append(f"{key}={encoded}")
    fields.append(f"bad_points={bad}i")
    return f"{_series(result)} {','.join(fields)} {ts_ms}"


# Per points tuple (by identity, see _TEMPLATES): "key=%s,...,bad_points=0i" for float-only polls.
_FIELD_TEMPLATES: dict[int, tuple[tuple[str, ...], str | None]] = {}


def _fields_template(points: tuple[str, ...]) -> str | None:
    found = _FIELD_TEMPLATES.get(id(points))
    if found is not None and found[0] is points:
        return found[1]
    template = None
    if len(set(points)) == len(points):
        keys = [escape_tag(name).replace("%", "%%") for name in points]
        template = ",".join([*(f"{key}=%s" for key in keys), "bad_points=0i"])
    if len(_FIELD_TEMPLATES) >= _CACHE_LIMIT:
        _FIELD_TEMPLATES.clear()
    _FIELD_TEMPLATES[id(points)] = (points, template)
    return template


# Measurement and tags repeat for every poll of a device: sorted and escaped once, not per line.
_SERIES: dict[tuple[str, str, str, str, str | None, tuple[tuple[str, str], ...]], str] = {}
_FIELD_KEYS: dict[str, str] = {}


def _series(result: PollResult) -> str:
    key = (
        result.device_kind,
        result.site,
        result.device,
        result.profile,
        result.area,
        tuple(result.tags.items()),
    )
    found = _SERIES.get(key)
    if found is None:
        found = _cached(_SERIES, key, lambda _: f"{escape_measurement(result.device_kind)}{_tags(result)}")
    return found


def lines_for(results: Iterable[PollResult]) -> list[str]:
    """Line protocol for many polls, one line each, in order."""
    return [line_protocol(r) for r in results]
