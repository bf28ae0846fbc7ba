import numpy as np
import pandas as pd
import pytest

from agent.analytics import AnalyticsError, compressor_kpis, grade, room_kpis
from agent.config.analytics import CompressorSpec, GradeLimits

TZ = "Asia/Shanghai"
LOADED_KW, UNLOADED_KW, FAD = 90.0, 22.0, 15.0
# Test limits, NOT values from GB 19153-2019 (the standard's per-size table is entered by users).
LIMITS = GradeLimits(grade_1=5.5, grade_2=6.5, grade_3=7.5, source="test values")


def spec(device: str = "c1", **extra: object) -> CompressorSpec:
    return CompressorSpec.model_validate(
        {
            "device": device,
            "rated_power_kw": LOADED_KW,
            "rated_fad_m3_min": FAD,
            "grade_limits": LIMITS,
            **extra,
        }
    )


def machine(days: int = 2, busy_load: float = 0.7, idle_load: float = 0.2) -> tuple[pd.DataFrame, pd.Series]:
    """Load/unload machine, 15-min intervals; production 08-20 local, loaded share differs when idle."""
    index = pd.date_range("2025-03-01", periods=96 * days, freq="15min", tz=TZ).tz_convert("UTC")
    hour = index.tz_convert(TZ).hour
    idle = pd.Series((hour < 8) | (hour >= 20), index=index)
    loaded_h = np.where(idle, idle_load, busy_load) * 0.25
    running_h = np.full(len(index), 0.25)
    kwh = LOADED_KW * loaded_h + UNLOADED_KW * (running_h - loaded_h)
    return pd.DataFrame({"kwh": kwh, "loaded_h": loaded_h, "running_h": running_h}, index=index), idle


def test_specific_power_load_share_and_unloaded_energy() -> None:
    data, _ = machine()
    kpis = compressor_kpis(data, spec())
    assert kpis.unloaded_kw == pytest.approx(UNLOADED_KW)
    assert kpis.unloaded_kw_method.startswith("estimated")
    assert kpis.load_share == pytest.approx(0.45)
    assert kpis.loaded_specific_power == pytest.approx(LOADED_KW / FAD)
    expected_sp = 60 * data["kwh"].sum() / (data["loaded_h"].sum() * 60 * FAD)
    assert kpis.specific_power == pytest.approx(expected_sp)
    unloaded_kwh = UNLOADED_KW * 0.55 * 0.25 * len(data)
    assert kpis.unloaded_energy_share == pytest.approx(unloaded_kwh / data["kwh"].sum())


def test_measured_air_flow_is_preferred() -> None:
    data, _ = machine()
    data["air_m3"] = data["loaded_h"] * 60 * FAD * 0.9  # the machine delivers 10 % below its data sheet
    kpis = compressor_kpis(data, spec(unloaded_power_kw=UNLOADED_KW))
    assert kpis.air_method == "flow meter"
    assert "flow_meter" in kpis.flags
    assert kpis.loaded_specific_power == pytest.approx(LOADED_KW / FAD / 0.9)


def test_profile_counter_names_are_accepted() -> None:
    data, _ = machine()
    data["air_m3"] = data["loaded_h"] * 60 * FAD
    renamed = data.rename(columns={"kwh": "energy_kwh", "air_m3": "fad_m3"})
    assert compressor_kpis(renamed, spec()) == compressor_kpis(data, spec())


def test_pressure_band_costs_seven_percent_per_bar() -> None:
    data, _ = machine()
    kpis = compressor_kpis(data, spec(setpoint_bar=8.0), required_pressure_bar=6.5)
    assert kpis.pressure_excess_kwh == pytest.approx(0.07 * 1.5 * data["kwh"].sum())


@pytest.mark.parametrize(("sp", "expected"), [(5.0, "1"), (6.0, "2"), (7.5, "3"), (8.0, "below 3")])
def test_grade_against_user_entered_limits(sp: float, expected: str) -> None:
    assert grade(sp, spec()) == expected


def test_no_grade_without_limits() -> None:
    assert grade(6.0, spec(grade_limits=None)) is None


def test_room_level_kpis_and_advice() -> None:
    first, idle = machine()
    second, _ = machine()
    room = room_kpis({"c1": first, "c2": second}, [spec("c1"), spec("c2", setpoint_bar=8.0)],
                     no_production=idle, required_pressure_bar=7.0)  # fmt: skip
    assert room.specific_power == pytest.approx(compressor_kpis(first, spec()).specific_power)
    assert room.leak_m3_min == pytest.approx(2 * 0.2 * FAD)
    # the leak runs all the time: its share is leak x period minutes / air delivered (mean load 0.45)
    assert room.leak_share_of_demand == pytest.approx(0.2 / 0.45)
    assert room.leak.method == "leak + base demand"
    codes = {a.code for a in room.advice}
    assert codes == {"sequencing", "leaks", "pressure"}


def test_loaded_hours_above_running_hours_are_refused() -> None:
    data, _ = machine()
    data.iloc[3, data.columns.get_loc("loaded_h")] = 1.0
    with pytest.raises(AnalyticsError, match="c1: loaded_h exceeds running_h"):
        compressor_kpis(data, spec())


def test_room_needs_a_spec_per_machine() -> None:
    data, _ = machine(days=1)
    with pytest.raises(AnalyticsError, match="ghost"):
        room_kpis({"ghost": data}, [spec()])
