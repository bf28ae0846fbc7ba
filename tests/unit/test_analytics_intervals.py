import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from agent.analytics import (
    AnalyticsError,
    MeterTree,
    aggregate,
    aggregate_by_shift,
    completeness,
    configuration_rate,
    daily_frame,
    to_wide,
)
from agent.config.analytics import AnalyticsConfig, Shift, default_shifts

TZ = "Asia/Shanghai"


def quarter_hours(start_local: str, periods: int) -> pd.DatetimeIndex:
    return pd.date_range(start_local, periods=periods, freq="15min", tz=TZ).tz_convert("UTC")


def test_long_rows_become_a_wide_frame_with_bad_quality_as_nan() -> None:
    long = pd.DataFrame(
        {
            "ts": ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z"],
            "device": ["m1", "m2", "m1"],
            "kwh": [1.0, 2.0, 3.0],
            "quality": ["good", "bad", "good"],
        }
    )
    wide = to_wide(long)
    assert list(wide.columns) == ["m1", "m2"]
    assert str(wide.index.tz) == "UTC"
    assert wide.loc[pd.Timestamp("2025-01-01T00:15Z"), "m1"] == 3.0
    assert np.isnan(wide.loc[pd.Timestamp("2025-01-01T00:00Z"), "m2"])


def test_missing_column_is_named() -> None:
    with pytest.raises(AnalyticsError, match="'kwh'"):
        to_wide(pd.DataFrame({"ts": [], "device": []}))


def test_days_are_local_days_not_utc_days() -> None:
    index = quarter_hours("2025-03-01 00:00", 96 * 2)
    daily = aggregate(pd.DataFrame({"m": 1.0}, index=index), "day", TZ)
    assert list(daily.index.astype(str)) == ["2025-03-01", "2025-03-02"]
    assert daily["m"].tolist() == [96.0, 96.0]


@pytest.mark.parametrize(("freq", "expected"), [("hour", 48), ("week", 1), ("month", 1)])
def test_aggregate_period_counts(freq: str, expected: int) -> None:
    index = quarter_hours("2025-03-03 00:00", 96 * 2)  # a Monday
    out = aggregate(pd.DataFrame({"m": 1.0}, index=index), freq, TZ)  # type: ignore[arg-type]
    assert len(out) == expected
    assert out["m"].sum() == 192.0


def test_completeness_counts_holes() -> None:
    index = quarter_hours("2025-03-01 00:00", 96 * 2)
    values = np.ones(len(index))
    values[10:20] = np.nan  # ten missing quarter hours on the first day
    report = completeness(pd.Series(values, index=index, name="m"), "day", TZ)
    assert report.expected.tolist() == [96.0, 96.0]
    assert report.present["m"].tolist() == [86.0, 96.0]
    assert report.missing()["m"].tolist() == [10.0, 0.0]
    assert report.share["m"].iloc[0] == pytest.approx(86 / 96)


def test_completeness_knows_a_dst_day_has_92_intervals() -> None:
    index = pd.date_range("2025-03-30", periods=92, freq="15min", tz="Europe/Berlin").tz_convert("UTC")
    report = completeness(pd.Series(1.0, index=index), "day", "Europe/Berlin")
    assert report.expected.tolist() == [92.0]
    assert report.share.iloc[0, 0] == 1.0


def test_night_shift_belongs_to_the_day_it_started() -> None:
    shifts = (Shift(name="day", start="08:00", end="20:00"), Shift(name="night", start="20:00", end="08:00"))
    index = quarter_hours("2025-03-01 08:00", 96)
    out = aggregate_by_shift(pd.Series(1.0, index=index, name="m"), shifts, TZ)
    assert out.loc[(pd.Timestamp("2025-03-01"), "day"), "m"] == 48.0
    assert out.loc[(pd.Timestamp("2025-03-01"), "night"), "m"] == 48.0
    assert len(out) == 2


def test_default_three_shifts_split_a_day_in_thirds() -> None:
    out = aggregate_by_shift(pd.Series(1.0, index=quarter_hours("2025-03-01", 96)), default_shifts(), TZ)
    assert out.iloc[:, 0].tolist() == [32.0, 32.0, 32.0]


def test_shift_table_with_a_gap_is_refused() -> None:
    shifts = (Shift(name="A", start="08:00", end="16:00"),)
    with pytest.raises(AnalyticsError, match="uncovered"):
        aggregate_by_shift(pd.Series(1.0, index=quarter_hours("2025-03-01", 4)), shifts, TZ)


def test_config_refuses_overlapping_shifts() -> None:
    overlapping = [Shift(name="A", start="00:00", end="13:00"), Shift(name="B", start="12:00", end="24:00")]
    with pytest.raises(ValidationError, match="exactly once"):
        AnalyticsConfig(shifts=overlapping)


def test_daily_frame_has_the_baseline_columns() -> None:
    index = quarter_hours("2025-03-01", 96)
    energy = pd.Series(1.0, index=index).mask(np.arange(96) < 48)
    out = daily_frame(
        energy, TZ, production=pd.Series(0.5, index=index), temperature_c=pd.Series(20.0, index=index)
    )
    assert out.iloc[0].to_dict() == {
        "energy_kwh": 48.0,
        "coverage": 0.5,
        "production": 48.0,
        "temperature_c": 20.0,
    }


def test_meter_tree_balance_reports_unaccounted_energy() -> None:
    tree = MeterTree({"main": None, "line1": "main", "line2": "main", "press": "line1"})
    balance = tree.balance({"main": 1000.0, "line1": 600.0, "line2": 300.0, "press": 450.0})
    assert balance.loc["main", "unaccounted_kwh"] == 100.0
    assert balance.loc["main", "unaccounted_share"] == pytest.approx(0.1)
    assert balance.loc["line1", "unaccounted_kwh"] == 150.0


def test_meter_tree_refuses_cycles_and_unknown_parents() -> None:
    with pytest.raises(AnalyticsError, match="cycle"):
        MeterTree({"a": "b", "b": "a"})
    with pytest.raises(AnalyticsError, match="not a meter"):
        MeterTree({"a": "ghost"})


def test_configuration_rate_is_installed_over_required() -> None:
    assert configuration_rate(["m1", "m2", "x"], ["m1", "m2", "m3", "m4"]) == 0.5
