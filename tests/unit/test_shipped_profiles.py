"""The shipped device profiles: they load, they are internally consistent, and they match the data sheets.

Overlap rule: two points may share a register only when one of them is a `bits` or `bool` point,
because a status word is published both as the raw word and as one named point per bit (the
dashboard wants the word, alarms want the bits). Any other overlap is a typo in an address.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
import yaml

from agent.config.profile import (
    BitPoint,
    BoolPoint,
    Function,
    NumericPoint,
    Point,
    PointKind,
    Profile,
    register_count,
)
from agent.modbus.plan import plan_for_profile

PROFILES_DIR = Path(__file__).resolve().parents[2] / "edge_configs" / "profiles"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "profiles.md"
PROFILE_FILES = sorted(PROFILES_DIR.rglob("*.yaml"))


def load(path: Path) -> Profile:
    with path.open(encoding="utf-8") as f:
        return Profile.model_validate(yaml.safe_load(f))


def profile_by_id(profile_id: str) -> Profile:
    return load(PROFILES_DIR / f"{profile_id}.yaml")


def span(point: Point) -> range:
    return range(point.address, point.address + register_count(point))


def overlapping_pairs(profile: Profile) -> list[tuple[str, str]]:
    """Pairs of points that share a register without one of them being a bit/bool view of it."""
    pairs = []
    for a, b in combinations(profile.points, 2):
        if a.function is not b.function:
            continue
        if isinstance(a, BitPoint | BoolPoint) or isinstance(b, BitPoint | BoolPoint):
            continue
        if set(span(a)) & set(span(b)):
            pairs.append((a.name, b.name))
    return pairs


def numeric(profile: Profile, name: str) -> NumericPoint:
    point = profile.point(name)
    assert isinstance(point, NumericPoint), f"{profile.id}:{name} is not numeric"
    return point


def test_the_required_profiles_are_shipped() -> None:
    ids = {str(p.relative_to(PROFILES_DIR).with_suffix("")) for p in PROFILE_FILES}
    assert {
        "eastron/sdm630",
        "acrel/adw300",
        "schneider/pm5300",
        "generic/compressor_load_unload",
        "generic/compressor_vsd",
        "generic/production_counter",
    } <= ids


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: str(p.relative_to(PROFILES_DIR)))
class TestEveryProfile:
    def test_id_is_the_path(self, path: Path) -> None:
        assert load(path).id == str(path.relative_to(PROFILES_DIR).with_suffix("")).replace("\\", "/")

    def test_cites_a_source(self, path: Path) -> None:
        assert load(path).source.strip()

    def test_no_two_points_share_a_register(self, path: Path) -> None:
        assert overlapping_pairs(load(path)) == []

    def test_no_point_lies_in_a_forbidden_range(self, path: Path) -> None:
        profile = load(path)
        for rng in profile.forbidden:
            for p in profile.points:
                if p.function is rng.function:
                    assert not set(span(p)) & set(range(rng.start, rng.end + 1)), p.name

    def test_every_point_ends_inside_the_address_space(self, path: Path) -> None:
        for p in load(path).points:
            assert p.address + register_count(p) - 1 <= 65535, p.name

    def test_every_point_is_described(self, path: Path) -> None:
        assert [p.name for p in load(path).points if not p.description.strip()] == []

    def test_counters_carry_a_unit(self, path: Path) -> None:
        profile = load(path)
        counters = [p for p in profile.points if isinstance(p, NumericPoint) and p.kind is PointKind.COUNTER]
        assert all(p.unit for p in counters if p.name != "load_cycles")


METERS = [
    "eastron/sdm630",
    "acrel/adw300",
    "schneider/pm5300",
    "chint/dtsu666",
    "chint/ddsu666",
    "eastron/sdm120",
    "eastron/sdm230",
    "eastron/sdm72d-m",
    "eastron/sdm72d-m-v2",
    "hiking/dds238-2",
]


@pytest.mark.parametrize("profile_id", METERS)
def test_power_meters_share_the_names_analytics_read(profile_id: str) -> None:
    profile = profile_by_id(profile_id)
    assert profile.device_kind == "power_meter"
    power = numeric(profile, "active_power_total_kw")
    energy = numeric(profile, "total_import_kwh")
    assert (power.unit, power.kind) == ("kW", PointKind.GAUGE)
    assert (energy.unit, energy.kind) == ("kWh", PointKind.COUNTER)


def test_overlap_check_catches_a_float_straddling_another() -> None:
    profile = Profile.model_validate(
        {
            "id": "x/y",
            "vendor": "x",
            "model": "y",
            "device_kind": "power_meter",
            "points": [
                {"name": "a", "function": "input", "address": 0, "dtype": "float32"},
                {"name": "b", "function": "input", "address": 1, "dtype": "float32"},
                {"name": "c", "function": "holding", "address": 1, "dtype": "float32"},
                {"name": "flag", "function": "input", "address": 0, "dtype": "bits", "bit": 3},
            ],
        }
    )
    assert overlapping_pairs(profile) == [("a", "b")]


# --- spot checks against the data sheets -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("voltage_l1_n_v", 0),  # 30001
        ("current_l1_a", 6),  # 30007
        ("active_power_l1_kw", 12),  # 30013
        ("active_power_total_kw", 52),  # 30053
        ("frequency_hz", 70),  # 30071
        ("total_import_kwh", 72),  # 30073
        ("total_export_kwh", 74),  # 30075
        ("voltage_l1_l2_v", 200),  # 30201
        ("current_n_a", 224),  # 30225
        ("total_kwh", 342),  # 30343
    ],
)
def test_sdm630_matches_the_eastron_input_register_table(name: str, address: int) -> None:
    point = numeric(profile_by_id("eastron/sdm630"), name)
    assert (point.function, point.address, point.dtype) == (Function.INPUT, address, "float32")


def test_sdm630_respects_the_40_parameter_read_limit_and_reads_30_floats() -> None:
    profile = profile_by_id("eastron/sdm630")
    assert profile.max_registers_per_read == 80
    assert sum(isinstance(p, NumericPoint) and p.dtype == "float32" for p in profile.points) >= 30


def test_sdm630_reports_power_in_kw_from_watts() -> None:
    assert numeric(profile_by_id("eastron/sdm630"), "active_power_total_kw").scale == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("name", "register", "dtype"),
    [
        ("current_l1_a", 3000, "float32"),
        ("voltage_l1_l2_v", 3020, "float32"),
        ("voltage_l1_n_v", 3028, "float32"),
        ("active_power_total_kw", 3060, "float32"),
        ("frequency_hz", 3110, "float32"),
        ("total_import_kwh", 3204, "int64"),
    ],
)
def test_pm5300_addresses_are_the_one_based_register_list_minus_one(
    name: str, register: int, dtype: str
) -> None:
    point = numeric(profile_by_id("schneider/pm5300"), name)
    assert (point.function, point.address, point.dtype) == (Function.HOLDING, register - 1, dtype)


def test_pm5300_energy_is_wh_scaled_to_kwh() -> None:
    assert numeric(profile_by_id("schneider/pm5300"), "total_import_kwh").scale == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("name", "address", "dtype", "scale"),
    [
        ("voltage_l1_n_v", 20, "uint16", 0.1),
        ("current_l1_a", 26, "uint16", 0.01),
        ("active_power_total_kw", 36, "int32", 0.001),
        ("total_import_kwh", 62, "uint32", 0.01),
    ],
)
def test_adw300_matches_its_integer_register_map(name: str, address: int, dtype: str, scale: float) -> None:
    point = numeric(profile_by_id("acrel/adw300"), name)
    assert (point.function, point.address, point.dtype) == (Function.HOLDING, address, dtype)
    assert point.scale == pytest.approx(scale)


# --- our own maps: what the simulators rely on ------------------------------------------------


@pytest.mark.parametrize("profile_id", ["generic/compressor_load_unload", "generic/compressor_vsd"])
def test_compressor_readings_are_input_and_setpoints_holding(profile_id: str) -> None:
    profile = profile_by_id(profile_id)
    holding = {p.name for p in profile.points if p.function is Function.HOLDING}
    commands = {"run_command", "load_command", "heartbeat", "heartbeat_timeout_s"}
    assert commands < holding
    assert all(name.endswith("_setpoint_bar") for name in holding - commands)
    # the control surface: every holding point is writable, nothing else is
    assert {p.name for p in profile.points if p.writable} == holding
    for name in ("state", "discharge_pressure_bar", "active_power_kw", "energy_kwh", "fad_m3_min"):
        assert profile.point(name).function is Function.INPUT
    for name, address in (("remote_enabled", 30), ("control_source", 31), ("starts_last_hour", 32)):
        assert (profile.point(name).function, profile.point(name).address) == (Function.INPUT, address)
    for name, address in (("run_command", 10), ("load_command", 11), ("heartbeat", 12)):
        assert profile.point(name).address == address


def test_compressor_energy_counter_wraps_at_a_million_kwh() -> None:
    energy = numeric(profile_by_id("generic/compressor_load_unload"), "energy_kwh")
    assert energy.counter is not None
    assert energy.counter.rollover == pytest.approx(1_000_000)


def test_vsd_live_block_straddles_a_forbidden_range() -> None:
    profile = profile_by_id("generic/compressor_vsd")
    (forbidden,) = profile.forbidden
    assert (forbidden.function, forbidden.start, forbidden.end) == (Function.INPUT, 16, 19)
    assert profile.point("load_cycles").address < forbidden.start < profile.point("motor_speed_rpm").address


@pytest.mark.parametrize(
    "path",
    [p for p in PROFILE_FILES if p.parent.name == "generic"],
    ids=lambda p: p.stem,
)
def test_every_generic_register_is_documented(path: Path) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert [p.name for p in load(path).points if f"`{p.name}`" not in docs] == []


# --- the meter library (issue 21): spot checks against each maker's table ----------------------
# One row per (profile, point): table, protocol address, encoding and the factor that turns the raw
# value into the point's unit. The addresses are the ones cross-checked against a second public
# source (see the comment block at the top of each profile and docs/profiles.md).


@pytest.mark.parametrize(
    ("profile_id", "name", "function", "address", "dtype", "scale"),
    [
        # CHINT DTSU666: 2006H Ua 0.1 V, 200CH Ia 0.001 A, 2012H Pt 0.1 W, 2044H 0.01 Hz, 101EH kWh
        ("chint/dtsu666", "ct_ratio", Function.HOLDING, 0x0006, "uint16", 1.0),
        ("chint/dtsu666", "vt_ratio", Function.HOLDING, 0x0007, "uint16", 0.1),
        ("chint/dtsu666", "voltage_l1_n_v", Function.HOLDING, 0x2006, "float32", 0.1),
        ("chint/dtsu666", "current_l1_a", Function.HOLDING, 0x200C, "float32", 0.001),
        ("chint/dtsu666", "active_power_total_kw", Function.HOLDING, 0x2012, "float32", 0.0001),
        ("chint/dtsu666", "power_factor_total", Function.HOLDING, 0x202A, "float32", 0.001),
        ("chint/dtsu666", "frequency_hz", Function.HOLDING, 0x2044, "float32", 0.01),
        ("chint/dtsu666", "total_import_kwh", Function.HOLDING, 0x101E, "float32", 1.0),
        ("chint/dtsu666", "total_export_kwh", Function.HOLDING, 0x1028, "float32", 1.0),
        # CHINT DDSU666: engineering units, kW already
        ("chint/ddsu666", "voltage_l1_n_v", Function.HOLDING, 0x2000, "float32", 1.0),
        ("chint/ddsu666", "active_power_total_kw", Function.HOLDING, 0x2004, "float32", 1.0),
        ("chint/ddsu666", "frequency_hz", Function.HOLDING, 0x200E, "float32", 1.0),
        ("chint/ddsu666", "total_import_kwh", Function.HOLDING, 0x4000, "float32", 1.0),
        ("chint/ddsu666", "total_export_kwh", Function.HOLDING, 0x400A, "float32", 1.0),
        # Eastron single phase: 30001, 30013 (W), 30071, 30073, 30343
        ("eastron/sdm120", "voltage_l1_n_v", Function.INPUT, 0, "float32", 1.0),
        ("eastron/sdm120", "active_power_total_kw", Function.INPUT, 12, "float32", 0.001),
        ("eastron/sdm120", "frequency_hz", Function.INPUT, 70, "float32", 1.0),
        ("eastron/sdm120", "total_import_kwh", Function.INPUT, 72, "float32", 1.0),
        ("eastron/sdm120", "total_kwh", Function.INPUT, 342, "float32", 1.0),
        ("eastron/sdm230", "current_l1_a", Function.INPUT, 6, "float32", 1.0),
        ("eastron/sdm230", "power_factor_total", Function.INPUT, 30, "float32", 1.0),
        ("eastron/sdm230", "total_export_kwh", Function.INPUT, 74, "float32", 1.0),
        ("eastron/sdm230", "total_kwh", Function.INPUT, 342, "float32", 1.0),
        # Eastron SDM72D-M (totals only) and SDM72D-M-2
        ("eastron/sdm72d-m", "active_power_total_kw", Function.INPUT, 52, "float32", 0.001),
        ("eastron/sdm72d-m", "total_import_kwh", Function.INPUT, 72, "float32", 1.0),
        ("eastron/sdm72d-m", "total_kwh", Function.INPUT, 342, "float32", 1.0),
        ("eastron/sdm72d-m", "import_power_total_kw", Function.INPUT, 1280, "float32", 0.001),
        ("eastron/sdm72d-m-v2", "voltage_l1_n_v", Function.INPUT, 0, "float32", 1.0),
        ("eastron/sdm72d-m-v2", "active_power_total_kw", Function.INPUT, 52, "float32", 0.001),
        ("eastron/sdm72d-m-v2", "frequency_hz", Function.INPUT, 70, "float32", 1.0),
        ("eastron/sdm72d-m-v2", "total_import_kwh", Function.INPUT, 72, "float32", 1.0),
        ("eastron/sdm72d-m-v2", "voltage_l1_l2_v", Function.INPUT, 200, "float32", 1.0),
        # Eastron SDM630 V2 per-phase energies 30347 / 30353 / 30359
        ("eastron/sdm630", "import_l1_kwh", Function.INPUT, 346, "float32", 1.0),
        ("eastron/sdm630", "export_l1_kwh", Function.INPUT, 352, "float32", 1.0),
        ("eastron/sdm630", "total_l3_kwh", Function.INPUT, 362, "float32", 1.0),
        # Hiking DDS238-2 ZN/S: integers with fixed decimals
        ("hiking/dds238-2", "total_kwh", Function.HOLDING, 0x00, "uint32", 0.01),
        ("hiking/dds238-2", "total_import_kwh", Function.HOLDING, 0x0A, "uint32", 0.01),
        ("hiking/dds238-2", "voltage_l1_n_v", Function.HOLDING, 0x0C, "uint16", 0.1),
        ("hiking/dds238-2", "current_l1_a", Function.HOLDING, 0x0D, "uint16", 0.01),
        ("hiking/dds238-2", "active_power_total_kw", Function.HOLDING, 0x0E, "int16", 0.001),
        ("hiking/dds238-2", "frequency_hz", Function.HOLDING, 0x11, "uint16", 0.01),
    ],
)
def test_meter_library_matches_the_makers_tables(
    profile_id: str, name: str, function: Function, address: int, dtype: str, scale: float
) -> None:
    point = numeric(profile_by_id(profile_id), name)
    assert (point.function, point.address, point.dtype) == (function, address, dtype)
    assert point.scale == pytest.approx(scale)


@pytest.mark.parametrize("profile_id", METERS)
def test_energy_counters_of_every_meter_are_counters_in_kwh(profile_id: str) -> None:
    """A kWh/kvarh register that only grows is a counter; resettable and net registers stay gauges."""
    for p in profile_by_id(profile_id).points:
        if not isinstance(p, NumericPoint) or p.unit not in ("kWh", "kvarh", "kVAh"):
            continue
        resettable = p.name.startswith(("resettable_", "net_"))
        assert (p.kind is PointKind.COUNTER) is not resettable, p.name


@pytest.mark.parametrize("profile_id", METERS)
def test_every_meter_reads_within_its_published_request_limit(profile_id: str) -> None:
    """Eastron answers an exception beyond 30 (SDM72) / 40 (SDM630) parameters per request."""
    profile = profile_by_id(profile_id)
    if profile_id.startswith("eastron/sdm72") or profile_id in ("eastron/sdm120", "eastron/sdm230"):
        assert profile.max_registers_per_read <= 60
    if profile_id == "eastron/sdm630":
        assert profile.max_registers_per_read <= 80


def test_every_shipped_profile_is_listed_in_the_docs_with_its_source() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    table = docs.split("## Shipped profiles", 1)[1]
    ids = [str(p.relative_to(PROFILES_DIR).with_suffix("")).replace("\\", "/") for p in PROFILE_FILES]
    assert [i for i in ids if f"| `{i}` |" not in table] == []


@pytest.mark.parametrize("profile_id", METERS)
def test_every_meter_plans_into_reads_the_meter_accepts(profile_id: str) -> None:
    """Every point is read, by blocks no larger than the meter's limit."""
    profile = profile_by_id(profile_id)
    blocks = plan_for_profile(profile)
    assert sorted(n for b in blocks for n in b.points) == sorted(p.name for p in profile.points)
    assert all(b.count <= profile.max_registers_per_read for b in blocks)
    for block in blocks:
        for name in block.points:
            block.offset_of(profile.point(name))  # raises when a point is not inside its block
