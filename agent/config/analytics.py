"""Settings of the energy analytics: conversion factors, grid CO2, tariff, shifts, production, baseline.

Every number that ends up in a report is a setting with a `source`, so an energy manager can show an
auditor where it came from. Defaults follow REFERENCE.md: GB/T 2589-2020 (standard coal), the Ministry
of Ecology and Environment / NBS grid factor, the Chongqing industrial time-of-use tariff
(渝发改规范〔2021〕14号), GB 17167-2006 metering targets and ASHRAE Guideline 14-2014 acceptance limits.
Values that are not confirmed by two public sources carry `confirmed=False` and must be checked by the
user before they are relied on.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agent.config.mv import Adjustment, RatingFiles
from agent.config.strict import StrictModel as _Strict  # one base for every config model

__all__ = [
    "AnalyticsConfig",
    "BaselineOptions",
    "Carrier",
    "CompressedAirConfig",
    "CompressorControl",
    "CompressorSpec",
    "ConversionFactor",
    "CriticalPeak",
    "GradeLimits",
    "GridEmissionFactor",
    "MeteringTargets",
    "OutputValueEntry",
    "PeriodRatios",
    "PointSource",
    "ProductionConfig",
    "ProductionSource",
    "Shift",
    "TariffBand",
    "TariffConfig",
    "TariffPeriod",
    "TariffSeason",
    "check_flow_curve",
    "chongqing_industrial_tou",
    "default_conversion_factors",
    "default_shifts",
    "gb17167_2006_targets",
]

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_GBT2589 = "GB/T 2589-2020 (1 kgce = 29,307 kJ)"


def minutes_of(hhmm: str) -> int:
    """'HH:MM' (or '24:00') -> minutes after midnight."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"time {value!r} must be 'HH:MM' (00:00-23:59, or 24:00 as an end)")
    return value


# ---------------------------------------------------------------- conversion factors


class Carrier(StrEnum):
    """Energy carriers with a GB/T 2589-2020 standard-coal factor."""

    ELECTRICITY = "electricity"
    NATURAL_GAS = "natural_gas"
    NATURAL_GAS_OILFIELD = "natural_gas_oilfield"
    STEAM_LOW_PRESSURE = "steam_low_pressure"
    HEAT = "heat"
    DIESEL = "diesel"
    GASOLINE = "gasoline"
    FUEL_OIL = "fuel_oil"
    LPG = "lpg"
    RAW_COAL = "raw_coal"
    COKE = "coke"
    COMPRESSED_AIR = "compressed_air"
    FRESH_WATER = "fresh_water"


class ConversionFactor(_Strict):
    """Standard coal equivalent of one unit of a carrier."""

    unit: str = Field(min_length=1, max_length=16, description="Physical unit of the carrier (kWh, m3, kg).")
    kgce_per_unit: float = Field(gt=0, le=100, description="kg of standard coal per unit.")
    source: str = Field(min_length=1, description="Standard, table and edition the factor comes from.")
    confirmed: bool = Field(
        default=True, description="False when public sources disagree: the user must check the value."
    )


def default_conversion_factors() -> dict[Carrier, ConversionFactor]:
    """GB/T 2589-2020 defaults (REFERENCE.md). Electricity uses the calorific-equivalent convention."""

    def cf(unit: str, value: float, note: str = "", confirmed: bool = True) -> ConversionFactor:
        return ConversionFactor(unit=unit, kgce_per_unit=value, source=_GBT2589 + note, confirmed=confirmed)

    return {
        Carrier.ELECTRICITY: cf("kWh", 0.1229, ", calorific equivalent"),
        Carrier.NATURAL_GAS: cf("m3", 1.2143, ", gas-field gas"),
        Carrier.NATURAL_GAS_OILFIELD: cf("m3", 1.3300, ", oil-field gas"),
        Carrier.STEAM_LOW_PRESSURE: cf("kg", 0.1286, ", low-pressure steam"),
        Carrier.HEAT: cf("MJ", 0.03412),
        Carrier.DIESEL: cf("kg", 1.4571),
        Carrier.GASOLINE: cf("kg", 1.4714),
        Carrier.FUEL_OIL: cf("kg", 1.4286),
        Carrier.LPG: cf("kg", 1.7143),
        Carrier.RAW_COAL: cf("kg", 0.7143),
        Carrier.COKE: cf("kg", 0.9714),
        Carrier.COMPRESSED_AIR: cf("m3", 0.0400),
        Carrier.FRESH_WATER: cf(
            "t", 0.0857, ", fresh water: editions differ (0.0857 vs 0.2571) - check", confirmed=False
        ),
    }


