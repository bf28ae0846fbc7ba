"""encode_point and decode_point are exact inverses for every dtype and order."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from agent.config.profile import NumericPoint, Order, StringPoint
from agent.modbus.decode import decode_point, encode_point

INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
orders = st.sampled_from(list(Order))


def num(dtype: str, **extra: object) -> NumericPoint:
    return NumericPoint.model_validate(
        {"name": "p", "function": "holding", "address": 0, "dtype": dtype, **extra}
    )


@given(
    st.sampled_from(sorted(INT_RANGES)).flatmap(lambda d: st.tuples(st.just(d), st.integers(*INT_RANGES[d]))),
    orders,
)
def test_integers_round_trip(dtype_and_value: tuple[str, int], order: Order) -> None:
    dtype, value = dtype_and_value
    point = num(dtype)
    registers = encode_point(point, value, order)
    assert all(0 <= r <= 0xFFFF for r in registers)
    decoded = decode_point(point, registers, order)
    assert (decoded.value, decoded.quality) == (value, "good")
    assert type(decoded.value) is int


@given(st.floats(width=32, allow_nan=False, allow_infinity=False), orders)
def test_float32_round_trips(value: float, order: Order) -> None:
    point = num("float32")
    assert decode_point(point, encode_point(point, value, order), order).value == value


@given(st.floats(allow_nan=False, allow_infinity=False), orders)
def test_float64_round_trips(value: float, order: Order) -> None:
    point = num("float64")
    assert decode_point(point, encode_point(point, value, order), order).value == value


@given(st.integers(0, 2**32 - 1), st.sampled_from([0.1, 0.01, 0.001]), orders)
def test_scaled_integers_round_trip_to_their_decimal_value(raw: int, scale: float, order: Order) -> None:
    point = num("uint32", scale=scale)
    value = decode_point(point, encode_point(point, raw * scale, order), order).value
    assert isinstance(value, float)
    assert math.isclose(value, raw * scale, rel_tol=1e-12, abs_tol=1e-12)
    assert encode_point(point, value, order) == encode_point(point, raw * scale, order)


@given(
    st.integers(1, 8).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=2 * n)
            | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=2 * n).map(str.strip),
        )
    ),
    st.booleans(),
)
def test_ascii_strings_round_trip(length_and_text: tuple[int, str], swap_bytes: bool) -> None:
    length, text = length_and_text
    point = StringPoint(
        name="s", function="holding", address=0, dtype="string", length=length, swap_bytes=swap_bytes
    )
    registers = encode_point(point, text, Order.ABCD)
    assert len(registers) == length
    assert decode_point(point, registers, Order.ABCD).value == text
