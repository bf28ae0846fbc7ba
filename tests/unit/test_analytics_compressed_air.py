"""Compressed-air figures that hold (issue 18): net leak with its interval, air from the data-sheet
power-to-flow curve, specific power only where it means something, grade only from user limits,
states that are not qualities, and advice for a machine far worse than its peers. Plain values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agent.analytics.compressors import (
    compressor_kpis,
    flow_from_curve,
    leak_estimate,
    machine_air,
    room_kpis,
)
from agent.analytics.stats import t_two_sided
from agent.config.analytics import CompressorSpec, GradeLimits

FAD, RATED_KW, FIXED = 16.0, 90.0, 0.12
# Test limits, NOT values from GB 19153-2019 (the standard's per-size table is entered by users).
LIMITS = GradeLimits(grade_1=5.5, grade_2=6.5, grade_3=7.5, source="test values")
# the VSD machine's data sheet: power = rated x (0.12 + 0.88 x speed), flow = speed x FAD
CURVE = [[RATED_KW * (FIXED + (1 - FIXED) * s), FAD * s] for s in (0.3, 0.6, 1.0)]


def spec(device: str = "c1", **extra: object) -> CompressorSpec:
    fields = {"device": device, "rated_power_kw": RATED_KW, "rated_fad_m3_min": FAD, **extra}
    return CompressorSpec.model_validate(fields)


def index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2025-03-01", periods=n, freq="15min", tz="UTC")


def load_unload(loaded_share: float, n: int = 8, running_share: float = 1.0) -> pd.DataFrame:
    running = np.full(n, 0.25 * running_share)
    loaded = running * loaded_share
    kwh = RATED_KW * loaded + 0.22 * RATED_KW * (running - loaded)
    return pd.DataFrame({"kwh": kwh, "loaded_h": loaded, "running_h": running}, index=index(n))


def vsd(speeds: list[float], pressure_factor: float = 1.0) -> pd.DataFrame:
    """A VSD machine loaded the whole interval at each speed; its true air alongside."""
    speed = np.array(speeds)
    kw = RATED_KW * pressure_factor * (FIXED + (1 - FIXED) * speed)
    frame = pd.DataFrame({"kwh": kw * 0.25, "loaded_h": 0.25, "running_h": 0.25}, index=index(len(speeds)))
    frame["true_air_m3"] = speed * FAD * 15.0
    return frame


# ------------------------------------------------------------ leak


def test_leak_is_the_idle_flow_net_of_the_declared_base_demand() -> None:
    air = pd.Series([150.0] * 4 + [300.0] * 4, index=index(8))  # 10 m3/min idle, 20 busy
    idle = pd.Series([True] * 4 + [False] * 4, index=index(8))
    net = leak_estimate(air, idle, base_demand_m3_min=2.5, interval_h=0.25)
    assert net.m3_min == pytest.approx(7.5)
    assert net.method == "net of declared base demand"
    assert net.intervals_used == 4
    assert net.share == pytest.approx(7.5 * 120 / 1800)  # leak x period minutes / air delivered
    gross = leak_estimate(air, idle, base_demand_m3_min=None, interval_h=0.25)
    assert gross.m3_min == pytest.approx(10.0)
    assert gross.method == "leak + base demand"


def test_leak_interval_is_students_t_on_the_idle_flows() -> None:
    flows = [9.0, 11.0] * 4  # alternating: negative autocorrelation, counted as independent
    air = pd.Series(np.array(flows) * 15.0, index=index(8))
    leak = leak_estimate(air, pd.Series(True, index=index(8)), base_demand_m3_min=1.0, interval_h=0.25)
    half = t_two_sided(0.90, 7) * np.std(flows, ddof=1) / math.sqrt(8)
    assert leak.ci90_m3_min == pytest.approx((9.0 - half, 9.0 + half))


def test_autocorrelated_idle_flows_widen_the_interval() -> None:
    drifting = np.array([8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 12.0, 12.5, 13.0, 13.5])
    shuffled = drifting[[0, 6, 11, 3, 9, 1, 7, 4, 10, 2, 8, 5]]
    idle = pd.Series(True, index=index(12))

    def width(flows: np.ndarray) -> float:
        leak = leak_estimate(
            pd.Series(flows * 15, index=index(12)), idle, base_demand_m3_min=0, interval_h=0.25
        )
        assert leak.ci90_m3_min is not None
        return leak.ci90_m3_min[1] - leak.ci90_m3_min[0]

    assert width(drifting) > 1.5 * width(shuffled)


@pytest.mark.parametrize(
    ("air", "idle", "reason"),
    [
        (pd.Series(100.0, index=index(8)), None, "no production signal"),
        (pd.Series(100.0, index=index(8)), pd.Series(False, index=index(8)), "no non-production intervals"),
        (pd.Series(np.nan, index=index(8)), pd.Series(True, index=index(8)), "no air estimate"),
        (pd.Series(100.0, index=index(8)), pd.Series([True] * 2 + [False] * 6, index=index(8)), "only 2"),
    ],
)
def test_a_leak_that_cannot_be_computed_says_why(air: pd.Series, idle: pd.Series | None, reason: str) -> None:
    leak = leak_estimate(air, idle, base_demand_m3_min=1.0, interval_h=0.25)
    assert leak.m3_min is None
    assert leak.reason is not None
    assert reason in leak.reason


def test_a_base_demand_above_the_idle_flow_gives_no_negative_leak() -> None:
    leak = leak_estimate(pd.Series(30.0, index=index(6)), pd.Series(True, index=index(6)),
                         base_demand_m3_min=5.0, interval_h=0.25)  # fmt: skip
    assert leak.m3_min == 0.0
    assert "exceeds the idle flow" in leak.notes[0]


def test_room_leak_uses_each_machines_air_estimate() -> None:
    """Idle: the load/unload machine loaded 40 % (6.4 m3/min) and the VSD at 30 % speed (4.8)."""
    lu, drive = load_unload(0.4), vsd([0.3] * 8).drop(columns="true_air_m3")
    idle = pd.Series(True, index=index(8))
    room = room_kpis({"lu": lu, "v": drive}, [spec("lu", control="load_unload"),
                     spec("v", control="vsd", flow_curve=CURVE)], no_production=idle,
                     base_demand_m3_min=1.2)  # fmt: skip
    assert room.leak.m3_min == pytest.approx(0.4 * FAD + 0.3 * FAD - 1.2)
    assert room.leak_m3_min == room.leak.m3_min


# ------------------------------------------------------------ air per machine


def test_curve_interpolation_and_its_edges() -> None:
    flow, outside = flow_from_curve(np.array([20.0, 30.0, 45.0, 100.0]), [(20, 4), (40, 8), (60, 12)])
    assert flow.tolist() == pytest.approx([4.0, 6.0, 9.0, 12.0])
    assert outside.tolist() == [False, False, False, True]


def test_vsd_air_comes_from_the_power_to_flow_curve() -> None:
    data = vsd([0.35, 0.5, 0.8, 1.0, 0.6])
    air = machine_air(data.drop(columns="true_air_m3"), spec(control="vsd", flow_curve=CURVE))
    assert air.method == "power-to-flow curve"
    assert "power_to_flow_curve" in air.flags
    assert air.m3.sum() == pytest.approx(data["true_air_m3"].sum())


def test_vsd_air_without_a_curve_is_rated_fad_and_flagged_as_overstated() -> None:
    data = vsd([0.5] * 4)
    kpis = compressor_kpis(data.drop(columns="true_air_m3"), spec(control="vsd"))
    assert kpis.air_method == "loaded hours x rated FAD"
    assert kpis.air_m3 == pytest.approx(2 * data["true_air_m3"].sum())  # at half speed: twice the air
    assert "air_overstated" in kpis.flags


def test_the_curve_is_read_at_its_own_pressure() -> None:
    """At 1 bar below the curve's pressure the machine draws 7 % less for the same flow."""
    data = vsd([0.4, 0.7, 0.9], pressure_factor=0.93).assign(pressure_bar=6.5)
    air = machine_air(
        data.drop(columns="true_air_m3"), spec(control="vsd", flow_curve=CURVE, flow_curve_bar=7.5)
    )
    assert air.m3.sum() == pytest.approx(data["true_air_m3"].sum())


