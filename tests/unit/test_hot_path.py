"""The poll path's fast forms give exactly what the plain per-point forms give.

The block decoder unpacks a whole block of plain numbers with one struct call, readings travel as
columns, and the MQTT payload and line protocol of an all-good poll fill a cached template: each is
checked here against a reference written the slow, obvious way, over many generated inputs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config.profile import Order, Profile
from agent.modbus.decode import decode_block, decode_block_columns
from agent.modbus.plan import plan_for_profile
from agent.outbox import codec
from agent.outbox.codec import _encode, decode_result, encode_result
from agent.outbox.store import Outbox
from agent.readings.model import PollResult, Reading, Readings
from agent.sinks import payloads

DTYPES = ("int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64")
WIDTH = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "int64": 4,
    "uint64": 4,
    "float32": 2,
    "float64": 4,
}


@st.composite
def numeric_profiles(draw: st.DrawFn) -> Profile:
    count = draw(st.integers(1, 12))
    plain = draw(st.booleans())  # half the profiles take the one-unpack path
    order = draw(st.sampled_from(list(Order)))
    points, address = [], 0
    for i in range(count):
        dtype = draw(st.sampled_from(DTYPES))
        address += draw(st.integers(0, 2))  # gaps the block reads through
        point: dict[str, Any] = {"name": f"p{i}", "function": "holding", "address": address, "dtype": dtype}
        if not plain:
            if draw(st.booleans()):
                point["scale"] = draw(st.sampled_from([0.1, 0.01, 10.0, 1.0]))
            if draw(st.booleans()):
                point["valid_range"] = (-1000.0, 1000.0)
            if draw(st.booleans()):
                point["sentinels"] = [0xFFFF] if WIDTH[dtype] == 1 else [0]
            if draw(st.booleans()):
                point["order"] = draw(st.sampled_from(list(Order))).value
        points.append(point)
        address += WIDTH[dtype]
    return Profile.model_validate(
        {
            "id": "prop/meter",
            "vendor": "prop",
            "model": "meter",
            "device_kind": "power_meter",
            "order": order.value,
            "max_registers_per_read": 125,
            "points": points,
        }
    )


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_block_columns_equal_the_per_point_decode(data: st.DataObject) -> None:
    profile = data.draw(numeric_profiles())
    for block in plan_for_profile(profile):
        words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=block.count, max_size=block.count))
        reference = decode_block(block, words, profile)
        values, issues = decode_block_columns(block, words, profile)
        assert len(values) == len(block.points)
        for i, name in enumerate(block.points):
            expected = reference[name]
            assert _same(values[i], expected.value), name
            if expected.quality == "good" and expected.reason is None:
                assert issues is None or issues[i] is None, name
            else:
                assert issues is not None, name
                assert issues[i] == expected, name


def test_a_nan_in_a_plain_float_block_is_found_by_the_per_point_path() -> None:
    profile = Profile.model_validate(
        {
            "id": "prop/f",
            "vendor": "prop",
            "model": "f",
            "device_kind": "other",
            "points": [
                {"name": "a", "function": "holding", "address": 0, "dtype": "float32"},
                {"name": "b", "function": "holding", "address": 2, "dtype": "float32"},
            ],
        }
    )
    (block,) = plan_for_profile(profile)
    values, issues = decode_block_columns(block, [0x4366, 0x8000, 0x7FC0, 0x0000], profile)  # 230.5, NaN
    assert values == [230.5, None]
    assert issues is not None
    assert issues[0] is None
    assert issues[1] is not None
    assert (issues[1].quality, issues[1].reason) == ("bad", "non_finite")


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


# --- readings as columns -----------------------------------------------------------------------------


def test_readings_iterate_as_readings_and_forget_all_good_qualities() -> None:
    rows = [Reading("a", 1.5, "kW"), Reading("b", 2, "")]
    readings = Readings.of(rows)
    assert readings.qualities is None
    assert readings.reasons is None
    assert list(readings) == rows
    assert readings == tuple(rows)
    assert readings[1] == rows[1]
    assert readings.get("b") == rows[1]
    assert readings.get("zz") is None
    flagged = Readings.of([*rows, Reading("c", None, "V", "bad", "timeout")])
    assert flagged.qualities == ["good", "good", "bad"]
    assert flagged.reason(2) == "timeout"
    assert flagged[2] == Reading("c", None, "V", "bad", "timeout")


def test_readings_refuse_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="2 points, 1 values"):
        Readings(("a", "b"), [1.0], ("", ""))
    with pytest.raises(ValueError, match="together"):
        Readings(("a",), [1.0], ("",), ["good"], None)


# --- payloads: template vs reference -----------------------------------------------------------------

names = st.text(alphabet=st.sampled_from('ab_%"\\ =,é1'), min_size=1, max_size=6)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), 2**64),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
)
readings_lists = st.lists(
    st.tuples(
        names,
        values,
        st.sampled_from(["kW", "kWh", "%", ""]),
        st.sampled_from(["good", "good", "good", "stale", "bad"]),
        st.sampled_from([None, None, "timeout"]),
    ),
    max_size=8,
)
all_good_floats = st.lists(
    st.tuples(
        names, st.floats(allow_nan=False, allow_infinity=False, width=32), st.sampled_from(["kW", "%", ""])
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda t: t[0],
)


def poll(rows: list[Reading]) -> PollResult:
    return PollResult(
        site="plant 1",
        device="m,1",
        device_kind="power_meter",
        profile="acme/m",
        ts=1_717_200_000.25,
        seq=7,
        readings=tuple(rows),
        area="hall=a",
        requested_at=1_717_200_000.26,
        latency_ms=3.5,
        tags={"line": "l 1"},
    )


def reference_telemetry(result: PollResult, boot: float) -> bytes:
    points: dict[str, Any] = {}
    for r in result.readings:
        value, quality, reason = r.value, r.quality, r.reason
        if isinstance(value, float) and not math.isfinite(value):
            value, quality, reason = None, "bad", reason or "non_finite"
        points[r.point] = {"v": value, "u": r.unit, "q": quality, "r": reason}
    document = {
        "schema": payloads.SCHEMA_TELEMETRY,
        "site": result.site,
        "device": result.device,
        "kind": result.device_kind,
        "profile": result.profile,
        "area": result.area,
        "ts": result.ts,
        "time": payloads.iso_utc(result.ts),
        "seq": result.seq,
        "status": result.status,
        "error": result.error,
        "requested_at": result.requested_at,
        "latency_ms": result.latency_ms,
        "tags": result.tags,
        "points": points,
        "boot": boot,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def reference_fields(result: PollResult) -> str:
    fields, bad = [], 0
    for r in result.readings:
        if isinstance(r.value, str):
            continue
        if (
            r.quality == "bad"
            or r.value is None
            or (isinstance(r.value, float) and not math.isfinite(r.value))
        ):
            bad += 1
            continue
        if isinstance(r.value, bool):
            text = "1i" if r.value else "0i"
        elif isinstance(r.value, int):
            text = f"{r.value}i"
        else:
            text = repr(r.value)
        fields.append(f"{payloads.escape_tag(r.point)}={text}")
    return ",".join([*fields, f"bad_points={bad}i"])


@settings(max_examples=600, deadline=None)
@given(rows=st.one_of(readings_lists, all_good_floats))
def test_telemetry_and_line_protocol_equal_the_reference(rows: list[tuple[Any, ...]]) -> None:
    result = poll([Reading(*row) for row in rows])
    assert payloads.telemetry_payload(result, 1_700_000_000.0) == reference_telemetry(result, 1_700_000_000.0)
    line = payloads.line_protocol(result)
    assert line == "power_meter,area=hall\\=a,device=m\\,1,line=l\\ 1,profile=acme/m,site=plant\\ 1 " + (
        f"{reference_fields(result)} 1717200000250"
    )


@settings(max_examples=300, deadline=None)
@given(rows=st.one_of(readings_lists, all_good_floats))
def test_outbox_rows_decode_to_the_result_they_were_encoded_from(rows: list[tuple[Any, ...]]) -> None:
    result = poll([Reading(*row) for row in rows])
    decoded = decode_result(_encode(result))  # _encode: no cache, the JSON is really parsed
    assert decoded.readings.points == result.readings.points
    assert all(_same(a, b) for a, b in zip(decoded.readings.values, result.readings.values, strict=True))
    assert [r[2:] for r in decoded.readings] == [r[2:] for r in result.readings]
    assert decode_result(encode_result(result)) is result  # cached: the same object, no parse


def test_a_row_written_before_columns_still_decodes() -> None:
    old = (
        '["plant1","m1","power_meter","acme/m",1717200000.0,3,"partial",null,null,null,null,{},'
        '[["kw",1.5,"kW","good",null],["kwh",null,"kWh","bad","timeout"]]]'
    )
    result = decode_result(old)
    assert (result.device, result.seq, result.status) == ("m1", 3, "partial")
    assert list(result.readings) == [Reading("kw", 1.5, "kW"), Reading("kwh", None, "kWh", "bad", "timeout")]


def test_the_outbox_keeps_a_cached_result_until_every_sink_has_read_it(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", ["mqtt", "influx"])
    try:
        result = dataclasses.replace(poll([Reading("kw", 1.5, "kW")]), ts=time.time())  # not aged out
        outbox.put_many([result])
        body = _encode(result)  # the body the outbox stored (the encoding is deterministic)
        cached = len(codec._recent)
        assert outbox.read_after("mqtt", 10)[0].result is result  # no JSON parse: the accepted object
        assert len(codec._recent) == cached  # the second sink has not read it yet
        assert outbox.read_after("influx", 10)[0].result is result
        assert len(codec._recent) == cached - 1  # both have it: it leaves the cache
        assert decode_result(body, 2) == result  # a later read (a resend) parses the stored JSON
    finally:
        outbox.close()