class GridEmissionFactor(_Strict):
    """CO2 emitted per kWh of grid electricity."""

    kgco2_per_kwh: float = Field(default=0.5306, gt=0, le=2, description="kg CO2 per kWh consumed.")
    region: str = Field(default="national", min_length=1, description="'national' or a province name.")
    data_year: int = Field(default=2023, ge=2000, le=2100, description="Year the factor describes.")
    source: str = Field(
        default="Ministry of Ecology and Environment / NBS, national grid average 2023 data (published 2025)",
        min_length=1,
        description="Publication of the factor.",
    )
    confirmed: bool = Field(default=True, description="False for single-source (e.g. provincial) values.")


# ---------------------------------------------------------------- tariff


class TariffPeriod(StrEnum):
    VALLEY = "valley"
    FLAT = "flat"
    PEAK = "peak"
    CRITICAL = "critical"


class TariffBand(_Strict):
    """A time-of-day band [start, end) in local time."""

    start: str = Field(description="Local start 'HH:MM'.")
    end: str = Field(description="Local end 'HH:MM' ('24:00' for midnight); must be after start.")
    period: TariffPeriod = Field(description="Price period of the band.")

    _start = field_validator("start", "end")(_check_hhmm)

    @model_validator(mode="after")
    def _ordered(self) -> TariffBand:
        if minutes_of(self.end) <= minutes_of(self.start):
            raise ValueError(f"band {self.start}-{self.end}: end must be after start (split at midnight)")
        return self


class PeriodRatios(_Strict):
    """Multipliers on the floating part of the flat price."""

    peak: float = Field(default=1.6, gt=0, le=10, description="peak = flat x this (floating part).")
    valley: float = Field(default=0.38, gt=0, le=10, description="valley = flat x this (floating part).")
    critical_over_peak: float = Field(
        default=1.2, gt=0, le=10, description="critical peak = peak x this (floating part)."
    )


class CriticalPeak(_Strict):
    """Critical-peak hours, taken out of whatever period they fall in, in some months."""

    months: tuple[int, ...] = Field(description="Months 1-12 with critical peak.")
    bands: tuple[TariffBand, ...] = Field(description="Critical bands (period must be 'critical').")

    @model_validator(mode="after")
    def _check(self) -> CriticalPeak:
        if any(not 1 <= m <= 12 for m in self.months):
            raise ValueError("critical-peak months must be 1-12")
        if any(b.period is not TariffPeriod.CRITICAL for b in self.bands):
            raise ValueError("critical-peak bands must have period 'critical'")
        return self


class TariffSeason(_Strict):
    """Months sharing one day pattern (and optionally their own ratios)."""

    name: str = Field(min_length=1, description="e.g. 'all year', 'summer'.")
    months: tuple[int, ...] = Field(min_length=1, description="Months 1-12 of the season.")
    bands: tuple[TariffBand, ...] = Field(min_length=1, description="Bands covering 00:00-24:00 once.")
    ratios: PeriodRatios | None = Field(default=None, description="Season ratios; default: the tariff's.")

    @model_validator(mode="after")
    def _cover_day(self) -> TariffSeason:
        if any(not 1 <= m <= 12 for m in self.months):
            raise ValueError(f"season {self.name}: months must be 1-12")
        cursor = 0
        for band in sorted(self.bands, key=lambda b: minutes_of(b.start)):
            if minutes_of(band.start) != cursor:
                raise ValueError(f"season {self.name}: bands leave a gap or overlap at {band.start}")
            cursor = minutes_of(band.end)
        if cursor != 24 * 60:
            raise ValueError(f"season {self.name}: bands must end at 24:00")
        return self


