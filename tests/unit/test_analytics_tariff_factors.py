import pandas as pd
import pytest
from pydantic import ValidationError

from agent.analytics import (
    AnalyticsError,
    InsufficientData,
    classify,
    co2_from_electricity,
    coal_per_output_value,
    coal_per_unit,
    comprehensive_energy,
    cost,
    effective_price,
    eui_per_unit,
    eui_series,
    output_value_10k_yuan,
)
from agent.config.analytics import (
    AnalyticsConfig,
    GridEmissionFactor,
    MeteringTargets,
    OutputValueEntry,
    ProductionConfig,
    TariffBand,
    TariffConfig,
    TariffPeriod,
    TariffSeason,
    chongqing_industrial_tou,
)

TZ = "Asia/Shanghai"
FLAT, PEAK, VALLEY = 0.762307, 1.133067, 0.379188  # State Grid Chongqing, Feb 2025, 1-10 kV two-part


def one_day(local_date: str) -> pd.DatetimeIndex:
    return pd.date_range(local_date, periods=96, freq="15min", tz=TZ).tz_convert("UTC")


def test_default_tariff_reproduces_the_published_prices() -> None:
    tariff = chongqing_industrial_tou()
    assert tariff.price(TariffPeriod.FLAT, 3) == pytest.approx(FLAT, abs=1e-6)
    assert tariff.price(TariffPeriod.PEAK, 3) == pytest.approx(PEAK, abs=1e-6)
    assert tariff.price(TariffPeriod.VALLEY, 3) == pytest.approx(VALLEY, abs=2e-6)


def test_flat_1kw_load_over_a_march_day_costs_the_hand_computed_sum() -> None:
    # March: no critical peak. valley 8 h, flat 3+3+2 = 8 h, peak 6+2 = 8 h, 1 kWh per hour.
    result = cost(pd.Series(0.25, index=one_day("2025-03-10"), name="m"), chongqing_industrial_tou(), TZ)
    assert result.by_period["kwh"].to_dict() == {"valley": 8.0, "flat": 8.0, "peak": 8.0, "critical": 0.0}
    assert result.total_yuan == pytest.approx(8 * VALLEY + 8 * FLAT + 8 * PEAK, abs=1e-4)


def test_critical_peak_takes_12_to_14_out_of_peak_in_july() -> None:
    tariff = chongqing_industrial_tou()
    result = cost(pd.Series(0.25, index=one_day("2025-07-10"), name="m"), tariff, TZ)
    floating = tariff.floating_flat_yuan_per_kwh
    critical = floating * 1.6 * 1.2 + tariff.fixed_adder_yuan_per_kwh
    assert result.by_period.loc["critical", "kwh"] == 2.0
    assert result.by_period.loc["peak", "kwh"] == 6.0
    assert result.total_yuan == pytest.approx(8 * VALLEY + 8 * FLAT + 6 * PEAK + 2 * critical, abs=1e-4)


def test_fixed_adders_are_not_multiplied_by_the_ratios() -> None:
    tariff = chongqing_industrial_tou()
    peak_minus_flat = tariff.price(TariffPeriod.PEAK, 3) - tariff.price(TariffPeriod.FLAT, 3)
    assert peak_minus_flat == pytest.approx(0.6 * tariff.floating_flat_yuan_per_kwh)


def test_classify_uses_local_time() -> None:
    periods = classify(one_day("2025-03-10"), chongqing_industrial_tou(), TZ)
    assert periods.iloc[0] == "valley"  # 00:00 local is 16:00 UTC the day before
    assert periods.iloc[4 * 11] == "peak"
    assert periods.iloc[4 * 22] == "flat"


def test_seasons_must_cover_every_month() -> None:
    day = (TariffBand(start="00:00", end="24:00", period=TariffPeriod.FLAT),)
    with pytest.raises(ValidationError, match="every month"):
        TariffConfig(
            name="x",
            source="y",
            floating_flat_yuan_per_kwh=0.5,
            fixed_adder_yuan_per_kwh=0.1,
            seasons=(TariffSeason(name="summer", months=(6, 7, 8), bands=day),),
        )


