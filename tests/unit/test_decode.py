"""Register codec: byte vectors worked out by hand from IEEE 754 / two's complement, not from the code."""

from __future__ import annotations

import pytest

from agent.config.profile import (
    BitPoint,
    BoolPoint,
    Function,
    NumericPoint,
    Order,
    Profile,
    StringPoint,
)
from agent.errors import DecodeError
from agent.modbus.decode import Decoded, decode_bits, decode_block, decode_point, encode_point
from agent.modbus.plan import ReadBlock, plan_for_profile

INPUT, HOLDING = Function.INPUT, Function.HOLDING
ABCD, CDAB, BADC, DCBA = Order.ABCD, Order.CDAB, Order.BADC, Order.DCBA


def num(dtype: str, address: int = 0, name: str = "p", **extra: object) -> NumericPoint:
    return NumericPoint.model_validate(
        {"name": name, "function": "input", "address": address, "dtype": dtype, **extra}
    )


def good(value: object) -> Decoded:
    return Decoded(value, "good", None)  # type: ignore[arg-type]


# (dtype, order, registers on the wire, value)
VECTORS = [
    # 230.5 = 0x43668000
    ("float32", ABCD, [0x4366, 0x8000], 230.5),
    ("float32", CDAB, [0x8000, 0x4366], 230.5),
    ("float32", BADC, [0x6643, 0x0080], 230.5),
    ("float32", DCBA, [0x0080, 0x6643], 230.5),
    # -1.0 = 0xBF800000
    ("float32", ABCD, [0xBF80, 0x0000], -1.0),
    ("float32", CDAB, [0x0000, 0xBF80], -1.0),
    # 230.5 = 0x406CD00000000000
    ("float64", ABCD, [0x406C, 0xD000, 0x0000, 0x0000], 230.5),
    ("float64", CDAB, [0x0000, 0x0000, 0xD000, 0x406C], 230.5),
    ("float64", BADC, [0x6C40, 0x00D0, 0x0000, 0x0000], 230.5),
    ("float64", DCBA, [0x0000, 0x0000, 0x00D0, 0x6C40], 230.5),
    ("int16", ABCD, [0xFFFF], -1),
    ("int16", ABCD, [0x8000], -32768),
    ("int16", ABCD, [0x7FFF], 32767),
    ("uint16", ABCD, [0xFFFF], 65535),
    # -100000 = 0xFFFE7960
    ("int32", ABCD, [0xFFFE, 0x7960], -100000),
    ("int32", CDAB, [0x7960, 0xFFFE], -100000),
    ("int32", BADC, [0xFEFF, 0x6079], -100000),
    ("int32", DCBA, [0x6079, 0xFEFF], -100000),
    # 4,000,000,000 = 0xEE6B2800
    ("uint32", ABCD, [0xEE6B, 0x2800], 4_000_000_000),
    ("uint32", CDAB, [0x2800, 0xEE6B], 4_000_000_000),
    # 0x0123456789ABCDEF = 81985529216486895
    ("uint64", ABCD, [0x0123, 0x4567, 0x89AB, 0xCDEF], 81985529216486895),
    ("uint64", CDAB, [0xCDEF, 0x89AB, 0x4567, 0x0123], 81985529216486895),
    ("uint64", BADC, [0x2301, 0x6745, 0xAB89, 0xEFCD], 81985529216486895),
    ("uint64", DCBA, [0xEFCD, 0xAB89, 0x6745, 0x2301], 81985529216486895),
    ("uint64", ABCD, [0xFFFF] * 4, 2**64 - 1),
    ("int64", ABCD, [0xFFFF] * 4, -1),
    ("int64", ABCD, [0x8000, 0, 0, 0], -(2**63)),
    ("int64", CDAB, [0, 0, 0, 0x8000], -(2**63)),
]


@pytest.mark.parametrize(("dtype", "order", "registers", "value"), VECTORS)
def test_registers_decode_to_the_hand_computed_value(
    dtype: str, order: Order, registers: list[int], value: float
) -> None:
    decoded = decode_point(num(dtype), registers, order)
    assert decoded == good(value)
    assert type(decoded.value) is type(value)


