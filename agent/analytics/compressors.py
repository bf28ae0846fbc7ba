"""Compressed-air KPIs from interval data (ISO 1217 / CAGI-style specific power, load/unload, leaks).

Input per compressor: a DataFrame indexed by UTC interval start with
    kwh          package input energy in the interval
    loaded_h     hours loaded in the interval (delta of the loaded-hours counter)
    running_h    hours running (loaded + unloaded) in the interval
    air_m3       optional: free air delivered in the interval (flow meter); else estimated as
                 loaded hours x rated FAD
The counter names of the compressor profiles and simulator (`energy_kwh`, `fad_m3`) are accepted as
aliases of `kwh` and `air_m3`.
Specific power = package input power / free air delivery, kW/(m3/min) = 60 x kWh / m3.

Practice values (REFERENCE.md, compressed-air practice, not a standard): unloaded power 20-25 % of
full load, ~7 % more energy per bar of excess pressure, leaks > 20 % of demand common, < 10 % good.
GB 19153-2019 grade limits are never invented here: the user enters them per machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from agent.analytics.errors import AnalyticsError
from agent.config.analytics import CompressorSpec

__all__ = [
    "PRESSURE_SHARE_PER_BAR",
    "Advice",
    "CompressorKpis",
    "RoomKpis",
    "compressor_kpis",
    "grade",
    "room_kpis",
]

PRESSURE_SHARE_PER_BAR = 0.07
_PRACTICE = "compressed-air practice (REFERENCE.md)"


@dataclass(frozen=True)
class Advice:
    code: str
    message: str
    value: float


@dataclass(frozen=True)
class CompressorKpis:
    device: str
    energy_kwh: float
    running_h: float
    loaded_h: float
    load_share: float
    unloaded_kw: float | None
    unloaded_kw_method: str
    unloaded_energy_share: float | None
    air_m3: float
    air_method: str
    specific_power: float
    loaded_specific_power: float | None
    leak_share_of_capacity: float | None
    pressure_excess_kwh: float | None
    grade: str | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ALIASES = {"energy_kwh": "kwh", "fad_m3": "air_m3"}


def _normalised(data: pd.DataFrame, device: str) -> pd.DataFrame:
    data = data.rename(columns={k: v for k, v in _ALIASES.items() if v not in data.columns})
    missing = {"kwh", "loaded_h", "running_h"} - set(data.columns)
    if missing:
        raise AnalyticsError(f"compressor {device}: columns {sorted(missing)} missing")
    if (data["loaded_h"] > data["running_h"] + 1e-9).any():
        raise AnalyticsError(f"compressor {device}: loaded_h exceeds running_h in some intervals")
    return data


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


def grade(specific_power: float, spec: CompressorSpec) -> str | None:
    """GB 19153-2019 grade from the user's limits: '1', '2', '3' or 'below 3' (None without limits)."""
    limits = spec.grade_limits
    if limits is None:
        return None
    for name, limit in (("1", limits.grade_1), ("2", limits.grade_2), ("3", limits.grade_3)):
        if specific_power <= limit:
            return name
    return "below 3"


def _leak_share(data: pd.DataFrame, no_production: pd.Series | None) -> float | None:
    """Loaded share of running time while nothing is produced: T_load / (T_load + T_unload)."""
    if no_production is None:
        return None
    idle = data.loc[no_production.reindex(data.index, fill_value=False).astype(bool)]
    running = float(idle["running_h"].sum())
    return float(idle["loaded_h"].sum()) / running if running > 0 else None


