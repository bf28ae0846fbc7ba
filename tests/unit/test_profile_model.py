import pytest
from pydantic import TypeAdapter, ValidationError

from agent.config.profile import NumericPoint, Order, Point, Profile, register_count

POINT = TypeAdapter(Point)


def test_float_on_a_coil_is_rejected() -> None:
    with pytest.raises(ValidationError, match="register table"):
        POINT.validate_python({"name": "p", "function": "coil", "address": 0, "dtype": "float32"})


def test_string_needs_a_length() -> None:
    with pytest.raises(ValidationError, match="length"):
        POINT.validate_python({"name": "s", "function": "holding", "address": 0, "dtype": "string"})


def test_register_count_follows_dtype() -> None:
    assert (
        register_count(
            POINT.validate_python({"name": "a", "function": "input", "address": 0, "dtype": "float64"})
        )
        == 4
    )
    assert (
        register_count(
            POINT.validate_python(
                {"name": "b", "function": "input", "address": 0, "dtype": "string", "length": 8}
            )
        )
        == 8
    )


@pytest.mark.parametrize(
    ("order", "words", "bytes_"),
    [("ABCD", False, False), ("CDAB", True, False), ("BADC", False, True), ("DCBA", True, True)],
)
def test_order_flags(order: str, words: bool, bytes_: bool) -> None:
    assert Order(order).swap_words is words
    assert Order(order).swap_bytes is bytes_


def test_duplicate_point_names_are_rejected() -> None:
    p = {"name": "v", "function": "input", "address": 0, "dtype": "float32"}
    with pytest.raises(ValidationError, match="duplicate point name"):
        Profile.model_validate(
            {"id": "x/y", "vendor": "x", "model": "y", "device_kind": "power_meter", "points": [p, p]}
        )


def test_point_falls_back_to_profile_order() -> None:
    prof = Profile.model_validate(
        {
            "id": "x/y",
            "vendor": "x",
            "model": "y",
            "device_kind": "power_meter",
            "order": "CDAB",
            "points": [{"name": "v", "function": "input", "address": 0, "dtype": "float32"}],
        }
    )
    p = prof.points[0]
    assert isinstance(p, NumericPoint)
    assert prof.order_of(p) is Order.CDAB


@pytest.mark.parametrize("function", ["holding", "coil"])
def test_holding_registers_and_coils_may_be_writable(function: str) -> None:
    dtype = "bool" if function == "coil" else "uint16"
    point = POINT.validate_python(
        {"name": "run_command", "function": function, "address": 10, "dtype": dtype, "writable": True}
    )
    assert point.writable
    assert not POINT.validate_python(
        {"name": "x", "function": function, "address": 0, "dtype": dtype}
    ).writable


@pytest.mark.parametrize(
    ("function", "dtype"), [("input", "uint16"), ("discrete", "bool"), ("input", "bits")]
)
def test_input_registers_and_discrete_inputs_cannot_be_writable(function: str, dtype: str) -> None:
    point = {"name": "state", "function": function, "address": 0, "dtype": dtype, "writable": True}
    if dtype == "bits":
        point["bit"] = 3
    with pytest.raises(ValidationError, match=f"writable: {function} points cannot be written"):
        POINT.validate_python(point)
