"""A temperature-only site with a known efficiency saving, built for a seed and a saving share.

An office-like building: HVAC (cooling above 18 degC, heating below 13 degC) and lighting/plug loads
that follow a weekday 08:00-18:00 schedule, one main meter, no production counter: outdoor
temperature and the time of week are the only drivers. After `baseline_days` an efficiency measure
cuts every load by `savings_fraction`, so the true saving is that share of the counterfactual exactly
(truth.json: `true_savings_fraction_after_retrofit`). Used by bench/mv_validation.py and
tests/unit/test_mv_hourly.py.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from simulators.scenario import Bus, Calendar, DeviceSpec, LoadSpec, Retrofit, Scenario, Shift, Weather

__all__ = ["temperature_only_site"]


def temperature_only_site(
    seed: int,
    savings_fraction: float,
    *,
    first_day: date = date(2024, 1, 1),
    baseline_days: int = 365,
    utc_offset_h: float = 8.0,
    step_s: int = 300,
) -> Scenario:
    """The scenario; its retrofit starts `baseline_days` after `first_day` (local midnight)."""
    loads = (
        LoadSpec(name="hvac", base_kw=6.0, production_kw=8.0, cooling_kw_per_c=3.0, cooling_balance_c=18.0,
                 heating_kw_per_c=2.2, heating_balance_c=13.0, power_factor=0.88, noise=0.06),
        LoadSpec(name="lighting_plugs", base_kw=9.0, production_kw=42.0, power_factor=0.95, noise=0.05),
    )  # fmt: skip
    return Scenario(
        name=f"temperature_only_{seed}",
        description="Temperature-only site (no production) with an efficiency retrofit of known size.",
        seed=seed,
        start=datetime.combine(first_day, time(), timezone(timedelta(hours=utc_offset_h))),
        utc_offset_h=utc_offset_h,
        step_s=step_s,
        calendar=Calendar(
            shifts=(Shift(start=time(8), end=time(18), level=1.0),),
            night_level=0.0,
            working_weekdays=(0, 1, 2, 3, 4),
            weekend_level=0.15,
            daily_variation=0.04,
        ),
        weather=Weather(
            annual_mean_c=16.5, annual_amplitude_c=11.0, daily_amplitude_c=5.0, day_to_day_sd_c=2.5
        ),
        loads=loads,
        retrofit=Retrofit(
            date=first_day + timedelta(days=baseline_days),
            sequencing=False,
            load_savings={load.name: savings_fraction for load in loads},
        ),
        buses=(
            Bus(
                name="gateway",
                transport="tcp",
                devices=(
                    DeviceSpec(
                        name="main_meter",
                        unit_id=1,
                        profile="eastron/sdm630",
                        kind="meter",
                        measures=("site",),
                    ),
                ),
            ),
        ),
    )
