"""Compressed-air figures from interval data (ISO 1217 / CAGI-style specific power, states, leaks).

Input per compressor: a DataFrame indexed by UTC interval start with
    kwh          package input energy in the interval
    loaded_h     hours loaded in the interval (delta of the loaded-hours counter)
    running_h    hours running (loaded + unloaded) in the interval
    air_m3       optional: free air delivered in the interval (flow meter / totaliser)
    pressure_bar optional: mean discharge pressure in the interval
The counter names of the compressor profiles and simulator (`energy_kwh`, `fad_m3`) are accepted as
aliases of `kwh` and `air_m3`.

Air per machine (`air_method`), in this order:
- 'flow meter': the machine's own flow totaliser;
- 'power-to-flow curve' (vsd, modulating): the data-sheet curve read at the interval's mean loaded power
  (kWh - unloaded kW x unloaded h) / loaded h, brought to the curve's pressure when both are known;
- 'loaded hours x rated FAD': true for load/unload and fixed-speed machines; for a vsd or modulating
  machine without a curve it overstates the air (flagged `air_overstated`).
Specific power = package input power / free air delivery, kW/(m3/min) = 60 x kWh / m3. Per machine it
is given only where it means something: the machine was loaded >= 10 % of its running time and delivered
>= 10 % of rated FAD x running hours (`MEANINGFUL_LOADED_SHARE`, `MEANINGFUL_AIR_SHARE`); otherwise it
is None with `specific_power_note` saying why.

Leak (room): the mean air flow of the non-production intervals, net of the declared base demand
(`analytics.compressed_air.base_demand_m3_min`), else reported as 'leak + base demand'; with a 90 %
interval from the spread of those intervals' flows (Student's t on the effective number of intervals
n (1 - rho) / (1 + rho), rho the lag-1 autocorrelation of the flows, as ASHRAE Guideline 14 Annex B
does for residuals). Share = leak flow x period minutes / air delivered in the period.

Per-machine `flags` (stable codes for the dashboard): `flow_meter`, `power_to_flow_curve`,
`air_overstated`, `control_assumed`, `unloaded_power_unknown`, `outside_flow_curve`,
`specific_power_not_meaningful`, `peer_outlier`, `no_grade_data`.

Practice values (REFERENCE.md, compressed-air practice, not a standard): unloaded power 20-25 % of
full load, ~7 % more energy per bar of excess pressure, leaks > 20 % of demand common, < 10 % good.
GB 19153-2019 grade limits are never invented here: the user enters them per machine; without them the
grade is None with 'no grade data'. Off / unloaded / loaded are states (`state_shares`), not qualities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from agent.analytics.errors import AnalyticsError
from agent.analytics.stats import lag1_autocorrelation, t_two_sided
from agent.config.analytics import CompressorSpec

__all__ = [
    "LEAK_ADVICE_SHARE",
    "MEANINGFUL_AIR_SHARE",
    "MEANINGFUL_LOADED_SHARE",
    "PEER_OUTLIER_RATIO",
    "PRESSURE_SHARE_PER_BAR",
    "Advice",
    "CompressorKpis",
    "LeakEstimate",
    "RoomKpis",
    "StateShares",
    "compressor_kpis",
    "flow_from_curve",
    "grade",
    "leak_estimate",
    "machine_air",
    "room_kpis",
    "specific_power_note",
]

PRESSURE_SHARE_PER_BAR = 0.07
MEANINGFUL_LOADED_SHARE = 0.10
MEANINGFUL_AIR_SHARE = 0.10
PEER_OUTLIER_RATIO = 1.25
LEAK_ADVICE_SHARE = 0.20
MIN_LEAK_INTERVALS = 4
CURVE_TOLERANCE = 0.02  # a mean loaded power this close beyond a curve end is read at the end, unflagged
_PRACTICE = "compressed-air practice (REFERENCE.md)"

FLOW_METER = "flow meter"
CURVE = "power-to-flow curve"
RATED_FAD = "loaded hours x rated FAD"
NET_OF_BASE = "net of declared base demand"
GROSS = "leak + base demand"


@dataclass(frozen=True)
class Advice:
    code: str
    message: str
    value: float
    device: str | None = None


@dataclass(frozen=True)
class StateShares:
    """Shares of the period's time the machine was off, running unloaded and loaded (sum 1)."""

    off: float
    unloaded: float
    loaded: float


