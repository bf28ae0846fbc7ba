"""Energy-use intensity: energy per unit of product and per 10,000 yuan of output value.

Every indicator is returned as an `Indicator` (value, unit, method, sources, data completeness), the
shape the rating and the dashboard consume.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from agent.analytics.errors import InsufficientData
from agent.analytics.factors import ComprehensiveEnergy
from agent.config.analytics import ProductionConfig

__all__ = [
    "Indicator",
    "coal_per_output_value",
    "coal_per_unit",
    "eui_per_unit",
    "eui_series",
    "output_value_10k_yuan",
]


@dataclass(frozen=True)
class Indicator:
    """A reported number with its method and sources."""

    name: str
    value: float
    unit: str
    method: str
    sources: list[str] = field(default_factory=list)
    completeness: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive(amount: float, what: str) -> float:
    if not math.isfinite(amount) or amount <= 0:
        raise InsufficientData(f"{what} must be a positive number to divide by (got {amount})")
    return float(amount)


def eui_per_unit(
    energy_kwh: float, production: float, unit: str, *, completeness: float | None = None
) -> Indicator:
    """Electricity per unit of product, kWh/unit."""
    return Indicator(
        name="electricity per unit of product",
        value=energy_kwh / _positive(production, "production"),
        unit=f"kWh/{unit}",
        method="metered electricity / production in the same period",
        completeness=completeness,
    )


def coal_per_unit(
    energy: ComprehensiveEnergy, production: float, unit: str, *, completeness: float | None = None
) -> Indicator:
    """Comprehensive energy per unit of product, kgce/unit."""
    return Indicator(
        name="comprehensive energy per unit of product",
        value=energy.total_kgce / _positive(production, "production"),
        unit=f"kgce/{unit}",
        method="sum of carriers converted to standard coal / production",
        sources=sorted({f.source for f in energy.factors}),
        completeness=completeness,
    )


def coal_per_output_value(
    energy: ComprehensiveEnergy, output_10k_yuan: float, *, completeness: float | None = None
) -> Indicator:
    """Comprehensive energy per 10,000 yuan of industrial output value, tce/10^4 yuan."""
    return Indicator(
        name="comprehensive energy per output value",
        value=energy.total_tce / _positive(output_10k_yuan, "output value"),
        unit="tce/10^4 yuan",
        method="comprehensive energy consumption (tce) / industrial output value (10^4 yuan)",
        sources=sorted({f.source for f in energy.factors}),
        completeness=completeness,
    )


def eui_series(energy_kwh: pd.Series, production: pd.Series) -> pd.Series:
    """kWh per unit for each period; NaN where nothing was produced (not infinity)."""
    produced = production.where(production > 0)
    return (energy_kwh / produced).rename("kwh_per_unit")


def output_value_10k_yuan(month: str, production_units: float, config: ProductionConfig) -> float:
    """Output value of a month: the user's entry if present, else production x value per unit."""
    for entry in config.output_value:
        if entry.month == month:
            return entry.value_10k_yuan
    if config.output_value_yuan_per_unit is None:
        raise InsufficientData(
            f"no output value for {month}: enter production.output_value or output_value_yuan_per_unit"
        )
    return production_units * config.output_value_yuan_per_unit / 10_000.0
