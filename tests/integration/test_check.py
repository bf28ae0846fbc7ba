"""`energy-agent check` against generic simulated devices on a real Modbus TCP socket.

Every shipped profile is served by the simulator's generic device (simulators/generic.py), once as
mapped and, for every power meter and real compressor controller, once per kind of wrong map; all
of them on one server, one unit id each, checked concurrently with one interval between the two
reads. The check must pass on the right map and name the fault on each wrong one.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml

from agent.config.profile import NumericPoint
from agent.config.registry import ProfileRegistry
from agent.config.site import RtuOverTcpBus, TcpBus
from agent.modbus.io import ModbusLink
from agent.modbus.plausibility import Cause, Diagnosis, quantity_of
from agent.modbus.snapshot import check_device
from simulators.clock import FixedClock
from simulators.generic import GenericDevice
from simulators.scenario import load_scenario
from simulators.server import ProfileServer
from tests.integration.conftest import StartFactory

pytestmark = pytest.mark.integration

REGISTRY = ProfileRegistry()
PROFILES = REGISTRY.ids()
METERS = [pid for pid in PROFILES if REGISTRY.get(pid).device_kind == "power_meter"]
# The real compressor controllers (issue 21), not the generic maps of this project.
CONTROLLERS = [
    pid
    for pid in PROFILES
    if REGISTRY.get(pid).device_kind == "compressor" and not pid.startswith("generic/")
]
# The three the issue names first, then the rest of what the check can recognise.
FAULTS = [
    Cause.WORD_ORDER,
    Cause.SCALE_X10,
    Cause.ADDRESS_PLUS_1,
    Cause.BYTE_ORDER,
    Cause.SCALE_DIV10,
    Cause.ADDRESS_MINUS_1,
    Cause.FUNCTION_CODE,
]
CASES: list[tuple[str, Cause | None]] = [(pid, None) for pid in PROFILES] + [
    (pid, fault) for pid in METERS + CONTROLLERS for fault in FAULTS
]
# Long enough for a 0.01 kWh register to tick at the generic single-phase load (12.7 kW: one step
# per 2.8 s; three-phase, 38 kW, is faster). A swapped-word counter shows only when it moves: at
# 1.2 s hiking/dds238-2's word_order case was caught only when the reads happened to straddle a
# step, which depended on how long the server took to start.
INTERVAL_S = 3.2


async def _check_all() -> dict[tuple[str, Cause | None], Diagnosis]:
    devices = {unit: GenericDevice(REGISTRY.get(pid), fault) for unit, (pid, fault) in enumerate(CASES, 1)}
    async with ProfileServer(devices) as server:
        bus = TcpBus(type="tcp", name="sim", host="127.0.0.1", port=server.port, timeout_s=2.0, retries=0)
        async with ModbusLink(bus) as link:
            found = await asyncio.gather(
                *(check_device(link, unit, device.profile, INTERVAL_S) for unit, device in devices.items())
            )
    return dict(zip(CASES, found, strict=True))


@pytest.fixture(scope="module")
def diagnoses() -> dict[tuple[str, Cause | None], Diagnosis]:
    return asyncio.run(_check_all())


def test_the_registry_has_meters_to_check() -> None:
    assert len(METERS) >= 3
    assert {"eastron/sdm630", "acrel/adw300", "schneider/pm5300"} <= set(METERS)


@pytest.mark.parametrize("profile_id", PROFILES)
def test_check_passes_on_the_generic_device_of_every_shipped_profile(
    diagnoses: dict[tuple[str, Cause | None], Diagnosis], profile_id: str
) -> None:
    diagnosis = diagnoses[(profile_id, None)]
    mapped = diagnosis.as_mapped
    assert diagnosis.passed, [str(r) for r in mapped.failures]
    assert mapped.passed >= 1  # something was judged, not an empty pass
    numeric = [name for name, (first, second) in mapped.values.items()]
    assert numeric
    assert all(mapped.values[n][1] is not None for n in numeric)


@pytest.mark.parametrize("profile_id", METERS)
def test_a_meter_is_judged_on_what_it_measures(
    diagnoses: dict[tuple[str, Cause | None], Diagnosis], profile_id: str
) -> None:
    kinds = kinds_of(profile_id)
    rules = {r.rule for r in diagnoses[(profile_id, None)].as_mapped.results}
    assert "counter non-decreasing" in rules
    if kinds & {"voltage_ln", "voltage_ll"}:
        assert "voltage" in rules
    if "frequency" in kinds:
        assert "frequency" in rules
    if {"voltage_ln", "current", "active_power"} <= kinds:
        assert {"P = U x I x PF", "P <= U x I"} & rules


def kinds_of(profile_id: str) -> set[str]:
    profile = REGISTRY.get(profile_id)
    return {q.kind for p in profile.points if isinstance(p, NumericPoint) and (q := quantity_of(p))}


# A scale error shows only against something with an absolute range: a map of powers and energies
# alone (eastron/sdm72d-m) reads as a plant ten times larger or smaller.
ABSOLUTE = {"voltage_ln", "voltage_ll", "frequency", "power_factor"}
SCALES = {Cause.SCALE_X10, Cause.SCALE_DIV10}


@pytest.mark.parametrize(("profile_id", "fault"), [(pid, f) for pid in METERS for f in FAULTS])
def test_check_fails_a_wrong_meter_map_and_names_the_cause(
    diagnoses: dict[tuple[str, Cause | None], Diagnosis], profile_id: str, fault: Cause
) -> None:
    diagnosis = diagnoses[(profile_id, fault)]
    if fault in SCALES and not kinds_of(profile_id) & ABSOLUTE:
        assert diagnosis.passed  # the limit, pinned: nothing to measure the scale against
        return
    assert not diagnosis.passed
    assert diagnosis.likely is not None, [str(r) for r in diagnosis.as_mapped.failures[:5]]
    assert diagnosis.likely.cause is fault, (
        f"named {diagnosis.likely.cause} ({len(diagnosis.likely.failures)} failures); "
        + ", ".join(f"{h.cause}: {len(h.failures)}" for h in diagnosis.hypotheses)
    )


def test_the_registry_has_real_compressor_controllers_to_check() -> None:
    assert len(CONTROLLERS) >= 4  # issue 21: at least four real controllers
    assert {"compair/delcos_xl", "ingersoll_rand/xe145m", "kaeser/sigma_control"} <= set(CONTROLLERS)


def _has_multi_register_value(profile_id: str) -> bool:
    return any(
        isinstance(p, NumericPoint) and p.dtype not in ("int16", "uint16")
        for p in REGISTRY.get(profile_id).points
    )


@pytest.mark.parametrize(("profile_id", "fault"), [(pid, f) for pid in CONTROLLERS for f in FAULTS])
def test_check_fails_a_wrong_controller_map_and_names_the_cause(
    diagnoses: dict[tuple[str, Cause | None], Diagnosis], profile_id: str, fault: Cause
) -> None:
    diagnosis = diagnoses[(profile_id, fault)]
    # The limits, pinned: a map of 16-bit registers has no word order to get wrong, and values ten
    # times smaller (hours, 0.7 bar, currents, speeds) are still plausible without a voltage or a
    # frequency to measure them against.
    if fault is Cause.WORD_ORDER and not _has_multi_register_value(profile_id):
        assert diagnosis.passed
        return
    if fault is Cause.SCALE_DIV10 and not kinds_of(profile_id) & ABSOLUTE:
        assert diagnosis.passed
        return
    assert not diagnosis.passed
    assert diagnosis.likely is not None, [str(r) for r in diagnosis.as_mapped.failures[:5]]
    assert diagnosis.likely.cause is fault, (
        f"named {diagnosis.likely.cause} ({len(diagnosis.likely.failures)} failures); "
        + ", ".join(f"{h.cause}: {len(h.failures)}" for h in diagnosis.hypotheses)
    )


# --- the command, through a subprocess -------------------------------------------------------------


async def cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _site(tmp_path: Path, port: int) -> Path:
    bus = {"name": "meters", "type": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 1.0}
    devices = [
        {"name": "main", "bus": "meters", "unit_id": 1, "profile": "eastron/sdm630"},
        {"name": "feeder", "bus": "meters", "unit_id": 2, "profile": "eastron/sdm630"},
    ]
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"site": {"name": "check"}, "buses": [bus], "devices": devices}))
    return site


async def test_the_command_passes_a_right_map_and_fails_a_swapped_one(tmp_path: Path) -> None:
    sdm630 = REGISTRY.get("eastron/sdm630")
    devices = {1: GenericDevice(sdm630), 2: GenericDevice(sdm630, Cause.WORD_ORDER)}
    async with ProfileServer(devices) as server:
        site = str(_site(tmp_path, server.port))
        (ok_code, ok_out, ok_err), (bad_code, bad_out, bad_err) = await asyncio.gather(
            cli("check", site, "--device", "main", "--interval", "1"),
            cli("check", site, "--device", "feeder", "--interval", "1"),
        )
    assert ok_code == 0, ok_err
    assert "PASS" in ok_out
    assert "voltage_l1_n_v" in ok_out
    assert bad_code == 1, bad_err
    assert "Traceback" not in bad_err
    assert "FAIL" in bad_out
    assert "likely cause: word_order" in bad_out


async def test_the_command_names_scale_in_json_for_an_integer_meter() -> None:
    adw300 = REGISTRY.get("acrel/adw300")
    async with ProfileServer({7: GenericDevice(adw300, Cause.SCALE_X10)}) as server:
        code, out, err = await cli(
            "check",
            *("--host", "127.0.0.1", "--port", str(server.port), "--unit", "7"),
            *("--profile", "acrel/adw300", "--interval", "0.5", "--json"),
        )
    assert code == 1, err
    answer = yaml.safe_load(out)  # JSON is YAML
    assert answer["passed"] is False
    assert answer["likely_cause"] == "scale_x10"
    voltage = next(p for p in answer["points"] if p["point"] == "voltage_l1_n_v")
    assert voltage["read_1"] == pytest.approx(2300.0)
    assert voltage["verdict"].startswith("FAIL")


async def test_a_device_that_is_not_there_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = await cli("check", str(_site(tmp_path, port)), "--device", "main", "--interval", "0")
    assert code == 2
    assert "Traceback" not in err
    assert f"127.0.0.1:{port}" in err


async def test_an_unknown_device_is_exit_1_naming_the_devices(tmp_path: Path) -> None:
    code, _, err = await cli("check", str(_site(tmp_path, 1)), "--device", "nope")
    assert code == 1
    assert "Traceback" not in err
    assert "main" in err
    assert "feeder" in err


async def test_check_passes_every_device_of_the_physics_simulator(start_factory: StartFactory) -> None:
    """An independent source of values: the scenario physics, not the generic device's generator."""
    scenario = load_scenario("tiny")
    factory = await start_factory(scenario, clock=FixedClock(scenario.start.timestamp() + 86400 + 12 * 3600))
    endpoints = [e for e in factory.endpoints() if e.transport != "serial"]  # one per kind is on TCP
    assert {e.profile for e in endpoints} >= {"eastron/sdm630", "generic/compressor_vsd"}
    for endpoint in endpoints:
        host, port = endpoint.address.rsplit(":", 1)
        where = {"host": host, "port": int(port), "timeout_s": 2.0, "retries": 0}
        bus: TcpBus | RtuOverTcpBus = (
            TcpBus(type="tcp", name="sim", **where)
            if endpoint.transport == "tcp"
            else RtuOverTcpBus(type="rtu_over_tcp", name="sim", **where)
        )
        async with ModbusLink(bus) as link:
            diagnosis = await check_device(link, endpoint.unit_id, REGISTRY.get(endpoint.profile), 0.2)
        assert diagnosis.passed, (endpoint.device, [str(r) for r in diagnosis.as_mapped.failures])
        assert diagnosis.as_mapped.passed >= 2