@pytest.mark.parametrize(("dtype", "order", "registers", "value"), VECTORS)
def test_value_encodes_to_the_hand_computed_registers(
    dtype: str, order: Order, registers: list[int], value: float
) -> None:
    assert encode_point(num(dtype), value, order) == registers


@pytest.mark.parametrize(
    ("dtype", "registers", "scale", "offset", "value"),
    [
        ("uint16", [2305], 0.1, 0.0, 230.5),
        ("int16", [0xFFFF], 0.01, 0.0, -0.01),
        ("uint16", [1000], 0.1, -40.0, 60.0),
        ("uint32", [0x0001, 0x86A0], 0.001, 0.0, 100.0),  # 100000 Wh -> kWh
        ("float32", [0x4366, 0x8000], 0.001, 0.0, 0.2305),  # W -> kW
    ],
)
def test_scale_and_offset_apply_to_the_raw_value(
    dtype: str, registers: list[int], scale: float, offset: float, value: float
) -> None:
    decoded = decode_point(num(dtype, scale=scale, offset=offset), registers, ABCD)
    assert decoded.quality == "good"
    assert decoded.value == pytest.approx(value, rel=1e-12)


def test_decimal_scale_leaves_no_float_noise_on_integers() -> None:
    assert decode_point(num("uint16", scale=0.1), [2305], ABCD).value == 230.5  # not 230.50000000000003


def test_integers_stay_int_without_scaling() -> None:
    assert type(decode_point(num("uint16"), [7], ABCD).value) is int
    assert type(decode_point(num("uint16", scale=2), [7], ABCD).value) is float


@pytest.mark.parametrize(
    ("registers", "name"),
    [([0x7FC0, 0x0000], "quiet NaN"), ([0x7F80, 0x0000], "+inf"), ([0xFF80, 0x0000], "-inf")],
)
def test_nan_and_infinity_are_bad_non_finite(registers: list[int], name: str) -> None:
    assert decode_point(num("float32"), registers, ABCD) == Decoded(None, "bad", "non_finite")


def test_float64_nan_is_bad_non_finite() -> None:
    decoded = decode_point(num("float64"), [0x7FF8, 0, 0, 0], ABCD)
    assert decoded.reason == "non_finite"


@pytest.mark.parametrize(
    ("dtype", "sentinels", "registers"),
    [
        ("uint16", (65535,), [0xFFFF]),
        ("int16", (-32768,), [0x8000]),
        ("int16", (0xFFFF,), [0xFFFF]),  # a register pattern also matches the signed reading (-1)
        ("int32", (0xFFFFFFFF,), [0xFFFF, 0xFFFF]),
        ("uint32", (0xFFFFFFFF,), [0xFFFF, 0xFFFF]),
        ("float32", (-1.0,), [0xBF80, 0x0000]),
    ],
)
def test_raw_sentinel_is_bad_sentinel(dtype: str, sentinels: tuple[float, ...], registers: list[int]) -> None:
    assert decode_point(num(dtype, sentinels=sentinels), registers, ABCD) == Decoded(None, "bad", "sentinel")


def test_sentinel_matches_the_raw_value_not_the_scaled_one() -> None:
    point = num("uint16", scale=0.1, sentinels=(65535,))
    assert decode_point(point, [0xFFFF], ABCD).reason == "sentinel"
    assert decode_point(point, [6553], ABCD) == good(655.3)


def test_value_outside_valid_range_is_bad_but_reported() -> None:
    point = num("float32", valid_range=(0, 500))
    assert decode_point(point, [0x4416, 0x0000], ABCD) == Decoded(600.0, "bad", "out_of_range")
    assert decode_point(point, [0x4366, 0x8000], ABCD) == good(230.5)


def test_valid_range_applies_after_scaling() -> None:
    point = num("uint16", scale=0.1, valid_range=(0, 500))
    assert decode_point(point, [5000], ABCD) == good(500.0)
    assert decode_point(point, [5001], ABCD).reason == "out_of_range"


