"""Time-of-use electricity cost, vectorised: a lookup table month x minute-of-day -> period.

An interval is priced by the period its local *start* falls in (15-minute intervals never straddle a
band edge of an hourly tariff). Price = floating flat price x period ratio + fixed adders (see
`TariffConfig.price`), so a change of the market price moves all periods consistently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from agent.analytics.errors import AnalyticsError
from agent.config.analytics import TariffConfig, TariffPeriod, minutes_of

__all__ = [
    "PERIODS",
    "TariffCost",
    "classify",
    "cost",
    "effective_price",
    "period_table",
    "price_table",
]

PERIODS: tuple[TariffPeriod, ...] = (
    TariffPeriod.VALLEY,
    TariffPeriod.FLAT,
    TariffPeriod.PEAK,
    TariffPeriod.CRITICAL,
)
_CODE = {period: code for code, period in enumerate(PERIODS)}


def period_table(tariff: TariffConfig) -> np.ndarray:
    """int8 array [month 0-11, minute 0-1439] of period codes (index into PERIODS)."""
    table = np.full((12, 1440), -1, dtype=np.int8)
    for season in tariff.seasons:
        for band in season.bands:
            rows = np.array(season.months) - 1
            table[np.ix_(rows, np.arange(minutes_of(band.start), minutes_of(band.end)))] = _CODE[band.period]
    if tariff.critical_peak is not None:
        rows = np.array(tariff.critical_peak.months) - 1
        for band in tariff.critical_peak.bands:
            cols = np.arange(minutes_of(band.start), minutes_of(band.end))
            table[np.ix_(rows, cols)] = _CODE[TariffPeriod.CRITICAL]
    return table


def price_table(tariff: TariffConfig) -> np.ndarray:
    """float array [month 0-11, period code] of yuan/kWh."""
    return np.array([[tariff.price(p, month) for p in PERIODS] for month in range(1, 13)])


def _local_parts(index: pd.Index, tz: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise AnalyticsError("tariff: energy index must be a tz-aware DatetimeIndex (UTC interval starts)")
    local = index.tz_convert(tz)
    return np.asarray(local.month) - 1, np.asarray(local.hour * 60 + local.minute)


def classify(index: pd.Index, tariff: TariffConfig, tz: str) -> pd.Series:
    """TOU period name of each interval start."""
    month, minute = _local_parts(index, tz)
    codes = period_table(tariff)[month, minute]
    names = np.array([p.value for p in PERIODS], dtype=object)
    return pd.Series(names[codes], index=index, name="period")


@dataclass(frozen=True)
class TariffCost:
    """Cost of interval energy: per interval (same shape as the input) and kWh / yuan per period."""

    yuan: pd.DataFrame
    by_period: pd.DataFrame
    tariff: str
    source: str

    @property
    def total_yuan(self) -> float:
        return float(self.by_period["yuan"].sum())

    @property
    def total_kwh(self) -> float:
        return float(self.by_period["kwh"].sum())


def cost(energy_kwh: pd.DataFrame | pd.Series, tariff: TariffConfig, tz: str) -> TariffCost:
    """Price every interval of a wide kWh frame; NaN (missing) intervals cost nothing."""
    data = energy_kwh.to_frame() if isinstance(energy_kwh, pd.Series) else energy_kwh
    month, minute = _local_parts(data.index, tz)
    codes = period_table(tariff)[month, minute]
    prices = price_table(tariff)[month, codes]
    values = data.to_numpy(dtype=float)
    yuan = values * prices[:, None]
    kwh_total = np.nansum(values, axis=1)
    yuan_total = np.nansum(yuan, axis=1)
    rows = {
        p.value: (kwh_total[codes == c].sum(), yuan_total[codes == c].sum()) for c, p in enumerate(PERIODS)
    }
    by_period = pd.DataFrame.from_dict(rows, orient="index", columns=["kwh", "yuan"])
    by_period.index.name = "period"
    frame = pd.DataFrame(yuan, index=data.index, columns=data.columns)
    return TariffCost(yuan=frame, by_period=by_period, tariff=tariff.name, source=tariff.source)


def effective_price(energy_kwh: pd.DataFrame | pd.Series, tariff: TariffConfig, tz: str) -> float:
    """Average yuan/kWh of a load shape: used to value savings known only per day or month."""
    result = cost(energy_kwh, tariff, tz)
    if result.total_kwh <= 0:
        raise AnalyticsError("effective_price: the load shape has no energy")
    return result.total_yuan / result.total_kwh
