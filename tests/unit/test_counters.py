"""Counter tracking and interval energy: rollover, reset, glitch and spike never distort totals."""

from __future__ import annotations

import pytest

from agent.config.profile import CounterSpec, NumericPoint
from agent.readings.counters import CounterLimits, CounterTracker, counter_limits
from agent.readings.derived import SPECIFIC_POWER_POINT, derive_readings
from agent.readings.intervals import IntervalAccumulator
from agent.readings.model import Reading

LIMITS = CounterLimits(rollover=1000.0, max_rate_per_h=100.0)  # 100 kW: 25 kWh per 15 min at most


def feed(
    tracker: CounterTracker, values: list[float], step_s: float = 900.0
) -> list[tuple[str, str | None, float]]:
    out = []
    for i, value in enumerate(values):
        update = tracker.update(i * step_s, value)
        out.append((update.quality, update.reason, round(update.delta, 6)))
    return out


def test_steady_counter_gives_plain_deltas() -> None:
    tracker = CounterTracker(LIMITS)
    assert feed(tracker, [10, 20, 35]) == [("good", None, 0), ("good", None, 10), ("good", None, 15)]
    assert tracker.total == pytest.approx(25)


def test_rollover_becomes_the_wrapped_delta() -> None:
    tracker = CounterTracker(LIMITS)
    verdicts = feed(tracker, [990, 5, 15])
    assert verdicts[1] == ("good", "counter_rollover", 15)
    assert tracker.total == pytest.approx(25)


def test_zero_glitch_is_bad_and_nothing_is_lost() -> None:
    tracker = CounterTracker(LIMITS)
    verdicts = feed(tracker, [100, 110, 0, 130])
    assert verdicts[2] == ("bad", "counter_drop", 0)
    assert verdicts[3] == ("good", None, 20)
    assert tracker.total == pytest.approx(30)


def test_meter_reset_starts_a_new_segment() -> None:
    tracker = CounterTracker(LIMITS)
    verdicts = feed(tracker, [500, 510, 3, 12, 20])
    assert verdicts[2] == ("bad", "counter_drop", 0)
    assert verdicts[3] == ("good", "counter_reset", 12)  # counted since zero
    assert verdicts[4] == ("good", None, 8)
    assert tracker.total == pytest.approx(10 + 12 + 8)


def test_reset_to_idle_meter_that_stays_at_zero() -> None:
    tracker = CounterTracker(LIMITS)
    assert feed(tracker, [500, 0, 0, 0])[2:] == [("good", "counter_reset", 0), ("good", None, 0)]


def test_spike_above_rated_power_is_a_glitch() -> None:
    tracker = CounterTracker(LIMITS)
    verdicts = feed(tracker, [100, 900, 120])
    assert verdicts[1] == ("bad", "glitch", 0)
    assert verdicts[2] == ("good", None, 20)
    assert tracker.total == pytest.approx(20)


def test_two_readings_agreeing_on_a_higher_track_start_a_new_segment() -> None:
    tracker = CounterTracker(CounterLimits(max_rate_per_h=100.0))
    verdicts = feed(tracker, [100, 5000, 5010, 5020])
    assert verdicts[1] == ("bad", "glitch", 0)
    assert verdicts[2] == ("good", "counter_jump", 10)
    assert verdicts[3] == ("good", None, 10)


def test_float_counter_without_rollover_treats_a_drop_as_suspect() -> None:
    tracker = CounterTracker(CounterLimits(max_rate_per_h=100.0))
    assert feed(tracker, [999.0, 1.0])[1] == ("bad", "counter_drop", 0)


def point(**kw: object) -> NumericPoint:
    base: dict[str, object] = {"name": "energy_kwh", "function": "input", "address": 0, "kind": "counter"}
    return NumericPoint.model_validate(base | kw)


def test_limits_from_profile_point_and_rated_power() -> None:
    limits = counter_limits(point(dtype="uint32", scale=0.1, unit="kWh"), rated_power_kw=75)
    assert limits.rollover == pytest.approx(2**32 * 0.1)
    assert limits.max_rate_per_h == 75
    spec = point(dtype="uint32", scale=0.1, unit="kWh", counter=CounterSpec(rollover=1e6, max_rate_per_h=9))
    assert counter_limits(spec, rated_power_kw=75).rollover == 1e6
    assert counter_limits(spec, rated_power_kw=75).max_rate_per_h == 9
    hours = counter_limits(point(dtype="float32", unit="h"), rated_power_kw=75)
    assert (hours.rollover, hours.max_rate_per_h) == (None, None)


def test_interval_energy_splits_a_span_across_buckets_by_time() -> None:
    acc = IntervalAccumulator("m1", "counter", bucket_s=900)
    acc.observe(0)
    acc.add_energy(600, 1200, 6.0)  # half in [0, 900), half in [900, 1800)
    acc.add_energy(1200, 1800, 4.0)
    closed = acc.close_until(1800)
    assert [(r.start, round(r.kwh, 6), r.quality) for r in closed] == [
        (0, 3.0, "partial"),
        (900, 7.0, "good"),
    ]
    assert closed[0].completeness == pytest.approx(1 / 3, abs=1e-3)
    assert acc.close_until(1800) == []


def test_integrated_power_is_the_trapezoid_and_flagged() -> None:
    acc = IntervalAccumulator("c1", "integrated", bucket_s=900)
    acc.observe(0)
    for ts, kw in [(0, 40.0), (450, 60.0), (900, 60.0)]:
        acc.add_power(ts, kw)
    (record,) = acc.close_until(900)
    assert record.kwh == pytest.approx((50 * 450 + 60 * 450) / 3600)
    assert (record.method, record.quality, record.completeness) == ("integrated", "integrated", 1.0)


def test_specific_power_is_power_over_free_air_delivery() -> None:
    good = [Reading("active_power_kw", 55.0, "kW"), Reading("fad_m3_min", 10.0, "m3/min")]
    (derived,) = derive_readings(good, "active_power_kw", "fad_m3_min")
    assert (derived.point, derived.value, derived.quality) == (SPECIFIC_POWER_POINT, 5.5, "good")
    unloaded = [Reading("active_power_kw", 12.0, "kW"), Reading("fad_m3_min", 0.0, "m3/min")]
    assert derive_readings(unloaded, "active_power_kw", "fad_m3_min")[0].reason == "no_air_delivery"
    assert derive_readings(good, "active_power_kw", None) == []
