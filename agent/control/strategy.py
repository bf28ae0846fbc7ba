"""Which machines should run: the combination with the lowest power for the estimated demand.

Plain arithmetic on the configured nameplates. A combination runs its load/unload machines loaded
(base load) and lets one machine trim: the VSD when there is one, else the smallest load/unload
machine, part-loaded. So never two machines part-loaded. Combinations a machine's protection forbids
(stopping one before its minimum run time, starting one before its minimum stop time or beyond its
starts per hour, touching one that is not commandable) are never considered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

from agent.config.control import ControlMachine
from agent.control.model import MachineSnapshot

__all__ = [
    "DEMAND_SMOOTHING_S",
    "Plan",
    "Sample",
    "best_combination",
    "estimate_demand",
    "peak_demand",
    "power_kw",
    "track_demand",
    "trim_machine",
]

ATMOSPHERE_BAR = 1.013
DEMAND_SMOOTHING_S = 30.0
"""The demand estimate's span: the air delivered and the pressure slope over the last 30 s (six
5 s cycles), not between two looks, where one machine loading or unloading just before a look
swings it by its whole flow (issue 19's week: `no_capacity` a minute after a trip)."""


def estimate_demand(delivered_m3min: float, dpdt_bar_per_min: float, receiver_m3: float) -> float:
    """Air the site takes, m3/min (free air): what the machines deliver minus what the receiver
    stores. Pressure rising 0.1 bar/min in 2 m3 is 0.2 m3/min going into the receiver, not the site."""
    return max(0.0, delivered_m3min - receiver_m3 * dpdt_bar_per_min / ATMOSPHERE_BAR)


def peak_demand(estimates: Sequence[tuple[float, float]], t: float, window_s: float) -> float:
    """The highest of the (time, m3/min) estimates within `window_s` before `t` (0 with none)."""
    return max((d for at, d in estimates if t - at <= window_s), default=0.0)


@dataclass(frozen=True)
class Sample:
    """One look at a room: header pressure, the air the machines report, and the demand estimated then."""

    t: float
    bar: float
    delivered_m3min: float
    demand_m3min: float


def track_demand(
    samples: Sequence[Sample],
    t: float,
    bar: float | None,
    delivered_m3min: float,
    receiver_m3: float,
    window_s: float,
    smoothing_s: float = DEMAND_SMOOTHING_S,
) -> tuple[tuple[Sample, ...], float, float]:
    """(the samples to keep, dP/dt now in bar/min, the demand to size the room for) after a look.

    dP/dt is the fast one: the slope between the last two looks, plus the change of the machines'
    air since the previous look (a machine that loaded or tripped in between changes the slope from
    now on); the low-pressure rule projects with it.
    The demand is smoothed: the mean air delivered over the last `smoothing_s` (trapezoids between
    the looks) minus what the receiver stored over the same span (its pressure change), so a machine
    loading or unloading between two looks moves it by its flow's share of the span, not by all
    of it; the room is sized for the highest smoothed estimate of the last `window_s` (`peak_demand`).
    Without a pressure the samples are kept as they were (nothing to add)."""
    kept = [s for s in samples if t - s.t <= max(window_s, smoothing_s) and s.t < t]
    if bar is None:
        return tuple(kept), 0.0, peak_demand([(s.t, s.demand_m3min) for s in kept], t, window_s)
    dpdt = 0.0
    if kept:
        last = kept[-1]
        # the slope since the last look, and the air the machines gave more (a machine loading) or
        # less (one tripping) since then: it changes the slope from now on, in full
        changed = (delivered_m3min - last.delivered_m3min) * ATMOSPHERE_BAR / receiver_m3
        dpdt = (bar - last.bar) / (t - last.t) * 60.0 + changed
    span = [s for s in kept if t - s.t <= smoothing_s]
    if span:
        looks = [*((s.t, s.delivered_m3min) for s in span), (t, delivered_m3min)]
        air = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in pairwise(looks))
        mean_delivered = air / (t - span[0].t)
        slope = (bar - span[0].bar) / (t - span[0].t) * 60.0
        demand = estimate_demand(mean_delivered, slope, receiver_m3)
    else:
        demand = estimate_demand(delivered_m3min, dpdt, receiver_m3)
    kept.append(Sample(t, bar, delivered_m3min, demand))
    return tuple(kept), dpdt, peak_demand([(s.t, s.demand_m3min) for s in kept], t, window_s)


def trim_machine(machines: Sequence[ControlMachine]) -> ControlMachine:
    """The machine of a combination that trims: its VSD, else its smallest load/unload machine."""
    trims = [m for m in machines if m.kind == "vsd"]
    return trims[0] if trims else min(machines, key=lambda m: m.rated_fad_m3_min)


def _surplus_kw(base: Sequence[ControlMachine], trim: ControlMachine, demand_m3min: float) -> float:
    """Power of machines that must run although their air exceeds the demand: the trim at its
    minimum, the base machines loaded as far as the demand needs them, the rest running unloaded."""
    low = trim.min_flow_share if trim.kind == "vsd" else 0.0
    kw = trim.idle_kw + (trim.rated_power_kw - trim.idle_kw) * low
    need = demand_m3min - trim.rated_fad_m3_min * low
    for m in sorted(base, key=lambda m: -m.rated_fad_m3_min):
        share = min(1.0, max(0.0, need / m.rated_fad_m3_min))
        need -= share * m.rated_fad_m3_min
        kw += m.idle_kw + (m.rated_power_kw - m.idle_kw) * share
    return kw


