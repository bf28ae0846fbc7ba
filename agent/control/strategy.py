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
from itertools import combinations

from agent.config.control import ControlMachine
from agent.control.model import MachineSnapshot

__all__ = ["Plan", "best_combination", "estimate_demand", "peak_demand", "power_kw"]

ATMOSPHERE_BAR = 1.013


def estimate_demand(delivered_m3min: float, dpdt_bar_per_min: float, receiver_m3: float) -> float:
    """Air the site takes, m3/min (free air): what the machines deliver minus what the receiver
    stores. Pressure rising 0.1 bar/min in 2 m3 is 0.2 m3/min going into the receiver, not the site."""
    return max(0.0, delivered_m3min - receiver_m3 * dpdt_bar_per_min / ATMOSPHERE_BAR)


def peak_demand(estimates: Sequence[tuple[float, float]], t: float, window_s: float) -> float:
    """The highest of the (time, m3/min) estimates within `window_s` before `t` (0 with none)."""
    return max((d for at, d in estimates if t - at <= window_s), default=0.0)


def power_kw(machines: Sequence[ControlMachine], demand_m3min: float) -> float | None:
    """Power of `machines` serving `demand_m3min`, or None when they cannot: too little air, or so
    much that a base-load machine would run part-loaded, or two VSDs (two part-loaded machines)."""
    if not machines:
        return 0.0 if demand_m3min <= 0 else None
    trims = [m for m in machines if m.kind == "vsd"]
    trim = trims[0] if trims else min(machines, key=lambda m: m.rated_fad_m3_min)
    if len(trims) > 1:
        return None  # two VSDs both part-loaded: one of them in another combination does better
    base = [m for m in machines if m is not trim]
    rest = demand_m3min - sum(m.rated_fad_m3_min for m in base)
    if rest > trim.rated_fad_m3_min + 1e-9:
        return None
    if rest < 0:
        return None  # a base-load machine would run part-loaded too
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
    """The allowed combination of least power with capacity for demand x (1 + margin); equal power
    (within 1 %) goes to the lower priority number, then to fewer running hours (duty rotates).
    The running combination is kept unless the best saves `switch_share` of its power.
    None when no allowed combination has the capacity."""
    wanted = demand_m3min * (1 + margin)
    candidates: list[tuple[float, float, float, tuple[str, ...]]] = []
    for size in range(len(machines) + 1):
        for subset in combinations(machines, size):
            if sum(m.rated_fad_m3_min for m in subset) + 1e-9 < wanted:
                continue
            names = tuple(m.device for m in subset)
            if not _allowed(names, machines, seen):
                continue
            kw = power_kw(subset, demand_m3min)
            if kw is None:
                continue
            rank = sum(m.priority for m in subset)
            hours = sum(seen[m.device].running_hours for m in subset)
            candidates.append((kw, rank, hours, names))
    if not candidates:
        return None
    least = min(c[0] for c in candidates)
    kw, _, _, names = min((c for c in candidates if c[0] <= least * 1.01 + 1e-9), key=lambda c: c[1:])
    running = tuple(m.device for m in machines if seen[m.device].running)
    current = next((c for c in candidates if set(c[3]) == set(running)), None)
    if current is not None and current[0] - kw < switch_share * current[0]:
        return Plan(current[3], current[0])
    return Plan(names, kw)
