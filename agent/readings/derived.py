"""Derived points, and the point-name conventions the runtime relies on.

Pure: no I/O, no asyncio. Profiles name points by convention (see edge_configs/profiles/):

- energy counter (kWh, the one interval energy is summed from), first found of
  `ENERGY_COUNTER_POINTS`: `total_import_kwh` (Eastron SDM630, Acrel ADW300, Schneider PM5300),
  `energy_kwh` (generic compressors), then `total_kwh`, `import_active_energy_kwh`.
- active power (kW, integrated when there is no energy counter; numerator of specific power), first of
  `ACTIVE_POWER_POINTS`: `active_power_total_kw` (meters), `active_power_kw` (compressors), `power_kw`.
- free air delivery (m3/min), first of `AIR_FLOW_POINTS`: `fad_m3_min` (generic compressors), `fad_m3min`.

Derived: `specific_power_kw_per_m3_min` = active power / free air delivery (ISO 1217 / CAGI: kW per
m3/min), computed when both inputs are good; an unloaded machine (no delivery) gives a bad reading
with reason "no_air_delivery" rather than infinity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agent.config.profile import NumericPoint, PointKind, Profile
from agent.readings.model import Reading

__all__ = [
    "ACTIVE_POWER_POINTS",
    "AIR_FLOW_POINTS",
    "ENERGY_COUNTER_POINTS",
    "SPECIFIC_POWER_POINT",
    "derive_readings",
    "find_point",
]

ENERGY_COUNTER_POINTS = ("total_import_kwh", "energy_kwh", "total_kwh", "import_active_energy_kwh")
ACTIVE_POWER_POINTS = ("active_power_total_kw", "active_power_kw", "power_kw")
AIR_FLOW_POINTS = ("fad_m3_min", "fad_m3min")
SPECIFIC_POWER_POINT = "specific_power_kw_per_m3_min"


def find_point(
    profile: Profile, candidates: Sequence[str], polled: Iterable[str], *, counter: bool | None = None
) -> str | None:
    """The first of `candidates` that the profile has, the device polls, and (optionally) is a counter."""
    names = set(polled)
    for name in candidates:
        if name not in names:
            continue
        point = next((p for p in profile.points if p.name == name), None)
        if not isinstance(point, NumericPoint):
            continue
        if counter is None or (point.kind is PointKind.COUNTER) == counter:
            return name
    return None


def derive_readings(
    readings: Sequence[Reading], power_point: str | None, flow_point: str | None
) -> list[Reading]:
    """Extra readings computed from one poll's readings (empty when the inputs are not polled)."""
    if power_point is None or flow_point is None:
        return []
    by_name = {r.point: r for r in readings}
    power, flow = by_name.get(power_point), by_name.get(flow_point)
    if power is None or flow is None:
        return []
    unit = "kW/(m3/min)"
    if power.quality != "good" or flow.quality != "good":
        return [Reading(SPECIFIC_POWER_POINT, None, unit, "bad", "input_bad")]
    if not isinstance(power.value, int | float) or not isinstance(flow.value, int | float):
        return [Reading(SPECIFIC_POWER_POINT, None, unit, "bad", "input_bad")]
    if flow.value <= 0:
        return [Reading(SPECIFIC_POWER_POINT, None, unit, "bad", "no_air_delivery")]
    return [Reading(SPECIFIC_POWER_POINT, round(power.value / flow.value, 4), unit)]
