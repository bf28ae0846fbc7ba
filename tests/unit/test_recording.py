"""Live readings become interval series: counters summed, gauges averaged, states integrated."""

from __future__ import annotations

import pytest

from agent.readings.counters import CounterLimits
from agent.readings.recording import CounterSeries, GaugeSeries, SeriesInterval, StateSeries, combine

B = 900.0


def by_start(intervals: list[SeriesInterval], name: str | None = None) -> dict[float, SeriesInterval]:
    return {i.start: i for i in intervals if name is None or i.name == name}


def test_counter_increments_are_shared_out_by_time_and_converted_by_the_factor() -> None:
    series = CounterSeries("production", CounterLimits(), factor=0.5e-6, bucket_s=B)
    for ts, units in ((0, 1000), (600, 7000), (1200, 13000), (1800, 19000)):
        series.add(ts, units)
    got = by_start(series.close_until(1800))
    # 0..600 and half of 600..1200 fall in the first bucket: 6000 + 3000 tablets
    assert got[0].value == pytest.approx(9000 * 0.5e-6)
    assert got[900].value == pytest.approx(9000 * 0.5e-6)
    assert (got[0].quality, got[0].completeness) == ("good", 1.0)
    assert sum(i.value for i in got.values()) == pytest.approx(18000 * 0.5e-6)


def test_a_counter_rollover_and_a_reset_count_exactly_what_was_produced() -> None:
    series = CounterSeries("units", CounterLimits(rollover=10_000, max_rate_per_h=100_000), 1.0, B)
    readings = [(0, 9_000), (300, 9_800), (600, 600), (900, 1_400), (1200, 100), (1500, 900), (1800, 1_700)]
    for ts, value in readings:
        series.add(ts, value)
    got = series.close_until(1800)
    # 800 + 800 (through the wrap) + 800, then a reset: the drop is held, then 900 since zero + 800
    assert sum(i.value for i in got) == pytest.approx(800 + 800 + 800 + 900 + 800)


def test_a_bucket_the_device_was_silent_for_is_bad_not_zero_production() -> None:
    series = CounterSeries("units", CounterLimits(), 1.0, B)
    series.add(0, 0)
    series.add(300, 30)
    got = by_start(series.close_until(2700))  # polls failed after 300 s; time went on
    assert (got[0].quality, got[0].completeness) == ("partial", pytest.approx(300 / 900, abs=1e-4))
    assert (got[900].quality, got[1800].quality) == ("bad", "bad")


def test_pressure_mean_is_time_weighted_and_the_minimum_is_the_lowest_sample() -> None:
    series = GaugeSeries("p", B, min_name="p_min")
    for ts, bar in ((0, 7.0), (300, 7.6), (600, 7.0), (900, 7.6)):
        series.add(ts, bar)
    got = series.close_until(900)
    mean, low = by_start(got, "p")[0], by_start(got, "p_min")[0]
    assert mean.value == pytest.approx(7.3)
    assert low.value == pytest.approx(7.0)
    assert mean.quality == "good"


def test_a_gauge_gap_is_not_bridged_and_lowers_completeness() -> None:
    series = GaugeSeries("t", B, factor=1.0)
    series.add(0, 10.0)
    series.add(300, 12.0)
    series.gap()  # the point was bad at 600
    series.add(900, 20.0)
    got = by_start(series.close_until(900))
    assert got[0].value == pytest.approx(11.0)
    assert got[0].completeness == pytest.approx(300 / 900, abs=1e-4)
    assert got[0].quality == "partial"


def test_an_air_flow_rate_is_integrated_into_cubic_metres() -> None:
    series = GaugeSeries("ac1.air_m3", B, mode="integral", factor=1 / 60)  # m3/min
    for ts in range(0, 901, 60):
        series.add(ts, 12.0)
    (got,) = series.close_until(900)
    assert got.value == pytest.approx(12.0 * 15)


def test_state_samples_hold_until_the_next_and_become_loaded_and_running_hours() -> None:
    series = StateSeries("ac1.loaded_h", "ac1.running_h", frozenset({2}), frozenset({1}), B)
    for ts, state in ((0, 2), (300, 1), (600, 0), (900, 2)):
        series.add(ts, state)
    got = series.close_until(900)
    assert by_start(got, "ac1.loaded_h")[0].value == pytest.approx(300 / 3600)
    assert by_start(got, "ac1.running_h")[0].value == pytest.approx(600 / 3600)


def test_sources_of_one_series_add_up_and_the_least_complete_sets_the_quality() -> None:
    parts = [SeriesInterval("p", 0, B, 2.0, "good", 1.0), SeriesInterval("p", 0, B, 1.0, "partial", 0.5)]
    assert combine(parts) == SeriesInterval("p", 0, B, 3.0, "partial", 0.5)