def test_season_with_a_gap_in_the_day_is_refused() -> None:
    with pytest.raises(ValidationError, match="gap"):
        TariffSeason(
            name="s",
            months=(1,),
            bands=(
                TariffBand(start="00:00", end="08:00", period=TariffPeriod.VALLEY),
                TariffBand(start="09:00", end="24:00", period=TariffPeriod.FLAT),
            ),
        )


def test_effective_price_of_a_flat_load_is_the_daily_average() -> None:
    price = effective_price(pd.Series(0.25, index=one_day("2025-03-10")), chongqing_industrial_tou(), TZ)
    assert price == pytest.approx((VALLEY + FLAT + PEAK) / 3, abs=1e-5)


def test_naive_index_is_refused() -> None:
    with pytest.raises(AnalyticsError, match="tz-aware"):
        cost(pd.Series([1.0], index=pd.DatetimeIndex(["2025-01-01"])), chongqing_industrial_tou(), TZ)


def test_comprehensive_energy_sums_carriers_with_gbt2589_factors() -> None:
    total = comprehensive_energy({"electricity": 1_000_000.0, "natural_gas": 10_000.0})
    assert total.kgce["electricity"] == pytest.approx(122_900.0)
    assert total.kgce["natural_gas"] == pytest.approx(12_143.0)
    assert total.total_tce == pytest.approx(135.043)
    assert all("GB/T 2589-2020" in f.source for f in total.factors)


def test_unknown_carrier_is_named() -> None:
    with pytest.raises(AnalyticsError, match="'plutonium'"):
        comprehensive_energy({"plutonium": 1.0})


def test_co2_uses_the_national_default_or_a_provincial_factor() -> None:
    assert co2_from_electricity(1000.0).tco2 == pytest.approx(0.5306)
    chongqing = GridEmissionFactor(
        kgco2_per_kwh=0.5581, region="Chongqing", source="MEE 2023", confirmed=False
    )
    result = co2_from_electricity(1000.0, chongqing)
    assert result.tco2 == pytest.approx(0.5581)
    assert not result.factor.confirmed


def test_eui_indicators_carry_units_and_sources() -> None:
    energy = comprehensive_energy({"electricity": 100_000.0})
    assert eui_per_unit(100_000.0, 400.0, "t").value == 250.0
    per_unit = coal_per_unit(energy, 400.0, "t")
    assert per_unit.value == pytest.approx(30.725)
    assert per_unit.unit == "kgce/t"
    per_value = coal_per_output_value(energy, 500.0)
    assert per_value.value == pytest.approx(12.29 / 500.0)
    assert per_value.unit == "tce/10^4 yuan"
    assert per_value.sources


def test_eui_refuses_zero_production_and_series_gives_nan() -> None:
    with pytest.raises(InsufficientData, match="production"):
        eui_per_unit(10.0, 0.0, "t")
    series = eui_series(pd.Series([10.0, 10.0]), pd.Series([5.0, 0.0]))
    assert series.iloc[0] == 2.0
    assert pd.isna(series.iloc[1])


def test_output_value_prefers_the_monthly_entry() -> None:
    config = ProductionConfig(
        output_value_yuan_per_unit=2000.0,
        output_value=(OutputValueEntry(month="2025-01", value_10k_yuan=123.0),),
    )
    assert output_value_10k_yuan("2025-01", 10.0, config) == 123.0
    assert output_value_10k_yuan("2025-02", 10.0, config) == 2.0
    with pytest.raises(InsufficientData, match="2025-03"):
        output_value_10k_yuan("2025-03", 1.0, ProductionConfig())


def test_new_metering_edition_needs_its_own_table() -> None:
    with pytest.raises(ValidationError, match="enter its target table"):
        MeteringTargets(edition="GB 17167-2025")
    assert MeteringTargets(edition="GB 17167-2025", targets={"electricity": (1.0, 1.0, 0.9)})


def test_analytics_config_rejects_unknown_fields_and_time_zones() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        AnalyticsConfig(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="Extra inputs"):
        AnalyticsConfig.model_validate({"tarif": {}})
    assert AnalyticsConfig().tariff.critical_peak is not None