class TariffConfig(_Strict):
    """Time-of-use tariff = day pattern per season + floating base price x ratios + fixed adders.

    Published prices contain fixed adders (transmission, funds, surcharges) that are not multiplied by
    the period ratios, so the tariff is modelled as its parts, not as three bare prices.
    """

    name: str = Field(min_length=1, description="Tariff name.")
    source: str = Field(min_length=1, description="Policy document and price sheet.")
    currency: Literal["CNY"] = Field(default="CNY", description="Currency of all prices.")
    floating_flat_yuan_per_kwh: float = Field(
        gt=0, le=10, description="Floating (market purchase) part of the flat price, yuan/kWh."
    )
    fixed_adder_yuan_per_kwh: float = Field(
        ge=0, le=10, description="Sum of adders not multiplied by the ratios, yuan/kWh."
    )
    ratios: PeriodRatios = Field(default_factory=PeriodRatios, description="Period ratios.")
    seasons: tuple[TariffSeason, ...] = Field(min_length=1, description="Seasons covering months 1-12.")
    critical_peak: CriticalPeak | None = Field(default=None, description="Critical-peak hours, if any.")

    @model_validator(mode="after")
    def _months_once(self) -> TariffConfig:
        months = sorted(m for s in self.seasons for m in s.months)
        if months != list(range(1, 13)):
            raise ValueError("seasons must cover every month 1-12 exactly once")
        return self

    def price(self, period: TariffPeriod, month: int) -> float:
        """Price of a period in a month, yuan/kWh (floating x ratio + fixed adder)."""
        season = next(s for s in self.seasons if month in s.months)
        r = season.ratios or self.ratios
        factor = {
            TariffPeriod.FLAT: 1.0,
            TariffPeriod.PEAK: r.peak,
            TariffPeriod.VALLEY: r.valley,
            TariffPeriod.CRITICAL: r.peak * r.critical_over_peak,
        }[period]
        return self.floating_flat_yuan_per_kwh * factor + self.fixed_adder_yuan_per_kwh


def chongqing_industrial_tou() -> TariffConfig:
    """Chongqing industrial TOU (渝发改规范〔2021〕14号) with prices from a Feb-2025 sheet.

    Floating and fixed parts are solved from the published 1-10 kV two-part flat 0.762307 and peak
    1.133067 yuan/kWh (flat = F + A, peak = 1.6 F + A); the valley price 0.379188 then checks out.
    """
    v, f, p = TariffPeriod.VALLEY, TariffPeriod.FLAT, TariffPeriod.PEAK
    day = (
        TariffBand(start="00:00", end="08:00", period=v),
        TariffBand(start="08:00", end="11:00", period=f),
        TariffBand(start="11:00", end="17:00", period=p),
        TariffBand(start="17:00", end="20:00", period=f),
        TariffBand(start="20:00", end="22:00", period=p),
        TariffBand(start="22:00", end="24:00", period=f),
    )
    floating = (1.133067 - 0.762307) / 0.6
    return TariffConfig(
        name="Chongqing industrial TOU, 1-10 kV two-part",
        source="渝发改规范〔2021〕14号 (periods, ratios); State Grid Chongqing price sheet 2025-02 "
        "(flat 0.762307, peak 1.133067, valley 0.379188 yuan/kWh) - check the current sheet",
        floating_flat_yuan_per_kwh=round(floating, 6),
        fixed_adder_yuan_per_kwh=round(0.762307 - floating, 6),
        seasons=(TariffSeason(name="all year", months=tuple(range(1, 13)), bands=day),),
        critical_peak=CriticalPeak(
            months=(1, 7, 8, 12),
            bands=(TariffBand(start="12:00", end="14:00", period=TariffPeriod.CRITICAL),),
        ),
    )