@pytest.mark.parametrize(("dtype", "registers"), [("float32", [0x4366]), ("int16", [1, 2]), ("float64", [])])
def test_wrong_register_count_raises_decode_error_naming_the_point(dtype: str, registers: list[int]) -> None:
    with pytest.raises(DecodeError, match=f"'volts' \\({dtype}\\) needs"):
        decode_point(num(dtype, name="volts"), registers, ABCD)


def test_register_above_16_bits_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"'p'.*0\.\.65535"):
        decode_point(num("uint16"), [70000], ABCD)


# --- bits, bools, strings ------------------------------------------------------------------------------


def bit(bit_no: int) -> BitPoint:
    return BitPoint(name="flag", function=HOLDING, address=0, dtype="bits", bit=bit_no)


@pytest.mark.parametrize(
    ("register", "bit_no", "value"),
    [
        (0x8005, 0, True),
        (0x8005, 1, False),
        (0x8005, 2, True),
        (0x8005, 14, False),
        (0x8005, 15, True),
        (0x0100, 8, True),
        (0x0100, 7, False),
        (0x0080, 7, True),
    ],
)
def test_bit_point_reads_one_bit_of_the_register(register: int, bit_no: int, value: bool) -> None:
    assert decode_point(bit(bit_no), [register], ABCD) == good(value)
    assert decode_point(bit(bit_no), [register], ABCD).value is value


@pytest.mark.parametrize(("register", "value"), [(0, False), (1, True), (0x8000, True), (0x0100, True)])
def test_bool_register_is_true_when_non_zero(register: int, value: bool) -> None:
    point = BoolPoint(name="on", function=HOLDING, address=0, dtype="bool")
    assert decode_point(point, [register], ABCD).value is value


@pytest.mark.parametrize(("bits", "value"), [([True], True), ([False], False)])
def test_coil_decodes_from_its_bit(bits: list[bool], value: bool) -> None:
    point = BoolPoint(name="relay", function=Function.COIL, address=3, dtype="bool")
    assert decode_bits(point, bits).value is value


def test_coil_with_wrong_bit_count_raises_decode_error() -> None:
    point = BoolPoint(name="relay", function=Function.COIL, address=3, dtype="bool")
    with pytest.raises(DecodeError, match="'relay'"):
        decode_bits(point, [True, False])


def string(length: int, swap_bytes: bool = False) -> StringPoint:
    return StringPoint(
        name="model", function=HOLDING, address=0, dtype="string", length=length, swap_bytes=swap_bytes
    )


@pytest.mark.parametrize(
    ("registers", "swap", "value"),
    [
        ([0x5344, 0x4D36, 0x3330, 0x0000], False, "SDM630"),  # 'S'=0x53 'D'=0x44 ...
        ([0x4453, 0x364D, 0x3033, 0x0000], True, "SDM630"),
        ([0x4142, 0x2020, 0x2020, 0x2020], False, "AB"),  # space padded
        ([0x0000, 0x4142, 0x4300, 0x0000], False, "ABC"),  # NUL padded on both sides
        ([0x4142, 0x0043, 0x4400, 0x0000], False, "AB"),  # an inner NUL terminates
        ([0x0000, 0x0000], False, ""),
    ],
)
def test_string_is_two_ascii_characters_per_register(registers: list[int], swap: bool, value: str) -> None:
    assert decode_point(string(len(registers), swap), registers, ABCD) == good(value)


def test_non_ascii_string_is_bad_decode_error() -> None:
    assert decode_point(string(1), [0xFF41], ABCD) == Decoded(None, "bad", "decode_error")


def test_string_encodes_nul_padded() -> None:
    assert encode_point(string(4), "SDM630", ABCD) == [0x5344, 0x4D36, 0x3330, 0x0000]
    assert encode_point(string(2, swap_bytes=True), "AB", ABCD) == [0x4241, 0x0000]


