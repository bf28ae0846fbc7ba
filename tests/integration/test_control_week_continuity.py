"""The control week is one continuous run, not days each from a cold start (`simulators.controlweek`).

A span of two days, Tuesday 22:00 to Wednesday 02:00, of the room of
`simulators/scenarios/control_week.yaml` under its own cascade and under the agent (the `control:`
section of `tests/data/control_week_site.yaml`), stepped at 1 s: the machines running at midnight
keep running without a new start, the agent's run time for them keeps counting, its heartbeat keeps
counting up, and there is no second warm-up. Wednesday 00:00-02:00 run on its own (the old
harness's day: a warm-up from all machines stopped and a fresh agent) shows what the span must not
look like.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.config.site import SiteConfig
from agent.control.model import Decision, RoomSnapshot
from simulators.controlweek import ACTIVE, CASCADE, Member, run_days
from simulators.physics import WARMUP_S
from simulators.scenario import load_scenario

SITE = Path(__file__).resolve().parents[1] / "data" / "control_week_site.yaml"
TUESDAY = 1  # scenario day 1: 2025-03-04
HOURS = (22, 2)  # from 22:00 of the span's first day to 02:00 of its last
MIDNIGHT_S = 86400.0  # Wednesday 00:00, seconds after the span's first midnight


class Span:
    def __init__(self) -> None:
        scenario = load_scenario("control_week")
        self.site: SiteConfig = load_config(SITE).config
        self.snapshots: dict[Member, list[RoomSnapshot]] = {}
        self.decisions: dict[Member, list[Decision]] = {}
        members = [Member(TUESDAY, CASCADE, days=2), Member(TUESDAY, ACTIVE, days=2)]
        self.cascade, self.active = members
        self.single = Member(TUESDAY + 1, ACTIVE)
        self.t0 = scenario.start.timestamp() + TUESDAY * 86400.0

        def snapshot(member: Member, snap: RoomSnapshot) -> None:
            self.snapshots.setdefault(member, []).append(snap)

        def decision(member: Member, decided: Decision) -> None:
            self.decisions.setdefault(member, []).append(decided)

        self.runs = run_days(
            scenario, self.site, members, hours=HOURS, on_snapshot=snapshot, on_decision=decision
        )
        self.single_run = run_days(
            scenario, self.site, [self.single], hours=(0, HOURS[1]), on_snapshot=snapshot
        )

    def around_midnight(self, member: Member) -> tuple[RoomSnapshot, RoomSnapshot]:
        """The agent's look at Wednesday 00:00 (the last of Tuesday's run) and its first after it."""
        snaps = self.snapshots[member]
        after = next(i for i, s in enumerate(snaps) if s.t > self.t0 + MIDNIGHT_S)
        return snaps[after - 1], snaps[after]


@pytest.fixture(scope="module")
def span() -> Span:
    return Span()


def test_a_span_gives_a_day_run_per_day(span: Span) -> None:
    assert [(r.member, r.day, r.first_s, len(r.energy_kwh)) for r in span.runs] == [
        (span.cascade, TUESDAY, HOURS[0] * 3600, (24 - HOURS[0]) * 60),
        (span.cascade, TUESDAY + 1, 0, HOURS[1] * 60),
        (span.active, TUESDAY, HOURS[0] * 3600, (24 - HOURS[0]) * 60),
        (span.active, TUESDAY + 1, 0, HOURS[1] * 60),
    ]
    tuesday, wednesday = span.runs[2:]
    assert wednesday.start == tuesday.t0 + MIDNIGHT_S
    # one warm-up at the span's start: Wednesday has a decision every 5 s of its 2 hours and no more
    assert tuesday.decisions == (24 - HOURS[0]) * 3600 // 5 + int(WARMUP_S) // 5 + 1
    assert wednesday.decisions == HOURS[1] * 3600 // 5
    # the same demand in both modes, second by second, across midnight too
    for c, a in zip(span.runs[:2], span.runs[2:], strict=True):
        assert a.process_m3.sum() == pytest.approx(c.process_m3.sum(), rel=1e-12)


def test_machines_running_at_midnight_keep_running_without_a_new_start(span: Span) -> None:
    for tuesday, wednesday in (span.runs[:2], span.runs[2:]):
        # every second of the last minute before midnight and of the first after
        through = (tuesday.running_s[-1] == 60) & (wednesday.running_s[0] == 60)
        assert through.any(), (tuesday.member, tuesday.running_s[-1], wednesday.running_s[0])
        assert not wednesday.starts[0][through].any()
        assert not tuesday.starts[-1][through].any()


def test_the_agent_keeps_its_memory_across_midnight(span: Span) -> None:
    before, after = span.around_midnight(span.active)
    gap = after.t - before.t
    assert gap == pytest.approx(span.site.control.cycle_s)
    kept = [(b, a) for b, a in zip(before.machines, after.machines, strict=True) if b.running and a.running]
    assert kept
    for b, a in kept:
        # run time counts on from the evening: 5 s more at the next look
        assert a.run_s == pytest.approx(b.run_s + gap)
    assert max(a.run_s for _, a in kept) > 2 * gap  # started before midnight, not reset at it
    decided = span.decisions[span.active]
    at = next(i for i, d in enumerate(decided) if d.t > span.t0 + MIDNIGHT_S)
    assert decided[at].memory.heartbeat > decided[at - 1].memory.heartbeat > 1000  # no restart
    # the old harness's Wednesday: a warm-up from all machines stopped and a fresh agent
    first = next(s for s in span.snapshots[span.single] if s.t >= span.t0 + MIDNIGHT_S)
    assert max(m.run_s for m in first.machines) <= WARMUP_S + 5
    (alone,) = span.single_run
    assert alone.decisions == HOURS[1] * 3600 // 5 + int(WARMUP_S) // 5 + 1


def test_a_span_must_be_hours_of_days() -> None:
    scenario = load_scenario("control_week")
    site = load_config(SITE).config
    with pytest.raises(ValueError, match="days must be >= 1"):
        run_days(scenario, site, [Member(TUESDAY, ACTIVE, days=0)])
    with pytest.raises(ValueError, match="hours"):
        run_days(scenario, site, [Member(TUESDAY, ACTIVE)], hours=(22, 2))
    with pytest.raises(ValueError, match="hours"):
        run_days(scenario, site, [Member(TUESDAY, ACTIVE, days=2)], hours=(0, 0))


def test_a_finer_step_runs_the_same_seconds_of_demand() -> None:
    """At dt 0.5 s each second's demand is held for two steps: the same minutes, the same process air."""
    scenario = load_scenario("control_week")
    site = load_config(SITE).config
    assert scenario.air is not None
    half = scenario.model_copy(update={"air": scenario.air.model_copy(update={"dt_s": 0.5})})
    runs = {
        dt: run_days(s, site, [Member(TUESDAY, CASCADE)], hours=(5, 6))[0]
        for dt, s in ((1.0, scenario), (0.5, half))
    }
    assert [len(r.energy_kwh) for r in runs.values()] == [60, 60]
    assert runs[0.5].process_m3.sum() == pytest.approx(runs[1.0].process_m3.sum(), rel=1e-9)
    assert runs[0.5].kwh == pytest.approx(runs[1.0].kwh, rel=0.05)