# ---------------------------------------------------------------- shifts, production


class Shift(_Strict):
    """A work shift [start, end) in local time; a shift may cross midnight (22:00-06:00)."""

    name: str = Field(min_length=1, max_length=32, description="Shift name, e.g. 'A', 'night'.")
    start: str = Field(description="Local start 'HH:MM'.")
    end: str = Field(description="Local end 'HH:MM'; earlier than start means it ends the next day.")

    _hhmm = field_validator("start", "end")(_check_hhmm)


def default_shifts() -> tuple[Shift, ...]:
    """Three eight-hour shifts; a shift belongs to the date on which it starts."""
    return (
        Shift(name="A", start="08:00", end="16:00"),
        Shift(name="B", start="16:00", end="24:00"),
        Shift(name="C", start="00:00", end="08:00"),
    )


class OutputValueEntry(_Strict):
    """Industrial output value of one month, entered by the user (statistics report)."""

    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="'YYYY-MM'.")
    value_10k_yuan: float = Field(ge=0, description="Output value in 10,000 yuan (万元).")
    source: str = Field(default="user entry", description="Where the figure comes from.")


class PointSource(_Strict):
    """A polled point that feeds a history series (the live recorder reads it)."""

    device: str = Field(min_length=1, description="Device name (from `devices`).")
    point: str | None = Field(
        default=None,
        description="Point of the device's profile; default: the profile's point with the matching "
        "role (production: `role: production`, temperature: `role: outdoor_temperature`).",
    )


class ProductionSource(PointSource):
    """A production counter and how its counts convert to the site's production unit."""

    factor: float = Field(
        default=1.0,
        gt=0,
        description="Site production units per counted unit, e.g. 0.0000005 (t per 0.5 g tablet); "
        "1 when the counter already counts in `production.unit`.",
    )


class ProductionConfig(_Strict):
    """What counts as one unit of product and where the output value comes from."""

    product: str = Field(default="product", min_length=1, description="Product name.")
    unit: str = Field(default="unit", min_length=1, max_length=16, description="Unit: t, pcs, m2 ...")
    column: str = Field(
        default="production", min_length=1, description="Column of the production data (units/interval)."
    )
    output_value_yuan_per_unit: float | None = Field(
        default=None, ge=0, description="Output value per unit, to derive output value from production."
    )
    output_value: tuple[OutputValueEntry, ...] = Field(
        default=(), description="Monthly output value entries (override the per-unit value)."
    )
    sources: tuple[ProductionSource, ...] = Field(
        default=(),
        description="Production counters the live agent records into the `column` series, summed, "
        "each converted by its factor (counter rollover and resets handled). Empty: production comes "
        "only from `energy-agent import`.",
    )


# ---------------------------------------------------------------- metering coverage


def gb17167_2006_targets() -> dict[str, tuple[float, float, float]]:
    """GB 17167-2006 Table 3: required configuration rate (site, secondary units, major equipment)."""
    return {
        "electricity": (1.00, 1.00, 0.95),
        "coal": (1.00, 1.00, 0.90),
        "coke": (1.00, 1.00, 0.90),
        "refined_oil": (1.00, 1.00, 0.95),
        "heavy_oil": (1.00, 1.00, 0.90),
        "natural_gas": (1.00, 1.00, 0.90),
        "lpg": (1.00, 1.00, 0.90),
        "manufactured_gas": (1.00, 0.90, 0.80),
        "steam": (1.00, 0.80, 0.70),
        "water": (1.00, 0.95, 0.80),
    }


