"""The sequencer's choice of machines, with plain values (agent.control.strategy).

Room used throughout: c1, c2 load/unload 10 m3/min, 55 kW loaded, 15 kW unloaded; v1 a VSD of
8 m3/min, 45 kW at full speed, 10 kW idle, minimum speed at 25 % of its air. At minimum speed the VSD
takes 10 + 35 x 0.25 = 18.75 kW; at share s above it, 18.75 + 26.25 x (s - 0.25) / 0.75 kW.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from agent.config.control import ControlMachine
from agent.control import (
    MachineSnapshot,
    MachineState,
    best_combination,
    estimate_demand,
    peak_demand,
    power_kw,
)

C1 = ControlMachine(
    device="c1", kind="load_unload", rated_fad_m3_min=10, rated_power_kw=55, unloaded_power_kw=15
)
C2 = C1.model_copy(update={"device": "c2"})
V1 = ControlMachine(
    device="v1", kind="vsd", rated_fad_m3_min=8, rated_power_kw=45, unloaded_power_kw=10, min_flow_share=0.25
)
ROOM = (C1, C2, V1)


def stopped(device: str, **kw: object) -> MachineSnapshot:
    return replace(MachineSnapshot(device, MachineState.STOPPED, remote_enabled=True), **kw)  # type: ignore[arg-type]


def running(device: str, **kw: object) -> MachineSnapshot:
    snap = MachineSnapshot(device, MachineState.LOADED, remote_enabled=True, control_source=1, run_s=3600)
    return replace(snap, **kw)  # type: ignore[arg-type]


def all_stopped() -> dict[str, MachineSnapshot]:
    return {d: stopped(d) for d in ("c1", "c2", "v1")}


@pytest.mark.parametrize(
    ("machines", "demand", "expected"),
    [
        ((V1,), 5.0, 18.75 + 26.25 * (0.625 - 0.25) / 0.75),  # VSD alone at 62.5 %
        ((V1,), 1.0, 18.75),  # below minimum speed: idles at it
        ((C1,), 5.0, 15 + 40 * 0.5),  # load/unload half loaded
        ((C1, V1), 15.0, 55 + 18.75 + 26.25 * (0.625 - 0.25) / 0.75),  # base loaded, VSD trims
        ((C1, C2, V1), 20.0, 110 + 18.75),  # base covers it all: VSD at minimum speed
        ((C1, V1), 19.0, None),  # 18 m3/min is not enough
        ((C1, V1), 9.0, None),  # the base machine would be part-loaded
        ((V1, V1.model_copy(update={"device": "v2"})), 10.0, None),  # two VSDs, both part-loaded
        ((), 0.0, 0.0),
        ((), 1.0, None),
    ],
)
def test_power_of_a_combination(
    machines: tuple[ControlMachine, ...], demand: float, expected: float | None
) -> None:
    got = power_kw(machines, demand)
    assert got == (None if expected is None else pytest.approx(expected))


def test_the_receiver_filling_is_not_site_demand() -> None:
    assert estimate_demand(10.0, 0.1, 2.0) == pytest.approx(10.0 - 0.2 / 1.013)
    assert estimate_demand(10.0, -0.5, 2.0) == pytest.approx(10.0 + 1.0 / 1.013)
    assert estimate_demand(0.0, 1.0, 2.0) == 0.0


@dataclass(frozen=True)
class Case:
    name: str
    seen: dict[str, MachineSnapshot]
    demand: float
    expected: tuple[str, ...] | None
    machines: tuple[ControlMachine, ...] = ROOM
    switch_share: float = 0.05


def with_(**changes: MachineSnapshot) -> dict[str, MachineSnapshot]:
    return all_stopped() | changes


CASES = [
    Case("small demand: the VSD alone", all_stopped(), 5.0, ("v1",)),
    Case("medium demand: one base machine loaded, the VSD trims", all_stopped(), 15.0, ("c1", "v1")),
    Case("large demand: all three", all_stopped(), 20.0, ("c1", "c2", "v1")),
    Case("more than the room has: none", all_stopped(), 30.0, None),
    Case("no demand: nothing runs", all_stopped(), 0.0, ()),
    Case(
        "a machine inside its minimum run time stays in",
        with_(c1=running("c1", run_s=60)),
        5.0,
        ("c1",),
    ),
    Case(
        "a machine inside its minimum stop time is not started",
        with_(v1=stopped("v1", stop_s=30)),
        5.0,
        ("c1",),
    ),
    Case(
        "a machine at its starts per hour is not started",
        with_(v1=stopped("v1", starts_last_hour=6)),
        5.0,
        ("c1",),
    ),
    Case("a machine in local is not started", with_(v1=stopped("v1", remote_enabled=False)), 5.0, ("c1",)),
    Case("a machine in alarm is not started", with_(v1=stopped("v1", alarm=True)), 5.0, ("c1",)),
    Case(
        "a machine running in local counts as running",
        with_(c2=running("c2", remote_enabled=False)),
        5.0,
        ("c2",),
    ),
    Case(
        "the running set is kept when switching saves too little",
        with_(c1=running("c1")),
        5.0,
        ("c1",),
        switch_share=0.10,  # v1 alone saves 3.1 of 35 kW: 8.9 %
    ),
    Case(
        "the running set is left when switching saves enough",
        with_(c1=running("c1")),
        5.0,
        ("v1",),
        switch_share=0.05,
    ),
    Case(
        "equal energy: duty goes to fewer running hours",
        {"c1": stopped("c1", running_hours=1000), "c2": stopped("c2", running_hours=500)},
        5.0,
        ("c2",),
        machines=(C1, C2),
    ),
    Case(
        "equal energy: the lower priority number first",
        {"c1": stopped("c1", running_hours=900), "c2": stopped("c2", running_hours=100)},
        5.0,
        ("c1",),
        machines=(C1, C2.model_copy(update={"priority": 2})),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_least_power_allowed_combination(case: Case) -> None:
    plan = best_combination(case.machines, case.seen, case.demand, 0.1, case.switch_share)
    if case.expected is None:
        assert plan is None
    else:
        assert plan is not None
        assert plan.devices == case.expected


def test_the_room_is_sized_for_the_peak_of_the_window() -> None:
    history = [(0.0, 9.0), (30.0, 4.0), (70.0, 2.0)]  # a machine tripped at 70 s: its air left the estimate
    assert peak_demand(history, 70.0, 60.0) == 4.0
    assert peak_demand(history, 70.0, 80.0) == 9.0
    assert peak_demand(history, 200.0, 60.0) == 0.0
    assert peak_demand([], 0.0, 60.0) == 0.0
