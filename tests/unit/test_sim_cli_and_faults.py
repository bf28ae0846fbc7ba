"""The simulate command's history mode, the shipped scenarios, fault values and the clocks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from agent.cli import simulate
from agent.config.registry import ProfileRegistry
from simulators.clock import AcceleratedClock, FixedClock
from simulators.controls import PanelControls
from simulators.faults import Fault, FaultKind, FaultTable
from simulators.scenario import load_scenario, shipped_scenarios
from simulators.site import SiteModel


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    simulate.add_parser(parser.add_subparsers())
    args = parser.parse_args(["simulate", *argv])
    return int(args.handler(args))


def test_simulate_history_writes_history_and_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(["tiny", "--history", "2", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "history.csv.gz").stat().st_size > 0
    assert json.loads((tmp_path / "truth.json").read_text())["scenario"] == "tiny"
    assert "192 intervals" in capsys.readouterr().out


def test_simulate_names_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["no_such_factory", "--history", "1"]) == 1
    assert "no such scenario" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["tiny", "small_site", "demo_factory", "control_week"])
def test_shipped_scenarios_use_existing_profiles_and_serve_every_numeric_point(name: str) -> None:
    assert name in shipped_scenarios()
    scenario = load_scenario(name)
    model = SiteModel(scenario)
    registry = ProfileRegistry()
    t = scenario.start.timestamp() + 3600.5
    controls = PanelControls()  # a compressor's control registers come from its panel (or the engine)
    for device in scenario.devices:
        profile = registry.get(device.profile)
        values = model.values(device.name, t)
        if device.kind == "compressor":
            values |= controls.control_values(device.name, t)
        served = {p.name for p in profile.points if p.dtype not in ("bits", "string")}
        assert served - set(values) <= {"thd_voltage_l1_n_pct"} | set(), (
            f"{device.name}: {served - set(values)}"
        )


def test_demo_factory_sub_meters_leave_a_realistic_unaccounted_share() -> None:
    demo = load_scenario("demo_factory")
    model = SiteModel(demo)
    t0, t1 = demo.start.timestamp() + 14 * 86400, demo.start.timestamp() + 21 * 86400
    used = {
        d.name: model.counters(d.name, t1)["import_kwh"] - model.counters(d.name, t0)["import_kwh"]
        for d in demo.devices
        if d.kind == "meter"
    }
    main = used.pop("main_meter")
    assert len(used) == 20
    assert 0.03 < 1 - sum(used.values()) / main < 0.08


def test_rollover_fault_starts_near_the_wrap_and_wraps() -> None:
    profile = ProfileRegistry().get("generic/compressor_load_unload")
    table = FaultTable()
    table.set(1, Fault(FaultKind.ROLLOVER, point="energy_kwh", margin=2.0))
    first = table.apply_values(1, profile, {"energy_kwh": 500.0})["energy_kwh"]
    later = table.apply_values(1, profile, {"energy_kwh": 503.0})["energy_kwh"]
    assert first == pytest.approx(999_998.0)
    assert later == pytest.approx(1.0)


def test_glitch_lasts_one_read_and_reset_restarts_counters_at_zero() -> None:
    profile = ProfileRegistry().get("eastron/sdm630")
    table = FaultTable()
    table.set(1, Fault(FaultKind.GLITCH, point="total_import_kwh"))
    assert table.apply_values(1, profile, {"total_import_kwh": 10.0})["total_import_kwh"] == 0.0
    assert table.apply_values(1, profile, {"total_import_kwh": 10.0})["total_import_kwh"] == 10.0
    table.set(1, Fault(FaultKind.RESET))
    assert table.apply_values(1, profile, {"total_import_kwh": 10.0})["total_import_kwh"] == 0.0
    assert table.apply_values(1, profile, {"total_import_kwh": 12.5})["total_import_kwh"] == 2.5


def test_an_invalid_exception_code_is_refused() -> None:
    with pytest.raises(ValueError, match="exception code 9"):
        FaultTable().set(3, Fault(FaultKind.EXCEPTION, code=9))


def test_clocks_stand_still_or_run_fast() -> None:
    fixed = FixedClock(100.0)
    fixed.advance(5)
    assert fixed.now() == 105.0
    fast = AcceleratedClock(start=0.0, factor=1e6)
    assert fast.now() >= 0.0
    with pytest.raises(ValueError, match="factor"):
        AcceleratedClock(start=0.0, factor=0)
