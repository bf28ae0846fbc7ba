"""The rating's measured indicators, computed from the factory's own interval history.

Pure: takes the period's frames (`PeriodData`, read from the history by `agent.rating.provider`) and
the site config, returns `Measurement` = indicator id -> `IndicatorValue` plus, for every measured
indicator it could not compute, the reason. Nothing is estimated to fill a gap: an indicator without
the data it needs is left out (the rating scores it 0 and flags it `missing`) and its reason goes
into the package's warnings.

Conventions (stated again in each value's method text):

* the **site boundary**, production and the savings are the site's M&V model's (`agent.mv`): site
  energy is the sum of the site meters (`analytics.site_meters`, default the roots of the
  electricity meter tree); energy is what the meters delivered, gaps are not filled, and
  `completeness` says how much is missing;
* **standard coal** uses the config's electricity factor (GB/T 2589-2020), **CO2** the grid factor;
  only electricity is metered through the history, so "comprehensive energy" is electricity here;
* **metering coverage** is the GB 17167 configuration rate of `agent.mv.metering` (the figure the
  Devices page shows): installed electricity meters per level of the meter tree over the measuring
  points the site's energy audit requires there, against the edition's targets; the worst level's
  share of its target, in %. Without the required counts it is not measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from agent.analytics.errors import AnalyticsError, InsufficientData
from agent.analytics.eui import output_value_10k_yuan
from agent.analytics.factors import FactorUsed, co2_from_electricity, comprehensive_energy
from agent.config.analytics import Carrier as FactorCarrier
from agent.config.site import SiteConfig
from agent.mv.metering import metering_coverage
from agent.mv.model import compressed_air_room
from agent.mv.results import PeriodFigures, Savings
from agent.mv.site import mv_site
from agent.rating.values import IndicatorValue, measured

__all__ = [
    "MEASURED_IDS",
    "Measurement",
    "PeriodData",
    "measure",
]

MEASURED_IDS = (
    "unit_product_energy",
    "unit_product_carbon",
    "energy_per_output_value",
    "unit_energy_yoy_reduction",
    "verified_savings_rate",
    "metering_coverage",
    "compressed_air_specific_power",
    "renewable_electricity_share",
    "data_completeness",
)


@dataclass(frozen=True)
class PeriodData:
    """One rating period, as the site's M&V model (`agent.mv.MvModel`) sees it.

    `start`/`end` bound the local period in UTC; `end` is clipped to 'now' for a running period so
    that completeness counts only the intervals that could exist yet.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    months: tuple[str, ...]
    """Local months 'YYYY-MM' of the period (for monthly output value entries)."""
    site: PeriodFigures
    """Site energy, production (series `analytics.production.column`) and completeness."""
    production_by_month: Mapping[str, float] = field(default_factory=dict)
    last_year: PeriodFigures | None = None
    """The same stretch one year earlier."""
    last_year_label: str = "last year"
    savings: Savings | None = None
    """The M&V result of the period's days after the baseline (adjustments included)."""
    savings_reason: str = ""
    """Why `savings` is None."""
    compressors: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    """Per compressor: kwh, loaded_h, running_h and optionally air_m3 per interval."""
    production: pd.Series | None = None
    """Production per interval (the idle intervals of the compressed-air leak figure)."""


@dataclass(frozen=True)
class Measurement:
    values: dict[str, IndicatorValue]
    not_measured: dict[str, str]
    factors: list[FactorUsed]

    def warnings(self) -> list[str]:
        return [f"not measured: {key}: {reason}" for key, reason in self.not_measured.items()]


def measure(data: PeriodData, config: SiteConfig) -> Measurement:
    """Every measured indicator of the period that the data supports, and why the others are not."""
    context = _Context(data, config)
    values: dict[str, IndicatorValue] = {}
    reasons: dict[str, str] = {}
    for key in MEASURED_IDS:
        try:
            values[key] = _MEASURES[key](context)
        except AnalyticsError as exc:
            reasons[key] = str(exc)
    return Measurement(values, reasons, context.factors())


