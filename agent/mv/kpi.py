"""The KPIs of one closed local day, as published on `{prefix}/{site}/kpi` (schemas/mqtt/kpi.schema.json).

Every figure is the site's M&V model's (`agent.mv.MvModel`), so the message says what the dashboard,
the report and the rating say for that day:

* `site_energy_kwh` - site energy (sum of the site meters over the intervals every one of them has);
* `production` - units produced (`analytics.production.column`, in the site's unit);
* `eui_kwh_per_unit` - energy per unit of product (null without production);
* `data_completeness_pct` - intervals with data on every site meter over the day's intervals;
* `compressed_air_specific_power` - the compressor room's kW per m3/min of free air (sites with
  `analytics.compressors`; null when the room delivered no air);
* `savings_to_date_kwh`, `savings_verified` - the M&V savings from the first reporting day through
  this day, and whether they meet ASHRAE Guideline 14 (1 / 0); both null before there is a result.

The key set is fixed per site, so a consumer sees a null rather than a missing key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from agent.analytics.errors import AnalyticsError
from agent.analytics.windows import local_day_bounds
from agent.mv.model import MvModel, compressed_air_room

__all__ = ["DayKpis", "day_kpis"]

KpiValues = dict[str, tuple[float | None, str]]


@dataclass(frozen=True, slots=True)
class DayKpis:
    day: date
    period: str
    """ISO 8601 interval of the local day, e.g. `2026-12-05T00:00:00+08:00/P1D`."""
    values: KpiValues
    has_energy: bool
    """False when no interval of the day has site energy (nothing worth publishing)."""


def day_kpis(model: MvModel, day: date, today: date) -> DayKpis:
    """The KPIs of local day `day` (closed: `day` < `today`), read from the site's history."""
    tz = model.site.timezone
    start, end = local_day_bounds(day, day, tz)
    with model.store() as store:
        figures = model.figures(start, end, store)
        machines = model.compressor_frames(store, start, end) if model.site.analytics.compressors else {}
        production = model.production(store, start, end) if machines else None
    unit = model.site.production_unit
    has_energy = figures.intervals_complete > 0
    values: KpiValues = {
        "site_energy_kwh": (figures.energy_kwh if has_energy else None, "kWh"),
        "production": (figures.production, unit),
        "eui_kwh_per_unit": (figures.eui_kwh_per_unit if has_energy else None, f"kWh/{unit}"),
        "data_completeness_pct": (figures.completeness * 100.0, "%"),
    }
    if model.site.analytics.compressors:
        values["compressed_air_specific_power"] = (
            _specific_power(model, machines, production),
            "kW/(m3/min)",
        )
    values.update(_savings(model, day, today))
    period = f"{start.tz_convert(tz).isoformat()}/P1D"
    return DayKpis(day, period, values, has_energy)


def _specific_power(
    model: MvModel, frames: dict[str, pd.DataFrame], production: pd.Series | None
) -> float | None:
    """The room's specific power, by the one definition the dashboard, report and rating use."""
    try:
        room = compressed_air_room(model.site.analytics, frames, production)
    except AnalyticsError:
        return None
    return room.specific_power


def _savings(model: MvModel, day: date, today: date) -> KpiValues:
    try:
        outcome = model.savings(None, day, today)
    except AnalyticsError:
        return {"savings_to_date_kwh": (None, "kWh"), "savings_verified": (None, "yes=1/no=0")}
    return {
        "savings_to_date_kwh": (outcome.result.savings_kwh, "kWh"),
        "savings_verified": (1.0 if outcome.verdict.passed else 0.0, "yes=1/no=0"),
    }