@dataclass(frozen=True)
class CompressorKpis:
    device: str
    control: str
    energy_kwh: float
    running_h: float
    loaded_h: float
    load_share: float
    state_shares: StateShares
    unloaded_kw: float | None
    unloaded_kw_method: str
    unloaded_energy_share: float | None
    air_m3: float
    air_method: str
    air_share_of_room: float | None
    specific_power: float | None
    specific_power_note: str | None
    loaded_specific_power: float | None
    pressure_excess_kwh: float | None
    grade: str | None
    grade_note: str
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MachineAir:
    """Free air per interval of one machine and how it was obtained."""

    m3: pd.Series
    method: str
    flags: tuple[str, ...]
    notes: tuple[str, ...]


_ALIASES = {"energy_kwh": "kwh", "fad_m3": "air_m3"}


def _normalised(data: pd.DataFrame, device: str) -> pd.DataFrame:
    data = data.rename(columns={k: v for k, v in _ALIASES.items() if v not in data.columns})
    missing = {"kwh", "loaded_h", "running_h"} - set(data.columns)
    if missing:
        raise AnalyticsError(f"compressor {device}: columns {sorted(missing)} missing")
    if (data["loaded_h"] > data["running_h"] + 1e-9).any():
        raise AnalyticsError(f"compressor {device}: loaded_h exceeds running_h in some intervals")
    return data


def _control(spec: CompressorSpec) -> tuple[str, tuple[str, ...]]:
    if spec.control is not None:
        return spec.control, ()
    return "load_unload", ("control_assumed",)


def _unloaded_kw(data: pd.DataFrame, spec: CompressorSpec) -> tuple[float | None, str]:
    """Measured value, else least squares kWh = P_load x loaded_h + P_unload x unloaded_h."""
    if spec.unloaded_power_kw is not None:
        return spec.unloaded_power_kw, "configured"
    clean = data[["kwh", "loaded_h", "running_h"]].dropna()
    x = np.column_stack([clean["loaded_h"], clean["running_h"] - clean["loaded_h"]])
    if len(clean) < 10 or (x[:, 1] > 0).sum() < 5 or np.linalg.matrix_rank(x) < 2:
        return None, "unknown: too few unloaded intervals to estimate"
    (loaded_kw, unloaded_kw), *_ = np.linalg.lstsq(x, clean["kwh"].to_numpy(dtype=float), rcond=None)
    if not 0 <= unloaded_kw < loaded_kw:
        return None, "unknown: the estimate was not physical"
    return float(unloaded_kw), "estimated: kWh regressed on loaded and unloaded hours"


