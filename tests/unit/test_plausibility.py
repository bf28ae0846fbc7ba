"""The plausibility judge on plain register values (agent/modbus/plausibility.py)."""

from __future__ import annotations

import math

import pytest

from agent.config.profile import Function, NumericPoint, Order, Profile
from agent.modbus.decode import encode_point
from agent.modbus.plausibility import Cause, Snapshot, diagnose, judge, quantity_of


def _profile(*points: dict[str, object], order: str = "ABCD") -> Profile:
    return Profile.model_validate(
        {"id": "t/meter", "vendor": "t", "model": "m", "device_kind": "power_meter", "order": order}
        | {"points": list(points)}
    )


def _f(name: str, address: int, unit: str = "", **extra: object) -> dict[str, object]:
    return {"name": name, "function": "input", "address": address, "dtype": "float32", "unit": unit} | extra


METER = _profile(
    _f("voltage_l1_n_v", 0, "V"),
    _f("current_l1_a", 2, "A"),
    _f("active_power_total_kw", 4, "kW"),
    _f("power_factor_total", 6),
    _f("frequency_hz", 8, "Hz"),
    _f("total_import_kwh", 10, "kWh", kind="counter"),
)
GOOD = {
    "voltage_l1_n_v": 231.0,
    "current_l1_a": 40.0,
    "active_power_total_kw": 231 * 40 * 0.9 / 1000,
    "power_factor_total": 0.9,
    "frequency_hz": 50.02,
    "total_import_kwh": 1000.0,
}


def snapshot(
    profile: Profile, values: dict[str, float], t: float, *, order: Order | None = None, shift: int = 0
) -> Snapshot:
    """The registers a device serving `values` holds (with its words in `order`, shifted by `shift`)."""
    tables: dict[Function, dict[int, int]] = {Function.INPUT: {}, Function.HOLDING: {}}
    for point in profile.points:
        assert isinstance(point, NumericPoint)
        words = encode_point(point, values[point.name], order or profile.order_of(point))
        for i, word in enumerate(words):
            tables[point.function][point.address + shift + i] = word
    return Snapshot(t, tables)


def two(
    values: dict[str, float], later: dict[str, float] | None = None, **kw: object
) -> tuple[Snapshot, Snapshot]:
    return snapshot(METER, values, 0.0, **kw), snapshot(METER, later or values, 10.0, **kw)  # type: ignore[arg-type]


def failed_rules(values: dict[str, float], later: dict[str, float] | None = None) -> set[str]:
    return {r.rule for r in judge(METER, *two(values, later)).failures}


def test_a_right_meter_passes_every_rule() -> None:
    judgement = judge(METER, *two(GOOD))
    assert not judgement.failures
    assert {"voltage", "frequency", "power_factor", "P = U x I x PF", "counter non-decreasing"} <= {
        r.rule for r in judgement.results
    }


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("voltage_l1_n_v", 23.1, "voltage"),
        ("voltage_l1_n_v", 2310.0, "voltage"),
        ("frequency_hz", 5.0, "frequency"),
        ("frequency_hz", 500.0, "frequency"),
        ("power_factor_total", 1.8, "power_factor"),
        ("active_power_total_kw", 83.16, "P = U x I x PF"),  # 10x what U x I x PF allows
    ],
)
def test_an_implausible_value_fails_its_rule(name: str, value: float, rule: str) -> None:
    assert rule in failed_rules(GOOD | {name: value})


def test_medium_voltage_with_the_pt_ratio_applied_is_plausible() -> None:
    mv = GOOD | {"voltage_l1_n_v": 11_547.0, "current_l1_a": 0.8}
    mv["active_power_total_kw"] = 11.547 * 0.8 * 0.9
    assert not failed_rules(mv)


def test_an_energy_counter_must_not_fall_nor_outrun_the_power() -> None:
    assert "counter non-decreasing" in failed_rules(GOOD, GOOD | {"total_import_kwh": 999.0})
    # 8.3 kW for 10 s is 0.023 kWh; 5 kWh is impossible
    assert "energy no faster than the power" in failed_rules(GOOD, GOOD | {"total_import_kwh": 1005.0})
    assert not failed_rules(GOOD, GOOD | {"total_import_kwh": 1000.02})


def test_hour_counters_run_no_faster_than_the_clock() -> None:
    hours = _profile(
        {"name": "running_hours_h", "function": "holding", "address": 0, "dtype": "uint32"}
        | {"unit": "h", "scale": 0.1, "kind": "counter", "role": "running_hours"},
        {"name": "loaded_hours_h", "function": "holding", "address": 2, "dtype": "uint32"}
        | {"unit": "h", "scale": 0.1, "kind": "counter", "role": "loaded_hours"},
    )
    start = {"running_hours_h": 1000.0, "loaded_hours_h": 800.0}

    def rules(later: dict[str, float], begin: dict[str, float] = start) -> set[str]:
        first, second = snapshot(hours, begin, 0.0), snapshot(hours, later, 3600.0)
        return {r.rule for r in judge(hours, first, second).failures}

    assert not rules({"running_hours_h": 1001.0, "loaded_hours_h": 800.9})
    assert "hours no faster than the clock" in rules({"running_hours_h": 1003.0, "loaded_hours_h": 801.0})
    assert "counter non-decreasing" in rules({"running_hours_h": 999.0, "loaded_hours_h": 800.0})
    more_loaded = {"running_hours_h": 1000.0, "loaded_hours_h": 1000.5}
    assert "loaded hours <= running hours" in rules(
        {"running_hours_h": 1001.0, "loaded_hours_h": 1001.4}, more_loaded
    )