def compressor_kpis(
    data: pd.DataFrame,
    spec: CompressorSpec,
    *,
    no_production: pd.Series | None = None,
    required_pressure_bar: float | None = None,
) -> CompressorKpis:
    """KPIs of one machine over the frame's period."""
    data = _normalised(data, spec.device)
    energy = float(data["kwh"].sum())
    running, loaded = float(data["running_h"].sum()), float(data["loaded_h"].sum())
    unloaded_kw, unloaded_method = _unloaded_kw(data, spec)
    unloaded_kwh = None if unloaded_kw is None else unloaded_kw * (running - loaded)
    if "air_m3" in data.columns and data["air_m3"].notna().all():
        air, air_method = float(data["air_m3"].sum()), "measured flow"
    else:
        air, air_method = loaded * 60.0 * spec.rated_fad_m3_min, "estimated: loaded hours x rated FAD"
    specific = 60.0 * energy / air if air > 0 else float("nan")
    loaded_sp = None
    if unloaded_kwh is not None and air > 0:
        loaded_sp = 60.0 * (energy - unloaded_kwh) / air
    excess = None
    if spec.setpoint_bar is not None and required_pressure_bar is not None:
        excess = max(0.0, spec.setpoint_bar - required_pressure_bar) * PRESSURE_SHARE_PER_BAR * energy
    return CompressorKpis(
        device=spec.device,
        energy_kwh=energy,
        running_h=running,
        loaded_h=loaded,
        load_share=loaded / running if running > 0 else 0.0,
        unloaded_kw=unloaded_kw,
        unloaded_kw_method=unloaded_method,
        unloaded_energy_share=None if unloaded_kwh is None or energy <= 0 else unloaded_kwh / energy,
        air_m3=air,
        air_method=air_method,
        specific_power=specific,
        loaded_specific_power=loaded_sp,
        leak_share_of_capacity=_leak_share(data, no_production),
        pressure_excess_kwh=excess,
        grade=grade(loaded_sp if loaded_sp is not None else specific, spec),
        notes=[f"pressure cost: {PRESSURE_SHARE_PER_BAR:.0%} of energy per bar, {_PRACTICE}"],
    )


@dataclass(frozen=True)
class RoomKpis:
    machines: list[CompressorKpis]
    energy_kwh: float
    air_m3: float
    specific_power: float
    leak_m3_min: float | None
    leak_share_of_demand: float | None
    advice: list[Advice]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _leak_flow(
    machines: Mapping[str, pd.DataFrame], specs: Mapping[str, CompressorSpec], idle: pd.Series
) -> tuple[float, float] | None:
    """Room leak flow (m3/min) from no-production intervals and the production-time mean demand."""
    idle_air = busy_air = idle_hours = busy_hours = 0.0
    for device, raw in machines.items():
        data = _normalised(raw, device)
        mask = idle.reindex(data.index, fill_value=False).astype(bool)
        air = data["loaded_h"] * 60.0 * specs[device].rated_fad_m3_min
        idle_air += float(air[mask].sum())
        busy_air += float(air[~mask].sum())
        hours = len(data.index) * _interval_hours(data.index)
        idle_hours = max(idle_hours, hours * float(mask.mean()))
        busy_hours = max(busy_hours, hours * float((~mask).mean()))
    if idle_hours == 0 or busy_hours == 0:
        return None
    return idle_air / (idle_hours * 60.0), busy_air / (busy_hours * 60.0)


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


def room_kpis(
    machines: Mapping[str, pd.DataFrame],
    specs: Sequence[CompressorSpec],
    *,
    no_production: pd.Series | None = None,
    required_pressure_bar: float | None = None,
) -> RoomKpis:
    """Per-machine KPIs, room specific power, room leak estimate and advice."""
    by_device = {s.device: s for s in specs}
    unknown = set(machines) - set(by_device)
    if unknown:
        raise AnalyticsError(f"compressor room: no spec for {sorted(unknown)}")
    kpis = [
        compressor_kpis(
            data, by_device[d], no_production=no_production, required_pressure_bar=required_pressure_bar
        )
        for d, data in machines.items()
    ]
    energy, air = sum(k.energy_kwh for k in kpis), sum(k.air_m3 for k in kpis)
    leak = None if no_production is None else _leak_flow(machines, by_device, no_production)
    advice = _sequencing_advice(machines)
    leak_share = None if leak is None or leak[1] <= 0 else leak[0] / leak[1]
    if leak_share is not None and leak_share > 0.2:
        advice.append(
            Advice("leaks", f"leaks about {leak_share:.0%} of demand (> 20 %): run a leak survey", leak_share)
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
        specific_power=60.0 * energy / air if air > 0 else float("nan"),
        leak_m3_min=None if leak is None else leak[0],
        leak_share_of_demand=leak_share,
        advice=advice,
    )