def flow_from_curve(
    power_kw: np.ndarray, curve: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Flow (m3/min) at each mean loaded power by linear interpolation of the data-sheet points, and
    whether the power lay more than 2 % outside the curve (the flow is then the nearest end point's:
    a machine delivers no more than its top point and the curve says nothing below its lowest)."""
    kw = np.array([p for p, _ in curve], dtype=float)
    flow = np.array([f for _, f in curve], dtype=float)
    power = np.asarray(power_kw, dtype=float)
    outside = (power < kw[0] * (1 - CURVE_TOLERANCE)) | (power > kw[-1] * (1 + CURVE_TOLERANCE))
    return np.interp(power, kw, flow), outside


def machine_air(data: pd.DataFrame, spec: CompressorSpec, unloaded_kw: float | None = None) -> MachineAir:
    """Free air per interval: flow meter, else the power-to-flow curve (vsd/modulating), else loaded
    hours x rated FAD. `data` is normalised (kwh, loaded_h, running_h[, air_m3, pressure_bar])."""
    control, flags = _control(spec)
    if "air_m3" in data.columns and data["air_m3"].notna().all():
        return MachineAir(data["air_m3"].astype(float), FLOW_METER, (*flags, "flow_meter"), ())
    rated = data["loaded_h"] * 60.0 * spec.rated_fad_m3_min
    if control not in ("vsd", "modulating"):
        return MachineAir(rated, RATED_FAD, flags, ())
    if spec.flow_curve is None:
        note = (
            f"{control} machine without a flow meter or flow_curve: loaded hours x rated FAD overstates "
            "its air (enter the data sheet's power-to-flow points)"
        )
        return MachineAir(rated, RATED_FAD, (*flags, "air_overstated"), (note,))
    return _curve_air(data, spec, unloaded_kw, flags)


def _curve_air(
    data: pd.DataFrame, spec: CompressorSpec, unloaded_kw: float | None, flags: tuple[str, ...]
) -> MachineAir:
    assert spec.flow_curve is not None
    notes = ["air read off the data-sheet power-to-flow curve at each interval's mean loaded power"]
    flags = (*flags, "power_to_flow_curve")
    unloaded_h = data["running_h"] - data["loaded_h"]
    if unloaded_kw is None:
        unloaded_kw = 0.0
        if (unloaded_h > 0).any():
            flags = (*flags, "unloaded_power_unknown")
            notes.append("unloaded power unknown: all energy counted as loaded (air overstated)")
    loaded_h = data["loaded_h"].astype(float)
    # the data sheet's points (and a configured unloaded power) hold at the curve's pressure; the
    # energy at another pressure is brought to it (compressed-air practice: 7 % per bar)
    factor = pd.Series(1.0, index=data.index)
    if spec.flow_curve_bar is not None and "pressure_bar" in data.columns:
        pressure = data["pressure_bar"].fillna(spec.flow_curve_bar)
        factor = 1.0 + PRESSURE_SHARE_PER_BAR * (pressure - spec.flow_curve_bar)
        notes.append(
            f"power brought to the curve's {spec.flow_curve_bar:g} bar "
            f"at {PRESSURE_SHARE_PER_BAR:.0%} per bar"
        )
    unloaded_kwh = unloaded_kw * unloaded_h * (factor if spec.unloaded_power_kw is not None else 1.0)
    loaded_kwh = (data["kwh"] - unloaded_kwh).clip(lower=0.0) / factor
    mean_kw = (loaded_kwh / loaded_h.where(loaded_h > 0)).fillna(0.0)
    flow, outside = flow_from_curve(mean_kw.to_numpy(), spec.flow_curve)
    outside &= loaded_h.to_numpy() > 0
    if outside.any():
        flags = (*flags, "outside_flow_curve")
        notes.append(f"mean loaded power outside the curve in {int(outside.sum())} intervals (clamped)")
    air = pd.Series(flow, index=data.index) * loaded_h * 60.0
    return MachineAir(air, CURVE, flags, tuple(notes))


def grade(specific_power: float, spec: CompressorSpec) -> str | None:
    """GB 19153-2019 grade from the user's limits: '1', '2', '3' or 'below 3' (None without limits)."""
    limits = spec.grade_limits
    if limits is None:
        return None
    for name, limit in (("1", limits.grade_1), ("2", limits.grade_2), ("3", limits.grade_3)):
        if specific_power <= limit:
            return name
    return "below 3"


def specific_power_note(running: float, loaded: float, air: float, spec: CompressorSpec) -> str | None:
    """None when the machine's specific power over these hours means something, else why not."""
    if running <= 0:
        return "not meaningful: the machine did not run"
    if loaded < MEANINGFUL_LOADED_SHARE * running:
        return (
            f"not meaningful: loaded {loaded / running:.0%} of its running time "
            f"(< {MEANINGFUL_LOADED_SHARE:.0%}); its energy is mostly unloaded running"
        )
    if air < MEANINGFUL_AIR_SHARE * spec.rated_fad_m3_min * 60.0 * running:
        share = air / (spec.rated_fad_m3_min * 60.0 * running)
        limit = f"{MEANINGFUL_AIR_SHARE:.0%}"
        return f"not meaningful: delivered {share:.0%} of rated FAD x running hours (< {limit})"
    return None


def _grade(specific: float | None, spec: CompressorSpec) -> tuple[str | None, str]:
    if spec.grade_limits is None:
        return None, "no grade data: enter the GB 19153-2019 limits of this machine (grade_limits)"
    if specific is None:
        return None, "not graded: its specific power is not meaningful in the period"
    return grade(specific, spec), f"GB 19153-2019 limits from {spec.grade_limits.source}"


def _state_shares(data: pd.DataFrame, running: float, loaded: float) -> StateShares:
    hours = len(data.index) * _interval_hours(data.index)
    if hours <= 0:
        return StateShares(off=1.0, unloaded=0.0, loaded=0.0)
    loaded_share = min(1.0, loaded / hours)
    unloaded_share = min(1.0 - loaded_share, max(0.0, (running - loaded) / hours))
    return StateShares(
        off=max(0.0, 1.0 - loaded_share - unloaded_share), unloaded=unloaded_share, loaded=loaded_share
    )


def compressor_kpis(
    data: pd.DataFrame,
    spec: CompressorSpec,
    *,
    required_pressure_bar: float | None = None,
) -> CompressorKpis:
    """Figures of one machine over the frame's period."""
    kpis, _ = _machine(_normalised(data, spec.device), spec, required_pressure_bar)
    return kpis


def _machine(
    data: pd.DataFrame, spec: CompressorSpec, required_pressure_bar: float | None
) -> tuple[CompressorKpis, pd.Series]:
    energy = float(data["kwh"].sum())
    running, loaded = float(data["running_h"].sum()), float(data["loaded_h"].sum())
    unloaded_kw, unloaded_method = _unloaded_kw(data, spec)
    unloaded_kwh = None if unloaded_kw is None else unloaded_kw * (running - loaded)
    air_of = machine_air(data, spec, unloaded_kw)
    air = float(air_of.m3.sum())
    why_not = specific_power_note(running, loaded, air, spec)
    specific = 60.0 * energy / air if why_not is None else None
    loaded_sp = None
    if why_not is None and unloaded_kwh is not None:
        loaded_sp = 60.0 * (energy - unloaded_kwh) / air
    excess = None
    if spec.setpoint_bar is not None and required_pressure_bar is not None:
        excess = max(0.0, spec.setpoint_bar - required_pressure_bar) * PRESSURE_SHARE_PER_BAR * energy
    grade_value, grade_note = _grade(loaded_sp if loaded_sp is not None else specific, spec)
    flags = list(air_of.flags)
    if why_not is not None:
        flags.append("specific_power_not_meaningful")
    if spec.grade_limits is None:
        flags.append("no_grade_data")
    control, _ = _control(spec)
    kpis = CompressorKpis(
        device=spec.device,
        control=control,
        energy_kwh=energy,
        running_h=running,
        loaded_h=loaded,
        load_share=loaded / running if running > 0 else 0.0,
        state_shares=_state_shares(data, running, loaded),
        unloaded_kw=unloaded_kw,
        unloaded_kw_method=unloaded_method,
        unloaded_energy_share=None if unloaded_kwh is None or energy <= 0 else unloaded_kwh / energy,
        air_m3=air,
        air_method=air_of.method,
        air_share_of_room=None,
        specific_power=specific,
        specific_power_note=why_not,
        loaded_specific_power=loaded_sp,
        pressure_excess_kwh=excess,
        grade=grade_value,
        grade_note=grade_note,
        flags=flags,
        notes=[*air_of.notes, f"pressure cost: {PRESSURE_SHARE_PER_BAR:.0%} of energy per bar, {_PRACTICE}"],
    )
    return kpis, air_of.m3


@dataclass(frozen=True)
class LeakEstimate:
    """Room leak flow from the non-production intervals; m3_min None with `reason` when not computed."""

    m3_min: float | None
    share: float | None
    method: str | None
    ci90_m3_min: tuple[float, float] | None
    intervals_used: int
    idle_flow_m3_min: float | None = None
    base_demand_m3_min: float | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)


