"""Standard coal (GB/T 2589-2020) and CO2 (grid factor) with the factors and sources attached.

Comprehensive energy consumption sums every carrier converted to standard coal; each result keeps the
factors it used so a report can print "method + source" next to every number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.analytics.errors import AnalyticsError
from agent.config.analytics import Carrier, ConversionFactor, GridEmissionFactor, default_conversion_factors

__all__ = [
    "Co2Result",
    "ComprehensiveEnergy",
    "FactorUsed",
    "co2_from_electricity",
    "comprehensive_energy",
]


@dataclass(frozen=True)
class FactorUsed:
    """One conversion factor as applied: what, how much, and where it comes from."""

    name: str
    value: float
    unit: str
    source: str
    confirmed: bool = True


@dataclass(frozen=True)
class ComprehensiveEnergy:
    """Comprehensive energy consumption: per-carrier quantities and kgce, the tce total, factors."""

    quantities: dict[str, float]
    kgce: dict[str, float]
    factors: list[FactorUsed] = field(default_factory=list)

    @property
    def total_kgce(self) -> float:
        return sum(self.kgce.values())

    @property
    def total_tce(self) -> float:
        return self.total_kgce / 1000.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_kgce": self.total_kgce, "total_tce": self.total_tce}


def comprehensive_energy(
    quantities: Mapping[Carrier | str, float],
    factors: Mapping[Carrier, ConversionFactor] | None = None,
) -> ComprehensiveEnergy:
    """Convert carrier quantities (in each factor's unit: kWh, m3, kg ...) to standard coal."""
    table = dict(factors) if factors is not None else default_conversion_factors()
    kgce: dict[str, float] = {}
    used: list[FactorUsed] = []
    for raw_carrier, quantity in quantities.items():
        try:
            carrier = Carrier(raw_carrier)
        except ValueError as exc:
            raise AnalyticsError(f"unknown energy carrier {raw_carrier!r}") from exc
        if carrier not in table:
            raise AnalyticsError(f"no standard-coal factor configured for {carrier.value!r}")
        factor = table[carrier]
        kgce[carrier.value] = float(quantity) * factor.kgce_per_unit
        used.append(
            FactorUsed(
                name=f"{carrier.value} -> standard coal",
                value=factor.kgce_per_unit,
                unit=f"kgce/{factor.unit}",
                source=factor.source,
                confirmed=factor.confirmed,
            )
        )
    quantities_out = {Carrier(c).value: float(q) for c, q in quantities.items()}
    return ComprehensiveEnergy(quantities=quantities_out, kgce=kgce, factors=used)


@dataclass(frozen=True)
class Co2Result:
    """Indirect CO2 of purchased electricity."""

    kwh: float
    tco2: float
    factor: FactorUsed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def co2_from_electricity(kwh: float, grid: GridEmissionFactor | None = None) -> Co2Result:
    """tCO2 = kWh x grid factor (kgCO2/kWh) / 1000."""
    grid = grid or GridEmissionFactor()
    factor = FactorUsed(
        name=f"grid CO2 ({grid.region}, {grid.data_year})",
        value=grid.kgco2_per_kwh,
        unit="kgCO2/kWh",
        source=grid.source,
        confirmed=grid.confirmed,
    )
    return Co2Result(kwh=float(kwh), tco2=float(kwh) * grid.kgco2_per_kwh / 1000.0, factor=factor)
