"""`energy-agent read` and `scan` against a real Modbus TCP server (the simulated factory)."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from simulators.clock import FixedClock
from simulators.server import SimulatedFactory
from tests.integration.conftest import StartFactory
from tests.scenarios import shipped_scenario

pytestmark = pytest.mark.integration

TINY = shipped_scenario("tiny")
NOON_DAY_2 = TINY.start.timestamp() + 86400 + 12 * 3600 + 7.5


async def cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def tiny(start_factory: StartFactory) -> SimulatedFactory:
    return await start_factory(TINY, clock=FixedClock(NOON_DAY_2))


async def test_read_decodes_a_meter_through_its_profile(tiny: SimulatedFactory) -> None:
    port = str(tiny.bus("meters").port)
    code, out, err = await cli(
        "read", "--host", "127.0.0.1", "--port", port, "--unit", "1", "--profile", "eastron/sdm630", "--json"
    )
    assert code == 0, err
    got = {p["point"]: p for p in json.loads(out)["points"]}
    expected = tiny.model.values("main_meter", NOON_DAY_2)
    assert len(got) == 60
    assert sum(got[f"import_l{n}_kwh"]["value"] for n in (1, 2, 3)) == pytest.approx(
        got["total_import_kwh"]["value"], rel=1e-5
    )
    for name in (
        "voltage_l1_n_v",
        "current_l2_a",
        "active_power_total_kw",
        "total_import_kwh",
        "frequency_hz",
    ):
        assert got[name]["quality"] == "good"
        assert got[name]["value"] == pytest.approx(float(np.float32(expected[name])), rel=1e-6), name
    assert got["total_import_kwh"]["unit"] == "kWh"


async def test_read_one_register_by_address_and_type(tiny: SimulatedFactory) -> None:
    port = str(tiny.bus("meters").port)
    code, out, err = await cli(
        "read",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--unit",
        "1",
        "--address",
        "72",
        "--function",
        "input",
        "--dtype",
        "float32",
    )
    assert code == 0, err
    expected = float(np.float32(tiny.model.values("main_meter", NOON_DAY_2)["total_import_kwh"]))
    value_line = next(line for line in out.splitlines() if line.startswith("value"))
    assert float(value_line.split()[1]) == pytest.approx(expected, rel=1e-4)


async def test_scan_finds_the_units_that_answer(tiny: SimulatedFactory) -> None:
    port = str(tiny.bus("meters").port)
    units = sorted(d.unit_id for b in TINY.buses if b.name == "meters" for d in b.devices)
    code, out, err = await cli(
        "scan",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--units",
        "1-6",
        "--function",
        "input",
        "--timeout",
        "0.2",
        "--json",
    )
    assert code == 0, err
    assert [f["unit"] for f in json.loads(out)["found"]] == units
    # stderr is a pipe here: one progress line per tenth of the ids and per unit that answers
    progress = err.strip().splitlines()
    assert progress[-1] == f"scan: 6/6 unit ids, {len(units)} answered"
    for unit in units:
        assert any(line.endswith(f": unit {unit} answers") for line in progress)
    assert len(progress) == 6


async def test_an_unreachable_device_is_exit_2_with_one_clear_line() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = await cli(
        "read", "--host", "127.0.0.1", "--port", str(port), "--profile", "eastron/sdm630"
    )
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert f"127.0.0.1:{port}" in err


async def test_an_unknown_profile_is_exit_1_naming_the_known_ones() -> None:
    code, _, err = await cli("read", "--host", "127.0.0.1", "--profile", "eastron/sdm999")
    assert code == 1
    assert "unknown profile 'eastron/sdm999'" in err
    assert "eastron/sdm630" in err


async def test_read_with_a_site_config_finds_a_profile_in_its_profiles_dirs(
    tiny: SimulatedFactory, tmp_path: Path
) -> None:
    """Issue 17: `read --config --device` looked profiles up in the shipped directory only."""
    (tmp_path / "profiles" / "acme").mkdir(parents=True)
    (tmp_path / "profiles" / "acme" / "volts.yaml").write_text(
        "id: acme/volts\nvendor: Acme\nmodel: Volts\ndevice_kind: power_meter\npoints:\n"
        "  - {name: l1_volts, function: input, address: 0, dtype: float32, unit: V}\n"
        "  - {name: l3_volts, function: input, address: 4, dtype: float32, unit: V}\n",
        encoding="utf-8",
    )
    bus = {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": tiny.bus("meters").port}
    device = {"name": "main", "bus": "meters", "unit_id": 1, "profile": "acme/volts"}
    site = tmp_path / "site.yaml"
    site.write_text(
        yaml.safe_dump(
            {"site": {"name": "t"}, "profiles_dirs": ["profiles"], "buses": [bus], "devices": [device]}
        )
    )
    code, out, err = await cli("read", "--config", str(site), "--device", "main", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["profile"] == "acme/volts"
    expected = tiny.model.values("main_meter", NOON_DAY_2)
    got = {p["point"]: p["value"] for p in answer["points"]}
    assert got == {
        "l1_volts": pytest.approx(float(np.float32(expected["voltage_l1_n_v"])), rel=1e-6),
        "l3_volts": pytest.approx(float(np.float32(expected["voltage_l3_n_v"])), rel=1e-6),
    }