# ---------------------------------------------------------------- shared quantities


class _Context:
    """The period's site energy, production and completeness, computed once for every indicator."""

    def __init__(self, data: PeriodData, config: SiteConfig) -> None:
        self.data = data
        self.config = config
        self.analytics = config.analytics
        self.unit = data.site.production_unit
        self.site = data.site
        self.site_kwh = data.site.energy_kwh
        self.expected = data.site.intervals_expected
        self.completeness = data.site.completeness

    def production_units(self) -> float:
        units = self.data.site.production
        if units is None or not units > 0:
            column = self.analytics.production.column
            raise InsufficientData(f"no production in the period (history series {column!r})")
        return units

    def electricity_factor(self) -> float:
        factor = self.analytics.conversion_factors.get(FactorCarrier.ELECTRICITY)
        if factor is None:
            raise AnalyticsError("no standard-coal factor configured for electricity")
        return factor.kgce_per_unit

    def kgce(self) -> float:
        energy = comprehensive_energy(
            {FactorCarrier.ELECTRICITY: self.site_kwh}, self.analytics.conversion_factors
        )
        return energy.total_kgce

    def factors(self) -> list[FactorUsed]:
        grid = co2_from_electricity(0.0, self.analytics.grid_emission).factor
        try:
            coal = comprehensive_energy({FactorCarrier.ELECTRICITY: 0.0}, self.analytics.conversion_factors)
        except AnalyticsError:
            return [grid]
        return [*coal.factors, grid]

    def site_method(self) -> str:
        return f"site meters {', '.join(self.site.site_meters)}: {self.site_kwh:.1f} kWh"


# ---------------------------------------------------------------- the indicators


def _unit_product_energy(c: _Context) -> IndicatorValue:
    units = c.production_units()
    method = (
        f"{c.site_method()} x {c.electricity_factor()} kgce/kWh (GB/T 2589-2020) / {units:g} {c.unit}"
        " produced; electricity only (other carriers are not metered by the agent)"
    )
    return measured(c.kgce() / units, f"kgce/{c.unit}", method, c.completeness)


def _unit_product_carbon(c: _Context) -> IndicatorValue:
    units = c.production_units()
    grid = c.analytics.grid_emission
    co2 = co2_from_electricity(c.site_kwh, grid)
    method = (
        f"{c.site_method()} x {grid.kgco2_per_kwh} kgCO2/kWh ({grid.region} grid, {grid.data_year} data)"
        f" / {units:g} {c.unit} produced; indirect emissions of purchased electricity only"
    )
    return measured(co2.tco2 * 1000.0 / units, f"kgCO2/{c.unit}", method, c.completeness)


def _energy_per_output_value(c: _Context) -> IndicatorValue:
    production = c.analytics.production
    output = sum(
        output_value_10k_yuan(month, c.data.production_by_month.get(month, 0.0), production)
        for month in c.data.months
    )
    if not output > 0:
        raise InsufficientData("output value of the period is zero")
    tce = c.kgce() / 1000.0
    sources = sorted({e.source for e in production.output_value if e.month in c.data.months})
    basis = f"entries ({', '.join(sources)})" if sources else "production x output_value_yuan_per_unit"
    method = f"{c.site_method()} = {tce:.4f} tce / output value {output:.4f} x 10^4 yuan from {basis}"
    return measured(tce / output, "tce/10^4 yuan", method, c.completeness)


def _unit_energy_yoy_reduction(c: _Context) -> IndicatorValue:
    data = c.data
    this_year = c.site_kwh / c.production_units()
    last = data.last_year
    if last is None or last.intervals_complete == 0:
        raise InsufficientData(f"no site energy for {data.last_year_label} in the history")
    if last.production is None or not last.production > 0:
        raise InsufficientData(f"no production for {data.last_year_label} in the history")
    last_year = last.energy_kwh / last.production
    completeness = min(c.completeness, last.completeness)
    method = (
        f"(last year's {last_year:.4f} - this period's {this_year:.4f} kWh/{c.unit}) / last year's x 100;"
        f" same stretch of {data.last_year_label}, electricity per unit of product"
    )
    return measured((last_year - this_year) / last_year * 100.0, "%", method, completeness)