def leak_estimate(
    room_air_m3: pd.Series,
    idle: pd.Series | None,
    *,
    base_demand_m3_min: float | None,
    interval_h: float,
) -> LeakEstimate:
    """Leak flow = mean room air flow of the idle intervals - declared base demand, with a 90 % interval.

    `room_air_m3` is the room's air per interval (NaN where a machine's air is missing); `idle` is True
    where nothing was produced (None: no production signal)."""
    method = GROSS if base_demand_m3_min is None else NET_OF_BASE

    def none(reason: str, used: int = 0) -> LeakEstimate:
        return LeakEstimate(None, None, method, None, used, None, base_demand_m3_min, reason)

    if idle is None:
        return none("no production signal (mv.production_series): the idle periods are unknown")
    air = room_air_m3.dropna()
    if air.empty or float(air.sum()) <= 0:
        return none("no air estimate for the room in the window")
    mask = idle.reindex(air.index, fill_value=False).fillna(False).astype(bool)
    flows = air[mask].to_numpy(dtype=float) / (interval_h * 60.0)
    if len(flows) == 0:
        return none("no non-production intervals in the window")
    if len(flows) < MIN_LEAK_INTERVALS:
        return none(f"only {len(flows)} non-production intervals (< {MIN_LEAK_INTERVALS})", len(flows))
    mean = float(flows.mean())
    leak = mean - (base_demand_m3_min or 0.0)
    half = _ci90_half_width(flows)
    notes = []
    if leak < 0:
        notes.append(f"the declared base demand exceeds the idle flow ({mean:.2f} m3/min): leak taken as 0")
    reported = max(0.0, leak)
    total_minutes = len(air) * interval_h * 60.0
    share = reported * total_minutes / float(air.sum())
    return LeakEstimate(
        m3_min=reported,
        share=share,
        method=method,
        ci90_m3_min=(max(0.0, leak - half), max(0.0, leak + half)),
        intervals_used=len(flows),
        idle_flow_m3_min=mean,
        base_demand_m3_min=base_demand_m3_min,
        reason=None,
        notes=notes,
    )