def power_kw(machines: Sequence[ControlMachine], demand_m3min: float, surplus: bool = False) -> float | None:
    """Power of `machines` serving `demand_m3min`, or None when they cannot: too little air, or so
    much that a base-load machine would run part-loaded, or two VSDs (two part-loaded machines).
    `surplus`: price the too-much case instead (machines that may not stop yet, `_surplus_kw`)."""
    if not machines:
        return 0.0 if demand_m3min <= 0 else None
    trims = [m for m in machines if m.kind == "vsd"]
    trim = trim_machine(machines)
    if len(trims) > 1:
        return None  # two VSDs both part-loaded: one of them in another combination does better
    base = [m for m in machines if m is not trim]
    rest = demand_m3min - sum(m.rated_fad_m3_min for m in base)
    if rest > trim.rated_fad_m3_min + 1e-9:
        return None
    if rest < 0:
        # a base-load machine would run part-loaded too
        return _surplus_kw(base, trim, demand_m3min) if surplus else None
    share = rest / trim.rated_fad_m3_min
    base_kw = sum(m.rated_power_kw for m in base)
    if trim.kind == "vsd":
        share = max(share, trim.min_flow_share)  # below it the drive idles at minimum speed
        # from idle power at minimum speed to rated power at full speed, about linear
        low = trim.idle_kw + (trim.rated_power_kw - trim.idle_kw) * trim.min_flow_share
        return (
            base_kw
            + low
            + (trim.rated_power_kw - low) * (share - trim.min_flow_share) / (1 - trim.min_flow_share)
        )
    return base_kw + trim.idle_kw + (trim.rated_power_kw - trim.idle_kw) * share


@dataclass(frozen=True)
class Plan:
    devices: tuple[str, ...]
    power_kw: float
    better: Plan | None = None  # kept although this one saves some, less than the switch share


def _allowed(
    subset: Iterable[str], machines: Sequence[ControlMachine], seen: dict[str, MachineSnapshot]
) -> bool:
    chosen = set(subset)
    for m in machines:
        snap = seen[m.device]
        leaving = snap.running and m.device not in chosen
        if leaving and (not snap.commandable or snap.run_s < m.min_run_s):
            return False
        if not snap.running and m.device in chosen:
            if not snap.commandable or snap.stop_s < m.min_stop_s:
                return False
            if snap.starts_last_hour >= m.max_starts_per_hour:
                return False
    return True


def best_combination(
    machines: Sequence[ControlMachine],
    seen: dict[str, MachineSnapshot],
    demand_m3min: float,
    margin: float,
    switch_share: float,
) -> Plan | None:
    """The allowed combination of least power with capacity for demand x (1 + margin), else for the
    demand itself when the margin could only be had with a base machine idling; equal power
    (within 1 %) goes to the fewest machines to start (a machine running is kept rather than one
    stopped and another started: issue 19's week, where duty rotation between equal machines swapped
    c1 for c2 whenever the combination changed, up to 6 starts an hour on every machine), then to
    the lower priority number, then to fewer running hours (duty rotates).
    The running combination is kept unless the best saves `switch_share` of its power; the plan
    then names the best as `better` when it saves more than 5 % (`decide` takes it once it has
    stayed the better one for `switch_after_s`).
    When machines that may not stop yet give more air than the demand needs, the least-power
    combination with them is chosen all the same (`power_kw(surplus=True)`): too much air is not a
    lack of capacity. None when no allowed combination has the capacity."""
    candidates: list[tuple[float, int, float, float, tuple[str, ...]]] = []
    # First the combinations that serve the demand with the margin as intended; then those that serve
    # the demand itself (the margin never adds a machine that would only idle: at 45 m3/min of a
    # 13+13+9.6+9.6+10 room, 2 % more is 45.9, beyond the four-machine 45.6, and a fifth machine
    # would run unloaded for a margin the low-pressure rule covers anyway); only when none is allowed
    # (machines that may not stop yet run more air than the demand needs) those where a base machine
    # idles, with the margin.
    for wanted, surplus in (
        (demand_m3min * (1 + margin), False),
        (demand_m3min, False),
        (demand_m3min * (1 + margin), True),
    ):
        for size in range(len(machines) + 1):
            for subset in combinations(machines, size):
                if sum(m.rated_fad_m3_min for m in subset) + 1e-9 < wanted:
                    continue
                names = tuple(m.device for m in subset)
                if not _allowed(names, machines, seen):
                    continue
                kw = power_kw(subset, demand_m3min, surplus)
                if kw is None:
                    continue
                rank = sum(m.priority for m in subset)
                hours = sum(seen[m.device].running_hours for m in subset)
                starts = sum(not seen[m.device].running for m in subset)
                candidates.append((kw, starts, rank, hours, names))
        if candidates:
            break
    if not candidates:
        return None
    least = min(c[0] for c in candidates)
    kw, _, _, _, names = min((c for c in candidates if c[0] <= least * 1.01 + 1e-9), key=lambda c: c[1:])
    running = tuple(m.device for m in machines if seen[m.device].running)
    current = next((c for c in candidates if set(c[4]) == set(running)), None)
    if current is not None and current[0] - kw < switch_share * current[0]:
        better = Plan(names, kw) if set(names) != set(current[4]) and kw < current[0] * 0.95 else None
        return Plan(current[4], current[0], better)
    return Plan(names, kw)
