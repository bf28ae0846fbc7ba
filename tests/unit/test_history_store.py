from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.history.store import EnergyRow, HistoryStore, SeriesRow


def test_energy_round_trips_as_a_wide_utc_frame(tmp_path: Path) -> None:
    idx = pd.date_range("2026-01-01", periods=4, freq="15min", tz="UTC")
    frame = pd.DataFrame({"main": [1.0, 2.0, np.nan, 4.0], "sub": [0.5, 0.5, 0.5, 0.5]}, index=idx)
    with HistoryStore(tmp_path / "h.db") as store:
        store.write_energy_frame(frame, seconds=900)
        back = store.energy()
    assert back.index.tz is not None
    assert list(back.columns) == ["main", "sub"]
    assert back["main"].isna().sum() == 1  # a hole stays a hole, it is not zero
    assert back["sub"].sum() == pytest.approx(2.0)
    assert back.index[0] == idx[0]


def test_rewriting_an_interval_replaces_it_instead_of_double_counting(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.db") as store:
        store.write_energy([EnergyRow("m", 0, 900, 1.0)])
        store.write_energy([EnergyRow("m", 0, 900, 1.5)])
        assert store.energy()["m"].sum() == pytest.approx(1.5)


def test_bad_intervals_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.db") as store:
        store.write_energy([EnergyRow("m", 0, 900, 1.0), EnergyRow("m", 900, 900, 99.0, quality="bad")])
        assert store.energy()["m"].sum() == pytest.approx(1.0)
        assert store.energy(good_only=False)["m"].sum() == pytest.approx(100.0)


def test_series_are_selected_by_name_and_time(tmp_path: Path) -> None:
    idx = pd.date_range("2026-03-01", periods=96, freq="15min", tz="Asia/Shanghai")
    with HistoryStore(tmp_path / "h.db") as store:
        store.write_series("units", pd.Series(np.arange(96.0), index=idx))
        store.write_series("temp_c", pd.Series(np.full(96, 12.5), index=idx))
        got = store.series(["units"], start=idx[10], end=idx[20])
        assert store.series_names() == ["temp_c", "units"]
    assert list(got.columns) == ["units"]
    assert got["units"].tolist() == [float(i) for i in range(10, 20)]


def test_naive_timestamps_are_refused(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.db") as store, pytest.raises(ValueError, match="tz-aware"):
        store.write_series("x", pd.Series([1.0], index=pd.date_range("2026-01-01", periods=1, freq="h")))


def test_series_keep_quality_and_completeness_and_bad_intervals_are_left_out(tmp_path: Path) -> None:
    rows = [
        SeriesRow("production", 0, 10.0),
        SeriesRow("production", 900, 2.0, "partial", 0.2),
        SeriesRow("production", 1800, 0.0, "bad", 0.0),
    ]
    with HistoryStore(tmp_path / "h.db") as store:
        assert store.write_series_rows(rows) == 3
        values = store.series(["production"])["production"]
        everything = store.series(["production"], good_only=False)["production"]
        completeness = store.series_completeness(["production"])["production"]
    assert values.tolist() == [10.0, 2.0]  # a partial interval is data; a bad one is not
    assert everything.tolist() == [10.0, 2.0, 0.0]
    assert completeness.tolist() == [1.0, 0.2, 0.0]


def test_a_store_written_before_series_had_quality_is_migrated_on_open(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE series (name TEXT NOT NULL, start INTEGER NOT NULL, value REAL NOT NULL,"
        " PRIMARY KEY (name, start)) WITHOUT ROWID"
    )
    old.execute("INSERT INTO series VALUES ('temperature_c', 0, 12.5)")
    old.commit()
    old.close()
    with HistoryStore(path) as store:
        assert store.series(["temperature_c"])["temperature_c"].tolist() == [12.5]
        assert store.series_completeness(["temperature_c"])["temperature_c"].tolist() == [1.0]
        store.write_series_rows([SeriesRow("temperature_c", 900, 13.0, "partial", 0.5)])
    with HistoryStore(path) as again:  # opening a migrated file again changes nothing
        assert again.series_completeness(["temperature_c"])["temperature_c"].tolist() == [1.0, 0.5]
