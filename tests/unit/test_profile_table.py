"""Register tables (CSV) <-> profiles: `profile import` / `profile export` (agent/config/profile_table.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config.profile import BitPoint, Function, NumericPoint, Profile, StringPoint
from agent.config.profile_table import dump_profile, export_csv, import_csv
from agent.config.registry import ProfileRegistry, load_profile
from agent.errors import ConfigError

REGISTRY = ProfileRegistry()
PROFILES = REGISTRY.ids()
METERS = [pid for pid in PROFILES if REGISTRY.get(pid).device_kind == "power_meter"]
# The real compressor controllers (issue 21): their makers' tables come in the same notations.
CONTROLLERS = [
    pid
    for pid in PROFILES
    if REGISTRY.get(pid).device_kind == "compressor" and not pid.startswith("generic/")
]
HEADER = {"id": "acme/m1", "vendor": "Acme", "model": "M1", "device_kind": "power_meter"}


def register_facts(profile: Profile) -> list[tuple[Any, ...]]:
    """What a register table says about each point: where it is and how it is encoded."""
    facts = []
    for p in profile.points:
        fact: tuple[Any, ...] = (p.name, p.function, p.address, p.dtype, p.unit, p.description)
        if isinstance(p, NumericPoint):
            fact += (p.scale, p.offset, p.kind, profile.order_of(p))
        elif isinstance(p, StringPoint):
            fact += (p.length,)
        elif isinstance(p, BitPoint):
            fact += (p.bit,)
        facts.append(fact)
    return facts


@pytest.mark.parametrize("style", ["zero", "one", "hex", "reference"])
@pytest.mark.parametrize("profile_id", METERS + CONTROLLERS)
def test_every_shipped_meter_and_controller_round_trips_through_its_register_table(
    profile_id: str, style: str
) -> None:
    profile = REGISTRY.get(profile_id)
    table = export_csv(profile, style)  # type: ignore[arg-type]
    header = {"id": profile.id, "vendor": profile.vendor, "model": profile.model}
    header |= {"device_kind": profile.device_kind, "order": profile.order}
    back = import_csv(table, "t.csv", header=header, base=1 if style == "one" else 0)
    assert register_facts(back) == register_facts(profile)


@pytest.mark.parametrize("profile_id", PROFILES)
def test_every_shipped_profile_round_trips_with_zero_based_addresses(profile_id: str) -> None:
    profile = REGISTRY.get(profile_id)
    back = import_csv(export_csv(profile), "t.csv", header=HEADER | {"order": profile.order})
    assert register_facts(back) == register_facts(profile)


def test_the_yaml_written_is_a_valid_profile_with_the_same_points(tmp_path: Path) -> None:
    profile = REGISTRY.get("schneider/pm5300")
    text = dump_profile(import_csv(export_csv(profile), "t.csv", header=HEADER), ["imported"])
    path = tmp_path / "acme" / "m1.yaml"
    path.parent.mkdir()
    path.write_text(text)
    assert register_facts(load_profile(path, "acme/m1")) == register_facts(profile)


def test_a_makers_table_in_its_own_notation() -> None:
    table = (
        "Register;Parameter;Data type;Units;Multiplier;Function code\n"
        "30001;Phase 1 line to neutral volts;FLOAT;V;;\n"
        "0x0048;Total import kWh;float;kWh;;4\n"
        "0049H;Total export kWh;REAL;kWh;;FC04\n"
        "40001;Demand period;WORD;min;;\n"
        "13;Current L1;U16;A;1/100;holding\n"
    )
    profile = import_csv(table, "sdm.csv", header=HEADER)
    got = {p.name: (p.function, p.address, p.dtype) for p in profile.points}
    assert got == {
        "phase_1_line_to_neutral_volts": (Function.INPUT, 0, "float32"),
        "total_import_kwh": (Function.INPUT, 72, "float32"),
        "total_export_kwh": (Function.INPUT, 73, "float32"),
        "demand_period": (Function.HOLDING, 0, "uint16"),
        "current_l1": (Function.HOLDING, 13, "uint16"),
    }
    current = profile.point("current_l1")
    assert isinstance(current, NumericPoint)
    assert current.scale == pytest.approx(0.01)


def test_one_based_decimal_addresses_lose_one_and_hex_stays_as_is() -> None:
    table = (
        "address,name,type,function\n3060,active_power_total_kw,float32,holding\n0x0BF3,p2,float32,holding\n"
    )
    profile = import_csv(table, "pm.csv", header=HEADER, base=1)
    assert [p.address for p in profile.points] == [3059, 0x0BF3]


def issues(table: str, **options: Any) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        import_csv(table, "bad.csv", header=HEADER, **options)
    for issue in caught.value.issues:
        assert issue.file == "bad.csv"
    return [(i.line, i.path, i.message) for i in caught.value.issues]


def test_every_bad_row_is_reported_at_its_row_and_column() -> None:
    table = (
        "address,name,type,unit,scale,function\n"
        "0,voltage_v,float32,V,,input\n"
        "x12,current_a,float32,A,,input\n"
        "4,power_kw,float33,kW,,input\n"
        "# a comment row\n"
        "6,energy_kwh,uint32,kWh,abc,input\n"
        "8,voltage_v,float32,V,,input\n"
        "9,pf,float32,,,output\n"
    )
    found = issues(table)
    assert [(line, path) for line, path, _ in found] == [
        (3, "address"),
        (4, "type"),
        (6, "scale"),
        (7, "name"),
        (8, "function"),
    ]
    assert "'x12'" in found[0][2]
    assert "row 2" in found[3][2]


def test_a_table_without_the_required_columns_names_them() -> None:
    ((line, path, message),) = issues("register,label,format\n1,a,float\n")
    assert (line, path) == (1, "header")
    assert "name" in message


def test_a_row_without_a_table_asks_for_a_function() -> None:
    ((line, path, _),) = issues("address,name,type\n72,total_kwh,float32\n")
    assert (line, path) == (2, "function")
    assert import_csv(
        "address,name,type\n72,total_kwh,float32\n", "ok.csv", header=HEADER, function=Function.INPUT
    )


def test_a_value_the_profile_model_refuses_is_reported_at_its_row() -> None:
    table = "address,name,type,function,bit\n0,status,bits,input,\n1,ok,uint16,input,\n2,flag,bits,input,16\n"
    found = issues(table)
    assert [(line, path) for line, path, _ in found] == [(2, "bit"), (4, "bit")]


def test_the_command_writes_a_profile_and_reports_a_bad_table_without_a_traceback(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "agent.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    table = tmp_path / "sdm630.csv"
    exported = cli("profile", "export", "eastron/sdm630", "--addresses", "reference", "--out", str(table))
    assert exported.returncode == 0, exported.stderr
    out = tmp_path / "acme" / "sdm.yaml"
    out.parent.mkdir()
    imported = cli(
        "profile", "import", str(table), "--id", "acme/sdm", "--kind", "power_meter", "--out", str(out)
    )
    assert imported.returncode == 0, imported.stderr
    assert register_facts(load_profile(out, "acme/sdm")) == register_facts(REGISTRY.get("eastron/sdm630"))
    assert yaml.safe_load(out.read_text())["device_kind"] == "power_meter"

    bad = tmp_path / "bad.csv"
    bad.write_text("address,name,type,function\n1,a,float32,input\nzz,b,float32,input\n")
    failed = cli("profile", "import", str(bad))
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert f"{bad}:3" in failed.stderr
    assert "address" in failed.stderr


def test_profiles_lists_kind_points_and_source_and_searches() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "agent.cli", "profiles", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    listed = cli("--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in yaml.safe_load(listed.stdout)}
    assert set(rows) == set(PROFILES)
    sdm = rows["eastron/sdm630"]
    points = len(REGISTRY.get("eastron/sdm630").points)
    assert (sdm["vendor"], sdm["device_kind"], sdm["points"]) == ("Eastron", "power_meter", points)
    assert "Eastron" in sdm["source"]
    found = cli("--search", "SCHNEIDER")
    assert found.returncode == 0
    assert "schneider/pm5300" in found.stdout
    assert "eastron/sdm630" not in found.stdout


def test_the_commands_offer_exactly_the_tables_notations_and_address_styles() -> None:
    from typing import get_args

    from agent.cli import profile_cmds
    from agent.config.profile_table import AddressStyle, Notation

    assert get_args(Notation) == profile_cmds._NOTATIONS
    assert get_args(AddressStyle) == profile_cmds._ADDRESS_STYLES
