"""The compressor-room engine on plain values: band, demand steps, start/stop rules, VSD, conservation."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.airroom import ATM_BAR, LOADED, OFF, UNLOADED, AirRoom, MachineParams

V = 5.0  # m3


def _machines(kinds: list[str], fads: list[float], **overrides: float) -> MachineParams:
    n = len(kinds)

    def full(name: str, default: float) -> np.ndarray:
        return np.full(n, overrides.get(name, default))

    return MachineParams(
        names=tuple(f"m{i}" for i in range(n)),
        is_vsd=np.array([k == "vsd" for k in kinds]),
        rated_kw=np.array(fads) * 5.5,
        fad_m3min=np.array(fads, float),
        rated_bar=np.full(n, 7.5),
        unload_fraction=np.full(n, 0.22),
        min_speed=np.full(n, 0.3),
        vsd_fixed_fraction=np.full(n, 0.12),
        run_on_s=full("run_on_s", 120.0),
        min_run_s=full("min_run_s", 60.0),
        max_starts_per_h=np.full(n, int(overrides.get("max_starts_per_h", 6))),
        start_s=full("start_s", 5.0),
        sump_fill_s=full("sump_fill_s", 0.0),
        stop_delay_s=np.full(n, 10.0),
        remote_default=np.zeros(n, bool),
    )


def _room(
    machines: MachineParams,
    bands: list[tuple[float, float]],
    *,
    leak: float = 0.0,
    dt: float = 1.0,
    start_bar: float | None = None,
) -> AirRoom:
    load = np.array([b[0] for b in bands])
    unload = np.array([b[1] for b in bands])
    return AirRoom(
        machines,
        volume_m3=V,
        leak_ref_m3min=np.array([leak]),
        leak_ref_bar=7.0,
        power_per_bar=0.07,
        local_load_bar=load,
        local_unload_bar=unload,
        local_target_bar=(load + unload) / 2,
        start_pressure_bar=np.array([start_bar if start_bar is not None else unload[0]]),
        dt_s=dt,
    )


def _run(room: AirRoom, demand: float, seconds: int, dt: float = 1.0):  # type: ignore[no-untyped-def]
    steps = round(seconds / dt)
    return room.run(np.full((1, 1), demand), steps, trace=True)


def test_a_load_unload_machine_keeps_pressure_inside_its_band() -> None:
    room = _room(_machines(["load_unload"], [10.0]), [(6.8, 7.6)])
    record = _run(room, 5.0, 1800)
    pressure = record.trace["pressure_bar"][0, 60:]  # after the first start
    step_bar = 10.0 * 1.0 / 60 * ATM_BAR / V  # the most one step can move it
    assert pressure.min() >= 6.8 - step_bar
    assert pressure.max() <= 7.6 + step_bar
    assert pressure.max() - pressure.min() > 0.7  # it really swings through the band
    assert record.load_cycles[0, -1, 0] >= 5


def test_a_demand_step_up_drops_pressure_at_the_physical_rate_and_brings_the_next_machine_in() -> None:
    room = _room(_machines(["load_unload", "load_unload"], [10.0, 10.0]), [(7.0, 7.8), (6.6, 7.4)])
    _run(room, 4.0, 600)
    assert room.mode[0, 1] == OFF
    # Demand 15 > 10: with m0 loaded pressure falls at (10 - 15) x p_atm / (60 V) bar/s.
    while room.mode[0, 0] != LOADED:
        room.step(np.array([4.0]))
    p0 = room.p[0]
    record = _run(room, 15.0, 20)
    assert record.trace["mode"][0, :, 1].max() == OFF
    slope = (room.p[0] - p0) / 20.0
    assert slope == pytest.approx((10.0 - 15.0) * ATM_BAR / 60 / V, rel=0.05)
    _run(room, 15.0, 600)
    assert room.mode[0, 1] in (UNLOADED, LOADED)  # 20 m3/min for 15: the second one cycles
    assert room.counters["starts"][0, 1] == 1
    assert room.counters["load_cycles"][0, 1] >= 1


def test_a_demand_step_down_unloads_and_after_run_on_stops_the_second_machine() -> None:
    machines = _machines(["load_unload", "load_unload"], [10.0, 10.0], run_on_s=120.0, min_run_s=60.0)
    room = _room(machines, [(7.0, 7.8), (6.6, 7.4)])
    _run(room, 15.0, 900)
    while room.mode[0, 1] != LOADED:
        room.step(np.array([15.0]))
    record = _run(room, 3.0, 600)
    modes = record.trace["mode"][0, :, 1]
    unloaded_at = int(np.argmax(modes != LOADED))
    stopped_at = int(np.argmax(modes == OFF))
    assert 0 < unloaded_at < stopped_at
    assert stopped_at - unloaded_at == pytest.approx(120, abs=2)  # the run-on timer


def test_minimum_run_time_and_starts_per_hour_are_respected() -> None:
    machines = _machines(["load_unload"], [10.0], run_on_s=0.0, min_run_s=90.0, max_starts_per_h=3)
    room = _room(machines, [(6.8, 7.6)])
    record = _run(room, 2.0, 3600)
    modes = record.trace["mode"][0, :, 0].astype(int)
    starts = np.flatnonzero((modes[1:] == 1) & (modes[:-1] == OFF)) + 1
    stops = np.flatnonzero((modes[1:] == OFF) & (modes[:-1] != OFF)) + 1
    assert len(starts) == 3  # it would start far more often on 2 m3/min
    for start in starts:
        later = stops[stops > start]
        assert later.size == 0 or later[0] - start >= 90
    # The fourth start waits until the first is an hour old.
    assert record.starts[0, -1, 0] == 3


def test_a_vsd_holds_its_target_inside_its_turndown() -> None:
    room = _room(_machines(["vsd"], [10.0]), [(6.8, 7.4)], start_bar=7.1)
    _run(room, 6.0, 600)
    record = _run(room, 6.0, 600)
    target = 7.1
    assert np.abs(record.trace["pressure_bar"][0] - target).max() < 0.02
    speed = record.trace["flow_m3min"][0, :, 0] / 10.0
    assert speed.mean() == pytest.approx(0.6, abs=0.01)


def test_machine_air_is_process_plus_leak_plus_stored_air() -> None:
    room = _room(_machines(["load_unload", "vsd"], [10.0, 8.0]), [(7.0, 7.8), (6.8, 7.4)], leak=3.0)
    p0 = float(room.p[0])
    record = room.run(np.array([[4.0, 12.0, 9.0, 2.0]]), 600)
    stored = (float(room.p[0]) - p0) * V / ATM_BAR
    air = record.air_m3[0, -1].sum()
    assert air == pytest.approx(record.process_m3[0, -1] + record.leak_m3[0, -1] + stored, rel=1e-9)
    assert record.leak_m3[0, -1] > 0


def test_the_live_room_advanced_in_pieces_equals_the_offline_run() -> None:
    machines = _machines(["load_unload", "vsd"], [10.0, 8.0])
    bands = [(7.0, 7.8), (6.8, 7.4)]
    demand = np.array([[4.0, 12.0, 9.0, 2.0, 14.0, 6.0]])
    offline = _room(machines, bands, leak=2.0)
    whole = offline.run(demand, 300)
    live = _room(machines, bands, leak=2.0)
    for column in range(demand.shape[1]):
        for piece in (100, 150, 50):
            live.run(demand[:, column : column + 1], piece)
    for name, counter in offline.counters.items():
        assert np.array_equal(counter, live.counters[name]), name
    assert np.array_equal(offline.p, live.p)
    assert whole.energy_kwh[0, -1].sum() > 0


def test_remote_commands_need_the_panel_key_and_a_live_heartbeat() -> None:
    room = _room(_machines(["load_unload"], [10.0], min_run_s=60.0), [(6.8, 7.6)])
    _run(room, 8.0, 120)
    assert not room.write("m0", "run_request", 0).accepted
    room.set_remote_enabled("m0", True)
    assert room.write("m0", "heartbeat_timeout_s", 30).accepted
    assert room.write("m0", "heartbeat", 1).accepted
    assert room.write("m0", "run_request", 0).accepted
    assert not room.write("m0", "load_bar", 7.9).accepted  # above the unload pressure
    assert list(room.controls.accepted_writes) == [3]
    assert list(room.controls.refused_writes) == [2]
    _run(room, 8.0, 25)
    assert room.control_source()[0, 0] == 1
    assert room.mode[0, 0] == OFF  # stopped on command (min run time long past)
    _run(room, 8.0, 60)  # no heartbeat for 30 s: back to local control, running its own band
    assert room.control_source()[0, 0] == 2
    assert room.mode[0, 0] != OFF