def test_pressure_beyond_16_bar_is_implausible() -> None:
    pressure = _profile(
        {"name": "discharge_pressure_bar", "function": "input", "address": 0, "dtype": "int16"}
        | {"unit": "bar", "scale": 0.01, "role": "discharge_pressure"}
    )
    for value, ok in ((7.2, True), (72.0, False)):
        first = snapshot(pressure, {"discharge_pressure_bar": value}, 0.0)
        assert (not judge(pressure, first, first).failures) is ok


@pytest.mark.parametrize(
    ("serve", "cause"),
    [
        ({"order": Order.CDAB}, Cause.WORD_ORDER),
        ({"order": Order.BADC}, Cause.BYTE_ORDER),
        ({"shift": 1}, Cause.ADDRESS_PLUS_1),
        ({"shift": -1}, Cause.ADDRESS_MINUS_1),
    ],
)
def test_a_wrong_map_is_diagnosed_by_decoding_again(serve: dict[str, object], cause: Cause) -> None:
    first, second = two(GOOD, GOOD | {"total_import_kwh": 1000.01}, **serve)
    if serve.get("shift") == -1:  # the register at -1 does not exist: the first point is lost
        first.registers[Function.INPUT].pop(-1)  # type: ignore[attr-defined]
        second.registers[Function.INPUT].pop(-1)  # type: ignore[attr-defined]
    diagnosis = diagnose(METER, first, second)
    assert not diagnosis.passed
    assert diagnosis.likely is not None
    assert diagnosis.likely.cause is cause


@pytest.mark.parametrize(("factor", "cause"), [(10.0, Cause.SCALE_X10), (0.1, Cause.SCALE_DIV10)])
def test_values_ten_times_off_are_a_scale_error(factor: float, cause: Cause) -> None:
    off = {k: v * factor for k, v in GOOD.items()}
    diagnosis = diagnose(METER, *two(off))
    assert diagnosis.likely is not None
    assert diagnosis.likely.cause is cause


def test_values_in_the_other_table_are_a_function_code_error() -> None:
    first, second = two(GOOD)
    moved = [
        Snapshot(s.t, {Function.HOLDING: s.registers[Function.INPUT], Function.INPUT: {}})
        for s in (first, second)
    ]
    diagnosis = diagnose(METER, *moved)
    assert {r.detail for r in diagnosis.as_mapped.failures} == {"unreadable"}
    assert diagnosis.likely is not None
    assert diagnosis.likely.cause is Cause.FUNCTION_CODE


def test_a_map_no_hypothesis_explains_names_no_cause() -> None:
    nonsense = GOOD | {"voltage_l1_n_v": 3.0, "frequency_hz": 3.0}
    diagnosis = diagnose(METER, *two(nonsense))
    assert not diagnosis.passed
    assert diagnosis.likely is None


def test_a_sentinel_is_not_available_rather_than_wrong() -> None:
    profile = _profile(
        {"name": "frequency_hz", "function": "input", "address": 0, "dtype": "int16", "unit": "Hz"}
        | {"scale": 0.01, "sentinels": [-32768]}
    )
    tables = {Function.INPUT: {0: 0x8000}, Function.HOLDING: {}}
    judgement = judge(profile, Snapshot(0.0, tables), Snapshot(1.0, tables))
    assert not judgement.failures
    assert judgement.values["frequency_hz"] == (None, None)


def test_a_denormal_or_nan_float_fails() -> None:
    profile = _profile(_f("energy_kwh", 0, "kWh", kind="counter"))
    denormal = {Function.INPUT: {0: 0x0000, 1: 0x4366}, Function.HOLDING: {}}
    nan = {Function.INPUT: {0: 0x7FC0, 1: 0x0000}, Function.HOLDING: {}}
    for tables in (denormal, nan):
        judgement = judge(profile, Snapshot(0.0, tables), Snapshot(1.0, tables))
        assert judgement.failures


@pytest.mark.parametrize(
    ("name", "unit", "kind", "phase"),
    [
        ("voltage_l1_n_v", "V", "voltage_ln", "1"),
        ("voltage_l2_l3_v", "V", "voltage_ll", "2"),
        ("voltage_ll_avg_v", "V", "voltage_ll", "avg"),
        ("current_n_a", "A", "current", "n"),
        ("active_power_total_kw", "kW", "active_power", "total"),
        ("active_power_demand_total_kw", "kW", "active_power", "other"),
        ("power_factor_l3", "", "power_factor", "3"),
        ("discharge_pressure_kpa", "kPa", "pressure", "total"),
    ],
)
def test_what_a_point_measures_comes_from_its_unit_and_name(
    name: str, unit: str, kind: str, phase: str
) -> None:
    point = NumericPoint.model_validate(
        {"name": name, "function": "input", "address": 0, "dtype": "float32", "unit": unit}
    )
    quantity = quantity_of(point)
    assert quantity is not None
    assert (quantity.kind, quantity.phase) == (kind, phase)
    assert math.isfinite(quantity.to_base)
