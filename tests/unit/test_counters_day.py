"""A simulated day at the seam: the simulator's physics, its faults applied, fed to the counter tracker."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config.profile import NumericPoint
from agent.config.registry import ProfileRegistry
from agent.readings.counters import CounterTracker, counter_limits
from agent.readings.intervals import IntervalAccumulator
from simulators.faults import Fault, FaultKind, FaultTable
from simulators.site import SiteModel
from tests.scenarios import shipped_scenario

STEP_S = 15.0


@pytest.mark.parametrize(
    ("device", "point", "rated_kw"),
    [("main_meter", "total_import_kwh", 400.0), ("c1", "energy_kwh", 45.0)],
)
def test_a_day_with_rollover_reset_and_glitches_matches_the_true_energy(
    device: str, point: str, rated_kw: float
) -> None:
    scenario = shipped_scenario("tiny")
    model = SiteModel(scenario, retrofit=True)
    profile = ProfileRegistry().get(scenario.device(device).profile)
    spec = profile.point(point)
    assert isinstance(spec, NumericPoint)
    tracker = CounterTracker(counter_limits(spec, rated_power_kw=rated_kw))
    acc = IntervalAccumulator(device, "counter")
    faults, unit = FaultTable(), 1
    start = scenario.start.timestamp() + 86400
    steps = int(86400 / STEP_S)
    events = {
        steps // 6: Fault(FaultKind.GLITCH, value=0.0),
        steps // 3: Fault(FaultKind.RESET),
        steps // 2: Fault(FaultKind.GLITCH, value=9.9e5),
        2 * steps // 3: Fault(FaultKind.GLITCH, value=0.0),
    }
    if spec.counter is not None and spec.counter.rollover is not None:
        events[steps // 4] = Fault(FaultKind.ROLLOVER, margin=3.0)
    reasons: set[str | None] = set()
    for i in range(steps + 1):
        t = start + i * STEP_S
        if i in events:
            faults.set(unit, events[i])
        shown = faults.apply_values(unit, profile, model.values(device, t))[point]
        if spec.dtype == "float32":
            shown = float(np.float32(shown))
        else:
            shown = round(shown / spec.scale) * spec.scale  # the register holds whole 0.1 kWh steps
        update = tracker.update(t, shown)
        reasons.add(update.reason)
        if update.since is not None:
            acc.add_energy(update.since, t, update.delta)
    true_kwh = model.counters(device, start + steps * STEP_S)[
        "energy_kwh" if device == "c1" else "import_kwh"
    ]
    true_kwh -= model.counters(device, start)["energy_kwh" if device == "c1" else "import_kwh"]
    intervals = acc.close_until(start + steps * STEP_S)
    assert len(intervals) == 96
    assert {"counter_drop", "counter_reset", "glitch"} <= reasons
    assert sum(r.kwh for r in intervals) == pytest.approx(true_kwh, rel=1e-3)
    assert tracker.total == pytest.approx(true_kwh, rel=1e-3)