class MeteringTargets(_Strict):
    """Required metering configuration rates per carrier and level (fractions 0-1)."""

    edition: str = Field(
        default="GB 17167-2006",
        min_length=1,
        description="Standard edition; GB 17167-2025 applies from 2026-02-01 - enter its table.",
    )
    targets: dict[str, tuple[float, float, float]] = Field(
        default_factory=gb17167_2006_targets,
        description="carrier -> (site boundary, major secondary units, major equipment), fractions 0-1.",
    )
    required_points: dict[str, tuple[int, int, int]] = Field(
        default_factory=dict,
        description="carrier -> number of measuring points the standard requires at (site boundary, major "
        "secondary units, major equipment), from the site's energy audit. GB 17167's configuration rate "
        "is installed meters / these; without them the rate cannot be measured and must be declared.",
    )

    @model_validator(mode="after")
    def _check(self) -> MeteringTargets:
        if self.edition != "GB 17167-2006" and "targets" not in self.model_fields_set:
            raise ValueError(f"edition {self.edition!r}: enter its target table (defaults are 2006)")
        for carrier, levels in self.targets.items():
            if any(not 0 <= v <= 1 for v in levels):
                raise ValueError(f"targets.{carrier}: rates are fractions between 0 and 1")
        return self


# ---------------------------------------------------------------- baseline


class BaselineOptions(_Strict):
    """How baseline models are fitted and judged (ASHRAE Guideline 14-2014, IPMVP)."""

    period_start: date | None = Field(
        default=None,
        description="First day of the baseline period (local date); default: the history's start.",
    )
    period_end: date | None = Field(
        default=None,
        description="Day after the baseline period = first day of reporting (e.g. the retrofit date).",
    )
    granularity: Literal["daily", "monthly"] = Field(default="daily", description="Fit on days or months.")
    ipmvp_option: Literal["B", "C"] = Field(
        default="C", description="B: retrofit isolation (sub-system meter); C: whole facility."
    )
    models: tuple[Literal["1P", "2P", "3PH", "3PC", "4P", "5P"], ...] = Field(
        default=("1P", "2P", "3PH", "3PC", "4P", "5P"),
        min_length=1,
        description="Candidate temperature models; production is always an extra regressor.",
    )
    balance_point_min_c: float = Field(default=8.0, ge=-30, le=40, description="Grid search lower bound.")
    balance_point_max_c: float = Field(default=28.0, ge=-30, le=45, description="Grid search upper bound.")
    balance_point_step_c: float = Field(default=1.0, gt=0, le=5, description="Grid search step, degC.")
    min_points_daily: int = Field(default=90, ge=10, le=3660, description="Fewest usable days to fit.")
    min_points_monthly: int = Field(default=12, ge=6, le=120, description="Fewest usable months to fit.")
    min_period_coverage: float = Field(
        default=0.9, ge=0, le=1, description="A day/month with less interval coverage is left out."
    )
    min_overall_coverage: float = Field(
        default=0.9, ge=0, le=1, description="Share of periods in the window that must be usable."
    )
    min_t_stat: float = Field(
        default=2.0, gt=0, le=10, description="|t| a temperature term needs to be kept (~95 %)."
    )
    min_degree_day_share: float = Field(
        default=0.1, ge=0, le=1, description="Share of periods with non-zero degree days for a term."
    )

    @field_validator("period_end")
    @classmethod
    def _end_after_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("period_start")
        if start is not None and end is not None and end <= start:
            raise ValueError(f"the baseline must end after it starts (period_start is {start})")
        return end

    @model_validator(mode="after")
    def _grid(self) -> BaselineOptions:
        if self.balance_point_max_c <= self.balance_point_min_c:
            raise ValueError("balance_point_max_c must be above balance_point_min_c")
        return self


# ---------------------------------------------------------------- compressors