def test_curve_air_takes_the_unloaded_energy_out_first() -> None:
    data = vsd([0.6] * 4)
    true_air = data.pop("true_air_m3").sum()
    data["running_h"] = 0.25
    data["loaded_h"] = 0.15  # 0.1 h of each interval unloaded at 20 kW
    data["kwh"] = RATED_KW * (FIXED + (1 - FIXED) * 0.6) * 0.15 + 20.0 * 0.1
    air = machine_air(data, spec(control="vsd", flow_curve=CURVE), unloaded_kw=20.0)
    assert air.m3.sum() == pytest.approx(true_air * 0.15 / 0.25)
    unknown = machine_air(data, spec(control="vsd", flow_curve=CURVE), unloaded_kw=None)
    assert "unloaded_power_unknown" in unknown.flags


def test_load_unload_air_is_loaded_hours_times_rated_fad() -> None:
    kpis = compressor_kpis(load_unload(0.5), spec(control="load_unload"))
    assert kpis.air_method == "loaded hours x rated FAD"
    assert kpis.air_m3 == pytest.approx(8 * 0.125 * 60 * FAD)
    assert kpis.flags == ["no_grade_data"]


def test_an_undeclared_control_kind_is_flagged() -> None:
    kpis = compressor_kpis(load_unload(0.5), spec())
    assert kpis.control == "load_unload"
    assert "control_assumed" in kpis.flags