def _ci90_half_width(flows: np.ndarray) -> float:
    """Half width of the 90 % interval of the mean, on n' = n (1 - rho) / (1 + rho) intervals."""
    n = len(flows)
    rho = max(0.0, lag1_autocorrelation(flows - flows.mean()))
    n_eff = max(2.0, n * (1.0 - rho) / (1.0 + rho))
    sd = float(flows.std(ddof=1))
    return t_two_sided(0.90, n_eff - 1.0) * sd / math.sqrt(n_eff)


@dataclass(frozen=True)
class RoomKpis:
    machines: list[CompressorKpis]
    energy_kwh: float
    air_m3: float
    air_methods: list[str]
    specific_power: float | None
    leak: LeakEstimate
    leak_m3_min: float | None
    leak_share_of_demand: float | None
    advice: list[Advice]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _interval_hours(index: pd.Index) -> float:
    stamps = pd.DatetimeIndex(index)
    if len(stamps) < 2:
        return 0.25
    return float(pd.Series(stamps).diff().median().total_seconds()) / 3600.0


def _sequencing_advice(machines: Mapping[str, pd.DataFrame]) -> list[Advice]:
    """Two or more machines running mostly unloaded at the same time waste unloaded power."""
    wide = pd.DataFrame(
        {d: (m["running_h"] > 0) & (m["loaded_h"] < 0.5 * m["running_h"]) for d, m in machines.items()}
    ).fillna(False)
    share = float((wide.sum(axis=1) >= 2).mean()) if len(wide) else 0.0
    if share <= 0.1:
        return []
    return [
        Advice(
            "sequencing",
            f"in {share:.0%} of intervals two or more compressors ran mostly unloaded: let one trim "
            "machine (ideally variable speed) follow demand and switch the others off",
            share,
        )
    ]