class GradeLimits(_Strict):
    """GB 19153-2019 grade limits for one machine, kW/(m3/min), entered from the standard's table."""

    grade_1: float = Field(gt=0, le=50, description="Grade 1 (best) limit.")
    grade_2: float = Field(gt=0, le=50, description="Grade 2 limit.")
    grade_3: float = Field(gt=0, le=50, description="Grade 3 limit (the legal minimum).")
    source: str = Field(min_length=1, description="Table/row of GB 19153-2019 the user copied.")

    @model_validator(mode="after")
    def _ordered(self) -> GradeLimits:
        if not self.grade_1 <= self.grade_2 <= self.grade_3:
            raise ValueError("grade limits must satisfy grade_1 <= grade_2 <= grade_3")
        return self


CompressorControl = Literal["load_unload", "vsd", "modulating", "fixed_speed"]


def check_flow_curve(curve: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """A power-to-flow curve: >= 3 points, power and flow both strictly increasing, none negative."""
    if len(curve) < 3:
        raise ValueError(f"a flow curve needs at least 3 points [kW, m3/min], got {len(curve)}")
    for i, (power, flow) in enumerate(curve):
        if power < 0 or flow < 0:
            raise ValueError(f"flow curve point {i} [{power}, {flow}] is negative")
        if i and (power <= curve[i - 1][0] or flow <= curve[i - 1][1]):
            raise ValueError(
                f"flow curve point {i} [{power}, {flow}] does not increase in both power and flow over "
                f"point {i - 1} {list(curve[i - 1])}"
            )
    return curve


class CompressorSpec(_Strict):
    """Nameplate and site data of one air compressor."""

    device: str = Field(min_length=1, description="Device id of the compressor.")
    rated_power_kw: float = Field(gt=0, le=2000, description="Nameplate motor/package power, kW.")
    rated_fad_m3_min: float = Field(gt=0, le=1000, description="Free air delivery at rated pressure.")
    unloaded_power_kw: float | None = Field(
        default=None, ge=0, le=2000, description="Measured unloaded power; default: estimated from data."
    )
    nameplate_specific_power: float | None = Field(
        default=None, gt=0, le=50, description="Data-sheet specific power, kW/(m3/min)."
    )
    grade_limits: GradeLimits | None = Field(default=None, description="GB 19153-2019 limits, if entered.")
    setpoint_bar: float | None = Field(default=None, gt=0, le=40, description="Discharge setpoint, bar(g).")
    control: CompressorControl | None = Field(
        default=None,
        description="How the machine follows demand: load_unload, vsd, modulating or fixed_speed; default: "
        "the device profile's `datasheet.control`, else load_unload (flagged).",
    )
    flow_curve: tuple[tuple[float, float], ...] | None = Field(
        default=None,
        description="Data-sheet (CAGI) points [[package kW, m3/min], ...] of a VSD/modulating machine, "
        ">= 3, both increasing; air is read off it at each interval's mean loaded power when there is no "
        "flow meter. Default: the profile's `datasheet.flow_curve` scaled by the rated values.",
    )
    flow_curve_bar: float | None = Field(
        default=None,
        gt=0,
        le=40,
        description="Discharge pressure the flow curve was measured at, bar(g); with a pressure series, "
        "the loaded power is brought to it (7 % per bar, compressed-air practice) before the curve is read.",
    )

    @field_validator("flow_curve")
    @classmethod
    def _curve(cls, curve: tuple[tuple[float, float], ...] | None) -> tuple[tuple[float, float], ...] | None:
        return None if curve is None else check_flow_curve(curve)

    @model_validator(mode="after")
    def _curve_needs_speed_control(self) -> CompressorSpec:
        if self.flow_curve is not None and self.control in ("load_unload", "fixed_speed"):
            raise ValueError(
                f"flow_curve is for vsd or modulating machines; {self.device} is {self.control} "
                "(its air is loaded hours x rated FAD)"
            )
        return self


class CompressedAirConfig(_Strict):
    """The compressed-air system as a whole (the room's leak and pressure figures)."""

    base_demand_m3_min: float | None = Field(
        default=None,
        ge=0,
        le=10000,
        description="Process air the site uses when nothing is produced (purges, instruments, dryers), "
        "m3/min; the leak is the non-production flow net of it. Absent: the leak is reported as "
        "'leak + base demand'.",
    )
    pressure_band_bar: tuple[float, float] | None = Field(
        default=None, description="The room's [low, high] pressure band, bar(g), shown with the pressure."
    )
    minimum_pressure_bar: float | None = Field(
        default=None,
        gt=0,
        le=40,
        description="Lowest pressure the end uses need at the room, bar(g) (default: required_pressure_bar).",
    )

    @field_validator("pressure_band_bar")
    @classmethod
    def _band(cls, band: tuple[float, float] | None) -> tuple[float, float] | None:
        if band is not None and not 0 < band[0] < band[1] <= 40:
            raise ValueError(
                f"pressure_band_bar must be [low, high] with 0 < low < high <= 40, got {list(band)}"
            )
        return band


# ---------------------------------------------------------------- all


class AnalyticsConfig(_Strict):
    """The analytics section of a site config."""

    timezone: str = Field(default="Asia/Shanghai", min_length=1, description="Site IANA time zone.")
    interval_minutes: int = Field(default=15, ge=1, le=60, description="Length of one energy interval.")
    conversion_factors: dict[Carrier, ConversionFactor] = Field(
        default_factory=default_conversion_factors, description="Standard coal factor per carrier."
    )
    grid_emission: GridEmissionFactor = Field(
        default_factory=GridEmissionFactor, description="Grid CO2 factor."
    )
    tariff: TariffConfig = Field(default_factory=chongqing_industrial_tou, description="Electricity tariff.")
    shifts: tuple[Shift, ...] = Field(default_factory=default_shifts, description="Shift table.")
    production: ProductionConfig = Field(default_factory=ProductionConfig, description="Production.")
    metering: MeteringTargets = Field(default_factory=MeteringTargets, description="Coverage targets.")
    baseline: BaselineOptions = Field(default_factory=BaselineOptions, description="Baseline options.")
    compressors: tuple[CompressorSpec, ...] = Field(default=(), description="Air compressors.")
    required_pressure_bar: float | None = Field(
        default=None, gt=0, le=40, description="Pressure the end uses need at the compressor room, bar(g)."
    )
    compressed_air: CompressedAirConfig = Field(
        default_factory=CompressedAirConfig, description="Base demand and pressure band of the air system."
    )
    temperature: PointSource | None = Field(
        default=None,
        description="Outdoor temperature sensor the live agent records as the `temperature_c` series "
        "(interval mean); absent: temperature comes only from `energy-agent import`.",
    )
    site_meters: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        description="Meters whose sum is the site's energy; default: the roots of the electricity meter "
        "tree (enabled electricity devices without a parent).",
    )
    adjustments: tuple[Adjustment, ...] = Field(
        default=(), description="Non-routine adjustments of the adjusted baseline (IPMVP)."
    )
    rating: RatingFiles = Field(default_factory=RatingFiles, description="Rubric and site rating file.")

    @field_validator("shifts")
    @classmethod
    def _shifts_cover_the_day(cls, shifts: tuple[Shift, ...]) -> tuple[Shift, ...]:
        covered = [0] * (24 * 60)
        for shift in shifts:
            start, end = minutes_of(shift.start), minutes_of(shift.end)
            minutes = range(start, end) if end > start else [*range(start, 1440), *range(0, end)]
            for minute in minutes:
                covered[minute] += 1
        if any(count != 1 for count in covered):
            raise ValueError("shifts must cover every minute of the day exactly once")
        return shifts

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