# ------------------------------------------------------------ specific power, grade, states


def test_specific_power_of_a_mostly_unloaded_machine_is_not_meaningful() -> None:
    kpis = compressor_kpis(load_unload(0.05), spec(control="load_unload", grade_limits=LIMITS))
    assert kpis.specific_power is None
    assert kpis.specific_power_note is not None
    assert "loaded 5% of its running time" in kpis.specific_power_note
    assert "specific_power_not_meaningful" in kpis.flags
    assert kpis.grade is None
    assert kpis.grade_note.startswith("not graded")


def test_grade_from_user_limits_and_no_grade_data_without() -> None:
    graded = compressor_kpis(load_unload(0.8), spec(control="load_unload", grade_limits=LIMITS,
                                                    unloaded_power_kw=0.22 * RATED_KW))  # fmt: skip
    assert graded.loaded_specific_power == pytest.approx(RATED_KW / FAD)  # 5.625: between 1 and 2
    assert graded.grade == "2"
    assert graded.grade_note == "GB 19153-2019 limits from test values"
    plain = compressor_kpis(load_unload(0.8), spec(control="load_unload"))
    assert plain.grade is None
    assert plain.grade_note.startswith("no grade data")
    assert "no_grade_data" in plain.flags


def test_a_stopped_machine_is_a_state_not_a_bad_figure() -> None:
    stopped = load_unload(0.0, running_share=0.0)
    kpis = compressor_kpis(stopped, spec(control="load_unload"))
    assert (kpis.state_shares.off, kpis.state_shares.unloaded, kpis.state_shares.loaded) == (1.0, 0.0, 0.0)
    assert kpis.specific_power is None
    assert kpis.specific_power_note == "not meaningful: the machine did not run"


def test_state_shares_split_the_period() -> None:
    kpis = compressor_kpis(load_unload(0.5, running_share=0.8), spec(control="load_unload"))
    assert kpis.state_shares.off == pytest.approx(0.2)
    assert kpis.state_shares.unloaded == pytest.approx(0.4)
    assert kpis.state_shares.loaded == pytest.approx(0.4)


# ------------------------------------------------------------ advice


def test_a_machine_far_worse_than_its_peers_gets_advice() -> None:
    machines = {f"c{i}": load_unload(0.8) for i in range(1, 4)}
    machines["worn"] = load_unload(0.8).assign(kwh=lambda f: f["kwh"] * 1.45)
    machines["idle"] = load_unload(0.02)  # enormous kW/(m3/min), but not meaningful: no advice for it
    specs = [spec(d, control="load_unload") for d in machines]
    room = room_kpis(machines, specs)
    outliers = [a for a in room.advice if a.code == "peer_outlier"]
    assert [a.device for a in outliers] == ["worn"]
    assert outliers[0].value == pytest.approx(1.45)
    flagged = {k.device for k in room.machines if "peer_outlier" in k.flags}
    assert flagged == {"worn"}


def test_no_peer_advice_within_a_quarter_of_the_median() -> None:
    machines = {
        f"c{i}": load_unload(0.8).assign(kwh=lambda f, i=i: f["kwh"] * (1 + 0.05 * i)) for i in range(4)
    }
    room = room_kpis(machines, [spec(d, control="load_unload") for d in machines])
    assert not [a for a in room.advice if a.code == "peer_outlier"]


def test_leak_advice_follows_the_net_leak() -> None:
    """Idle flow 8 m3/min of which 6.5 declared base demand: 1.5 m3/min (19 %) is no survey."""
    machine = load_unload(0.5)  # 8 m3/min all the time
    idle = pd.Series([True] * 4 + [False] * 4, index=index(8))
    gross = room_kpis({"c1": machine}, [spec(control="load_unload")], no_production=idle)
    net = room_kpis(
        {"c1": machine}, [spec(control="load_unload")], no_production=idle, base_demand_m3_min=6.5
    )
    assert "leaks" in {a.code for a in gross.advice}
    assert "leaks" not in {a.code for a in net.advice}
    assert net.leak.share == pytest.approx(1.5 / 8.0)
