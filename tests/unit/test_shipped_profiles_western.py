"""The Western meter and compressor-controller profiles: the facts each map pins down, checked against
the addresses the makers' tables (and the second public sources named in `cross_checked`) give.

A wrong address here is the bug the profile library exists to prevent: each spot check below is the
row of the source table, converted to a protocol address the way docs/profiles.md describes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from agent.config.profile import Function, NumericPoint, PointKind, Profile, Role
from agent.modbus.decode import decode_point

PROFILES_DIR = Path(__file__).resolve().parents[2] / "edge_configs" / "profiles"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "profiles.md"

METERS = [
    "abb/b23",
    "carlo_gavazzi/em24_e1",
    "carlo_gavazzi/em340",
    "janitza/umg604",
    "janitza/umg96rm",
    "schneider/iem3255",
    "siemens/pac2200",
    "siemens/pac3200",
    "siemens/pac4200",
    "socomec/diris_a10",
]
COMPRESSORS = ["compair/delcos_xl", "datakom/dk40", "ingersoll_rand/xe145m", "kaeser/sigma_control"]
# Profiles whose register table has no second public source at all (no implementation, no other
# document): they must say so in `source` instead of listing a cross-check that does not exist.
NO_SECOND_SOURCE = {"datakom/dk40"}


def profile(profile_id: str) -> Profile:
    with (PROFILES_DIR / f"{profile_id}.yaml").open(encoding="utf-8") as f:
        return Profile.model_validate(yaml.safe_load(f))


def numeric(p: Profile, name: str) -> NumericPoint:
    point = p.point(name)
    assert isinstance(point, NumericPoint), f"{p.id}:{name} is not numeric"
    return point


@pytest.mark.parametrize("profile_id", [p for p in METERS + COMPRESSORS if p not in NO_SECOND_SOURCE])
def test_profile_names_a_second_source_for_at_least_three_points(profile_id: str) -> None:
    p = profile(profile_id)
    checked = {name for check in p.cross_checked for name in check.points}
    assert len(checked) >= 3, checked
    assert "not readable here" in p.source or "read here" in p.source  # says what was actually read


@pytest.mark.parametrize("profile_id", sorted(NO_SECOND_SOURCE))
def test_profile_without_a_second_source_says_so_and_claims_no_cross_check(profile_id: str) -> None:
    p = profile(profile_id)
    assert p.cross_checked == ()
    assert "No second public source" in p.source
    assert "read here" in p.source


@pytest.mark.parametrize("profile_id", METERS)
def test_meters_share_the_names_analytics_read(profile_id: str) -> None:
    p = profile(profile_id)
    assert p.device_kind == "power_meter"
    power = numeric(p, "active_power_total_kw")
    energy = numeric(p, "total_import_kwh")
    assert (power.unit, power.kind) == ("kW", PointKind.GAUGE)
    assert (energy.unit, energy.kind) == ("kWh", PointKind.COUNTER)


@pytest.mark.parametrize("profile_id", METERS + COMPRESSORS)
def test_docs_list_the_profile(profile_id: str) -> None:
    assert f"`{profile_id}`" in DOCS.read_text(encoding="utf-8")


# --- spot checks: (profile, point, function, protocol address, dtype, scale) -------------------------

SPOT_CHECKS = [
    # ABB B23/B24: hex start addresses are protocol addresses; 0.01 W, 0.1 V, 0.01 kWh
    ("abb/b23", "total_import_kwh", Function.HOLDING, 0x5000, "uint64", 0.01),
    ("abb/b23", "voltage_l1_n_v", Function.HOLDING, 0x5B00, "uint32", 0.1),
    ("abb/b23", "active_power_total_kw", Function.HOLDING, 0x5B14, "int32", 0.00001),
    ("abb/b23", "frequency_hz", Function.HOLDING, 0x5B2C, "uint16", 0.01),
    # Carlo Gavazzi EM300 family / EM24 Ethernet: INT32 low word first, 0.1 W, 0.1 kWh
    ("carlo_gavazzi/em340", "active_power_total_kw", Function.INPUT, 0x28, "int32", 0.0001),
    ("carlo_gavazzi/em340", "frequency_hz", Function.INPUT, 0x33, "uint16", 0.1),
    ("carlo_gavazzi/em340", "total_import_kwh", Function.INPUT, 0x34, "int32", 0.1),
    ("carlo_gavazzi/em340", "total_export_kwh", Function.INPUT, 0x4E, "int32", 0.1),
    ("carlo_gavazzi/em24_e1", "total_import_kwh", Function.INPUT, 0x34, "int32", 0.1),
    ("carlo_gavazzi/em24_e1", "import_l1_kwh", Function.INPUT, 0x40, "int32", 0.1),
    # Janitza 19000 block: floats in V / W / Wh
    ("janitza/umg604", "voltage_l1_n_v", Function.HOLDING, 19000, "float32", 1.0),
    ("janitza/umg604", "active_power_total_kw", Function.HOLDING, 19026, "float32", 0.001),
    ("janitza/umg604", "frequency_hz", Function.HOLDING, 19050, "float32", 1.0),
    ("janitza/umg604", "total_import_kwh", Function.HOLDING, 19068, "float32", 0.001),
    ("janitza/umg96rm", "total_export_kwh", Function.HOLDING, 19076, "float32", 0.001),
    # Schneider iEM3000: 1-based list number minus one, INT64 Wh
    ("schneider/iem3255", "voltage_l1_n_v", Function.HOLDING, 3028 - 1, "float32", 1.0),
    ("schneider/iem3255", "active_power_total_kw", Function.HOLDING, 3060 - 1, "float32", 1.0),
    ("schneider/iem3255", "total_import_kwh", Function.HOLDING, 3204 - 1, "int64", 0.001),
    # Siemens PAC: offsets are protocol addresses; float32 W, float64 Wh
    ("siemens/pac3200", "voltage_l1_n_v", Function.INPUT, 1, "float32", 1.0),
    ("siemens/pac3200", "active_power_total_kw", Function.INPUT, 65, "float32", 0.001),
    ("siemens/pac3200", "frequency_hz", Function.INPUT, 55, "float32", 1.0),
    ("siemens/pac3200", "total_import_kwh", Function.INPUT, 801, "float64", 0.001),
    ("siemens/pac4200", "current_n_a", Function.INPUT, 295, "float32", 1.0),
    ("siemens/pac2200", "frequency_hz", Function.INPUT, 55, "float32", 1.0),
    # Socomec JBUS table: decimal addresses are protocol addresses, 0.01 kW, 1 kWh
    ("socomec/diris_a10", "voltage_l1_n_v", Function.HOLDING, 50520, "uint32", 0.01),
    ("socomec/diris_a10", "active_power_total_kw", Function.HOLDING, 50536, "int32", 0.01),
    ("socomec/diris_a10", "total_import_kwh", Function.HOLDING, 50780, "uint32", 1.0),
    # Ingersoll Rand Xe-145M: register 40XXX -> address XXX-1
    ("ingersoll_rand/xe145m", "discharge_pressure_bar", Function.HOLDING, 3 - 1, "uint16", 0.1),
    ("ingersoll_rand/xe145m", "running_hours_h", Function.HOLDING, 64 - 1, "uint16", 1.0),
    ("ingersoll_rand/xe145m", "loaded_hours_h", Function.HOLDING, 65 - 1, "uint16", 1.0),
    # Kaeser SIGMA CONTROL V82.30: register 4XXXX -> address XXXX-1, mbar -> bar
    ("kaeser/sigma_control", "system_pressure_local_bar", Function.HOLDING, 41 - 1, "int16", 0.001),
    ("kaeser/sigma_control", "airend_discharge_temperature_c", Function.HOLDING, 43 - 1, "int16", 0.1),
    ("kaeser/sigma_control", "motor_starts_per_h", Function.HOLDING, 52 - 1, "int16", 1.0),
    # Datakom DK-40 manual V2.6, 10.2: register 40XXX -> address XXX-1, multiplier as scale
    ("datakom/dk40", "frequency_hz", Function.HOLDING, 1 - 1, "uint16", 0.1),
    ("datakom/dk40", "pressure", Function.HOLDING, 8 - 1, "uint16", 0.1),
    ("datakom/dk40", "airend_temperature", Function.HOLDING, 9 - 1, "int16", 1.0),
    ("datakom/dk40", "total_working_hours_h", Function.HOLDING, 23 - 1, "uint32", 0.1),
    ("datakom/dk40", "running_hours_h", Function.HOLDING, 25 - 1, "uint32", 0.1),
    ("datakom/dk40", "loaded_hours_h", Function.HOLDING, 27 - 1, "uint32", 0.1),
    ("datakom/dk40", "alarm_bits", Function.HOLDING, 29 - 1, "uint32", 1.0),
    ("datakom/dk40", "warning_bits", Function.HOLDING, 31 - 1, "uint16", 1.0),
    # CompAir DELCOS XL: ts_mtaircompressor's protocol addresses (hex), mbar -> bar, 0.1 A, 0.1 m3/min
    ("compair/delcos_xl", "motor_current_a", Function.HOLDING, 0x23, "uint16", 0.1),
    ("compair/delcos_xl", "compressor_volume_m3_min", Function.HOLDING, 0x2B, "uint16", 0.1),
    ("compair/delcos_xl", "stage1_output_pressure_bar", Function.HOLDING, 0x2D, "int16", 0.001),
    ("compair/delcos_xl", "line_pressure_bar", Function.HOLDING, 0x2E, "int16", 0.001),
    ("compair/delcos_xl", "stage1_output_temperature_c", Function.HOLDING, 0x2F, "int16", 1.0),
    ("compair/delcos_xl", "status_word_1", Function.HOLDING, 0x30, "uint16", 1.0),
    ("compair/delcos_xl", "running_hours_h", Function.HOLDING, 0x39, "uint32", 1.0),
    ("compair/delcos_xl", "loaded_hours_h", Function.HOLDING, 0x3B, "uint32", 1.0),
]


@pytest.mark.parametrize(
    ("profile_id", "name", "function", "address", "dtype", "scale"),
    SPOT_CHECKS,
    ids=[f"{c[0]}:{c[1]}" for c in SPOT_CHECKS],
)
def test_point_sits_where_the_source_table_says(
    profile_id: str, name: str, function: Function, address: int, dtype: str, scale: float
) -> None:
    point = numeric(profile(profile_id), name)
    assert (point.function, point.address, point.dtype) == (function, address, dtype)
    assert point.scale == pytest.approx(scale)


@pytest.mark.parametrize(
    ("profile_id", "order"),
    [
        ("carlo_gavazzi/em340", "CDAB"),  # INT32 least significant word first
        ("carlo_gavazzi/em24_e1", "CDAB"),
        ("abb/b23", "ABCD"),
        ("siemens/pac3200", "ABCD"),
        ("janitza/umg604", "ABCD"),
        ("socomec/diris_a10", "ABCD"),
    ],
)
def test_word_order_matches_the_maker(profile_id: str, order: str) -> None:
    assert profile(profile_id).order == order


def test_compressor_controllers_feed_the_air_analytics() -> None:
    ir = profile("ingersoll_rand/xe145m")
    assert ir.device_kind == "compressor"
    assert {r: ir.role_point(r) is not None for r in (Role.RUNNING_HOURS, Role.LOADED_HOURS)} == {
        Role.RUNNING_HOURS: True,
        Role.LOADED_HOURS: True,
    }
    for p in (ir, profile("kaeser/sigma_control")):
        pressure = p.role_point(Role.DISCHARGE_PRESSURE)
        assert pressure is not None
        assert pressure.unit == "bar"


def test_dk40_reads_32_bit_values_least_significant_register_first() -> None:
    # Manual V2.6 p.34: "The least significant register comes first"; bytes high first (p.32).
    p = profile("datakom/dk40")
    wide = [pt for pt in p.points if isinstance(pt, NumericPoint) and pt.dtype == "uint32"]
    assert {pt.name for pt in wide} == {
        "total_working_hours_h",
        "running_hours_h",
        "loaded_hours_h",
        "alarm_bits",
    }
    assert all(pt.order == "CDAB" for pt in wide)
    # 12345.6 h on the wire as the manual describes it: low register 0xE240, then high 0x0001.
    running = numeric(p, "running_hours_h")
    assert decode_point(running, [0xE240, 0x0001], p.order_of(running)).value == pytest.approx(12345.6)


def test_dk40_gives_the_analytics_hours_but_claims_no_pressure_unit() -> None:
    p = profile("datakom/dk40")
    assert p.device_kind == "compressor"
    assert p.datasheet is not None
    assert p.datasheet.control == "load_unload"  # load solenoid, star/delta, LOAD vs UNLOAD hours
    running = p.role_point(Role.RUNNING_HOURS)
    loaded = p.role_point(Role.LOADED_HOURS)
    assert running is not None
    assert loaded is not None
    assert (running.name, running.kind) == ("running_hours_h", PointKind.COUNTER)  # LOAD + UNLOAD
    assert (loaded.name, loaded.kind) == ("loaded_hours_h", PointKind.COUNTER)  # LOAD
    # The register list gives "Pressure Value" x0.1 without a unit: no role, no invented bar.
    assert p.role_point(Role.DISCHARGE_PRESSURE) is None
    assert numeric(p, "pressure").unit == ""


def test_cross_checked_may_only_name_points_of_the_profile() -> None:
    data = {
        "id": "x/y",
        "vendor": "x",
        "model": "y",
        "device_kind": "power_meter",
        "points": [{"name": "a", "function": "input", "address": 0, "dtype": "uint16"}],
        "cross_checked": [{"source": "somewhere", "points": ["a", "typo_b"]}],
    }
    with pytest.raises(ValidationError, match="typo_b"):
        Profile.model_validate(data)
    data["cross_checked"] = [{"source": "somewhere", "points": ["a"]}]
    assert Profile.model_validate(data).cross_checked[0].points == ("a",)


# bgerp/UniPi's "Delcos Pro" register numbers (unipi/DelcpsPro.php), one higher than the protocol
# addresses ts_mtaircompressor sends: the cross-check that pins meaning, type and scale.
BGERP_DELCOS_PRO = {
    "target_speed_rpm": 35,
    "motor_current_a": 36,
    "heatsink_temperature_c": 37,
    "motor_speed_percent": 39,
    "motor_speed_rpm": 40,
    "compressor_volume_percent": 43,
    "compressor_volume_m3_min": 44,
    "group_volume_m3_min": 45,
    "stage1_output_pressure_bar": 46,
    "line_pressure_bar": 47,
    "stage1_output_temperature_c": 48,
    "status_word_1": 49,
}


def test_delcos_xl_cross_check_is_the_second_source_numbered_one_higher() -> None:
    p = profile("compair/delcos_xl")
    confirmed = {name for check in p.cross_checked for name in check.points}
    assert confirmed == set(BGERP_DELCOS_PRO)
    assert {name: p.point(name).address + 1 for name in BGERP_DELCOS_PRO} == BGERP_DELCOS_PRO
    # no maker's document could be read: the profile must not pretend it was
    assert "not read here" in p.source
    assert "read here from two independent public implementations" in p.source


def test_delcos_xl_feeds_the_air_analytics_and_leaves_the_disputed_power_out() -> None:
    p = profile("compair/delcos_xl")
    assert p.device_kind == "compressor"
    roles = {r: p.role_point(r) for r in (Role.RUNNING_HOURS, Role.LOADED_HOURS, Role.DISCHARGE_PRESSURE)}
    assert {r: (pt.name if pt else None) for r, pt in roles.items()} == {
        Role.RUNNING_HOURS: "running_hours_h",
        Role.LOADED_HOURS: "loaded_hours_h",
        Role.DISCHARGE_PRESSURE: "line_pressure_bar",
    }
    flow = p.role_point(Role.AIR_FLOW)
    assert flow is not None
    assert (flow.name, flow.unit) == ("compressor_volume_m3_min", "m3/min")
    # 0x28 motor input: kW x0.1 in ts_mtaircompressor, W x1 in bgerp/UniPi: not shipped
    assert all(pt.address != 0x28 for pt in p.points)
    assert not any(isinstance(pt, NumericPoint) and pt.unit in ("kW", "W") for pt in p.points)
    # read-only: the document defining the remote start / stop and reset registers was not readable
    assert not any(pt.writable for pt in p.points)
    # the hour counters are high word first (decode_uint32 big-endian in ts_mtaircompressor)
    running = numeric(p, "running_hours_h")
    assert decode_point(running, [0x0001, 0x0002], p.order_of(running)).value == 65538
    # a line pressure of 7.25 bar arrives as 7250 mbar
    line = numeric(p, "line_pressure_bar")
    assert decode_point(line, [7250], p.order_of(line)).value == pytest.approx(7.25)