def _peer_advice(kpis: Sequence[CompressorKpis]) -> list[Advice]:
    """A machine whose specific power is > 1.25 x the median of the machines where it is meaningful."""
    meaningful = [k for k in kpis if k.specific_power is not None]
    if len(meaningful) < 3:
        return []
    median = float(np.median([k.specific_power for k in meaningful]))
    advice = []
    for k in meaningful:
        assert k.specific_power is not None
        ratio = k.specific_power / median
        if ratio > PEER_OUTLIER_RATIO:
            unloaded = (
                f"; {k.unloaded_energy_share:.0%} of its energy is unloaded running"
                if k.unloaded_energy_share is not None
                else ""
            )
            advice.append(
                Advice(
                    "peer_outlier",
                    f"{k.device} uses {k.specific_power:.2f} kW/(m3/min), {ratio:.2f} x the median "
                    f"{median:.2f} of the {len(meaningful)} machines with a meaningful figure{unloaded}: "
                    "check it (unloaded running, inlet valve, separator, cooler) or run it last in "
                    "the sequence",
                    ratio,
                    k.device,
                )
            )
    return advice


def room_kpis(
    machines: Mapping[str, pd.DataFrame],
    specs: Sequence[CompressorSpec],
    *,
    no_production: pd.Series | None = None,
    required_pressure_bar: float | None = None,
    base_demand_m3_min: float | None = None,
) -> RoomKpis:
    """Per-machine figures, room specific power, room leak estimate and advice."""
    by_device = {s.device: s for s in specs}
    unknown = set(machines) - set(by_device)
    if unknown:
        raise AnalyticsError(f"compressor room: no spec for {sorted(unknown)}")
    normalised = {d: _normalised(data, d) for d, data in machines.items()}
    results = [_machine(data, by_device[d], required_pressure_bar) for d, data in normalised.items()]
    energy = sum(k.energy_kwh for k, _ in results)
    air = sum(k.air_m3 for k, _ in results)
    kpis = [replace(k, air_share_of_room=k.air_m3 / air if air > 0 else None) for k, _ in results]
    outliers = _peer_advice(kpis)
    flagged = {a.device for a in outliers}
    kpis = [replace(k, flags=[*k.flags, "peer_outlier"]) if k.device in flagged else k for k in kpis]
    room_air = pd.concat(
        [series.rename(d) for d, (_, series) in zip(normalised, results, strict=True)], axis=1
    )
    room_air_total = room_air.sum(axis=1, min_count=len(results)) if len(results) else pd.Series(dtype=float)
    interval_h = _interval_hours(room_air.index) if len(results) else 0.25
    leak = leak_estimate(
        room_air_total, no_production, base_demand_m3_min=base_demand_m3_min, interval_h=interval_h
    )
    advice = _sequencing_advice(normalised) + outliers
    if leak.share is not None and leak.share > LEAK_ADVICE_SHARE:
        what = "leaks" if leak.method == NET_OF_BASE else "leaks and base demand (none declared)"
        advice.append(
            Advice(
                "leaks",
                f"{what} about {leak.share:.0%} of the air ({leak.m3_min:.1f} m3/min, > "
                f"{LEAK_ADVICE_SHARE:.0%}): run a leak survey",
                leak.share,
            )
        )
    excess = sum(k.pressure_excess_kwh or 0.0 for k in kpis)
    if excess > 0:
        advice.append(
            Advice("pressure", f"lowering the setpoint to the need saves about {excess:.0f} kWh", excess)
        )
    return RoomKpis(
        machines=kpis,
        energy_kwh=energy,
        air_m3=air,
        air_methods=sorted({k.air_method for k in kpis}),
        specific_power=60.0 * energy / air if air > 0 else None,
        leak=leak,
        leak_m3_min=leak.m3_min,
        leak_share_of_demand=leak.share,
        advice=advice,
    )