def _verified_savings_rate(c: _Context) -> IndicatorValue:
    outcome = c.data.savings
    if outcome is None:
        raise InsufficientData(c.data.savings_reason or "no reporting days after the baseline in the period")
    if not outcome.verdict.acceptance.passed:
        failed = [f for f in outcome.verdict.failures() if not f.startswith("savings uncertainty")]
        raise InsufficientData(f"baseline fails ASHRAE Guideline 14: {'; '.join(failed)}")
    result, model = outcome.result, outcome.baseline.model
    band = result.band(0.68)
    if not outcome.verdict.meets_uncertainty:
        raise InsufficientData(
            f"savings uncertainty {band.fraction_of_savings:.0%} of savings at 68 % "
            "(ASHRAE Guideline 14 needs < 50 %)"
        )
    s = model.stats
    adjusted = f"; non-routine adjustments {result.non_routine_kwh:+.1f} kWh" if outcome.adjustments else ""
    method = (
        f"IPMVP Option {model.ipmvp_option}, {model.kind} {model.granularity} baseline "
        f"{model.baseline_start}..{model.baseline_end} (CV(RMSE) {s.cv_rmse:.1%}, NMBE {s.nmbe:.3%}, "
        f"n {s.n}); {result.savings_kwh:.1f} kWh avoided of {result.baseline_kwh:.1f} kWh adjusted "
        f"baseline over {len(result.periods)} {model.granularity} periods{adjusted}; 68 % uncertainty "
        f"{band.fraction_of_savings:.0%} of savings (ASHRAE Guideline 14 Annex B)"
    )
    return measured(result.fraction * 100.0, "%", method, outcome.coverage)


def _metering_coverage(c: _Context) -> IndicatorValue:
    coverage = metering_coverage(mv_site(c.config))  # the Devices page shows the same figure
    return measured(coverage.rate_pct, "%", coverage.method(), 1.0)


def _compressed_air_specific_power(c: _Context) -> IndicatorValue:
    room = compressed_air_room(c.analytics, dict(c.data.compressors), c.data.production)
    if room.specific_power is None:
        raise InsufficientData("the compressors delivered no air in the period")
    machines = sorted(k.device for k in room.machines)
    method = (
        f"compressor room {', '.join(machines)}: 60 x {room.energy_kwh:.1f} kWh / "
        f"{room.air_m3:.1f} m3 free air ({'; '.join(room.air_methods)})"
    )
    share = min(len(c.data.compressors[d].dropna(subset=["kwh"])) / c.expected for d in machines)
    return measured(room.specific_power, "kW/(m3/min)", method, min(1.0, share))


def _renewable_electricity_share(c: _Context) -> IndicatorValue:
    raise InsufficientData(
        "on-site generation and green-power purchases are not in the history yet: declare the value "
        "in the site rating file"
    )


def _data_completeness(c: _Context) -> IndicatorValue:
    present = c.site.intervals_complete
    method = (
        f"intervals with good data on every site meter ({', '.join(c.site.site_meters)}): {present} of "
        f"{c.expected} expected ({c.analytics.interval_minutes}-minute intervals)"
    )
    return measured(c.completeness * 100.0, "%", method, 1.0)


_MEASURES: dict[str, Callable[[_Context], IndicatorValue]] = {
    "unit_product_energy": _unit_product_energy,
    "unit_product_carbon": _unit_product_carbon,
    "energy_per_output_value": _energy_per_output_value,
    "unit_energy_yoy_reduction": _unit_energy_yoy_reduction,
    "verified_savings_rate": _verified_savings_rate,
    "metering_coverage": _metering_coverage,
    "compressed_air_specific_power": _compressed_air_specific_power,
    "renewable_electricity_share": _renewable_electricity_share,
    "data_completeness": _data_completeness,
}
