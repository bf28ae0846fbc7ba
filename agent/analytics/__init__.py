"""Energy analytics: pure functions and estimators on pandas/numpy data (no I/O, no asyncio).

Interval energy -> calendar/shift aggregates and completeness -> EUI, standard coal, CO2, TOU cost ->
baseline model (IPMVP B/C, ASHRAE Guideline 14) -> savings with uncertainty; compressed-air KPIs.
Methods and sources: docs/analytics.md.
"""

from agent.analytics.baseline import (
    Acceptance,
    BaselineModel,
    Check,
    FitStats,
    ModelKind,
    accept,
    cv_rmse_limit,
    fit,
)
from agent.analytics.compressors import Advice, CompressorKpis, RoomKpis, compressor_kpis, grade, room_kpis
from agent.analytics.errors import AnalyticsError, InsufficientData
from agent.analytics.eui import (
    Indicator,
    coal_per_output_value,
    coal_per_unit,
    eui_per_unit,
    eui_series,
    output_value_10k_yuan,
)
from agent.analytics.factors import (
    Co2Result,
    ComprehensiveEnergy,
    FactorUsed,
    co2_from_electricity,
    comprehensive_energy,
)
from agent.analytics.intervals import (
    Completeness,
    Freq,
    MeterTree,
    aggregate,
    aggregate_by_shift,
    completeness,
    configuration_rate,
    daily_frame,
    shift_labels,
    to_wide,
)
from agent.analytics.savings import (
    NonRoutineAdjustment,
    SavingsResult,
    SavingsValue,
    Uncertainty,
    absolute_uncertainty,
    fractional_savings_uncertainty,
    savings,
    value_savings,
)
from agent.analytics.tariff import TariffCost, classify, cost, effective_price

__all__ = [
    "Acceptance",
    "Advice",
    "AnalyticsError",
    "BaselineModel",
    "Check",
    "Co2Result",
    "Completeness",
    "ComprehensiveEnergy",
    "CompressorKpis",
    "FactorUsed",
    "FitStats",
    "Freq",
    "Indicator",
    "InsufficientData",
    "MeterTree",
    "ModelKind",
    "NonRoutineAdjustment",
    "RoomKpis",
    "SavingsResult",
    "SavingsValue",
    "TariffCost",
    "Uncertainty",
    "absolute_uncertainty",
    "accept",
    "aggregate",
    "aggregate_by_shift",
    "classify",
    "co2_from_electricity",
    "coal_per_output_value",
    "coal_per_unit",
    "completeness",
    "comprehensive_energy",
    "compressor_kpis",
    "configuration_rate",
    "cost",
    "cv_rmse_limit",
    "daily_frame",
    "effective_price",
    "eui_per_unit",
    "eui_series",
    "fit",
    "fractional_savings_uncertainty",
    "grade",
    "output_value_10k_yuan",
    "room_kpis",
    "savings",
    "shift_labels",
    "to_wide",
    "value_savings",
]