@pytest.mark.parametrize(
    ("point", "value", "error", "message"),
    [
        (num("uint16", name="amps"), 70000, ValueError, "'amps' \\(uint16\\) cannot hold 70000"),
        (num("int16", name="amps"), -40000, ValueError, "'amps'"),
        (num("uint16", name="amps"), -1, ValueError, "'amps'"),
        (num("float32", name="amps"), 1e39, ValueError, "'amps'"),
        (num("int32", name="amps"), float("nan"), ValueError, "'amps'"),
        (num("float32", name="amps"), "12", TypeError, "'amps' \\(float32\\) needs a number"),
        (string(2), "ABCDE", ValueError, "'model' holds 4 characters"),
        (string(2), "Ω", ValueError, "'model' .*ASCII"),
        (string(2), 12, TypeError, "'model' \\(string\\) needs text"),
    ],
)
def test_encode_rejects_values_the_point_cannot_hold(
    point: NumericPoint | StringPoint, value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        encode_point(point, value, ABCD)  # type: ignore[arg-type]


def test_encode_applies_scale_in_reverse() -> None:
    assert encode_point(num("uint16", scale=0.1, offset=-40.0), 60.0, ABCD) == [1000]


def test_encode_bits_and_bools() -> None:
    assert encode_point(bit(15), True, ABCD) == [0x8000]
    assert encode_point(bit(3), False, ABCD) == [0]
    assert encode_point(BoolPoint(name="on", function=HOLDING, address=0, dtype="bool"), True, ABCD) == [1]


# --- blocks ---------------------------------------------------------------------------------------------


def meter() -> Profile:
    return Profile.model_validate(
        {
            "id": "acme/meter",
            "vendor": "acme",
            "model": "meter",
            "device_kind": "power_meter",
            "order": "CDAB",
            "points": [
                {"name": "volts", "function": "input", "address": 0, "dtype": "float32", "unit": "V"},
                {"name": "amps", "function": "input", "address": 2, "dtype": "float32", "order": "ABCD"},
                {"name": "kwh", "function": "input", "address": 4, "dtype": "uint32", "scale": 0.01},
                {"name": "status", "function": "input", "address": 6, "dtype": "uint16"},
                {"name": "alarm", "function": "input", "address": 6, "dtype": "bits", "bit": 15},
                {"name": "serial", "function": "input", "address": 8, "dtype": "string", "length": 2},
                {"name": "relay", "function": "coil", "address": 5, "dtype": "bool"},
                {"name": "door", "function": "coil", "address": 7, "dtype": "bool"},
            ],
        }
    )


def test_block_fans_out_to_every_point_with_its_own_order() -> None:
    profile = meter()
    block = next(b for b in plan_for_profile(profile) if b.function is INPUT)
    assert (block.start, block.count) == (0, 10)
    registers = [
        0x8000, 0x4366,  # volts, profile default CDAB: 230.5
        0x4120, 0x0000,  # amps, its own ABCD: 10.0
        0x86A0, 0x0001,  # kwh, CDAB 100000 x 0.01
        0x8001,          # status word, alarm = bit 15
        0x0000,          # unused register read through
        0x4142, 0x4344,  # serial "ABCD"
    ]  # fmt: skip
    assert decode_block(block, registers, profile) == {
        "volts": good(230.5),
        "amps": good(10.0),
        "kwh": good(1000.0),
        "status": good(0x8001),
        "alarm": good(True),
        "serial": good("ABCD"),
    }


def test_coil_block_fans_out_bits() -> None:
    profile = meter()
    block = next(b for b in plan_for_profile(profile) if b.function is Function.COIL)
    assert (block.start, block.count) == (5, 3)
    assert decode_block(block, [True, True, False], profile) == {"relay": good(True), "door": good(False)}


def test_block_with_wrong_length_raises_decode_error() -> None:
    profile = meter()
    with pytest.raises(DecodeError, match="expected 2 values, got 1"):
        decode_block(ReadBlock(INPUT, 0, 2, ("volts",)), [0x4366], profile)


def test_block_listing_an_unknown_point_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"'watts'.*acme/meter"):
        decode_block(ReadBlock(INPUT, 0, 2, ("watts",)), [0, 0], meter())


def test_block_not_holding_its_point_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match="'amps' is not inside"):
        decode_block(ReadBlock(INPUT, 0, 3, ("amps",)), [0, 0, 0], meter())


def test_block_register_above_16_bits_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"0\.\.65535"):
        decode_block(ReadBlock(INPUT, 6, 1, ("status",)), [65536], meter())
