from pathlib import Path

import pandas as pd
import pytest

from agent.errors import ConfigError
from agent.history.importer import import_interval_csv
from agent.history.store import HistoryStore

CSV = """timestamp,main_kwh,line_kwh,temperature_c,units
2026-03-01T00:00:00+08:00,10.0,4.0,12.5,100
2026-03-01T00:15:00+08:00,11.0,4.5,12.0,120
"""


def test_energy_columns_and_series_land_in_the_store(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(CSV, encoding="utf-8")
    with HistoryStore(tmp_path / "h.db") as store:
        summary = import_interval_csv(tmp_path / "h.csv", store)
        energy = store.energy()
        series = store.series(["temperature_c", "units"])
    assert summary.energy_devices == ("main", "line")
    assert energy["main"].sum() == pytest.approx(21.0)
    assert energy.index[0] == pd.Timestamp("2026-02-28T16:00:00Z")  # +08:00 converted to UTC
    assert series["units"].tolist() == [100.0, 120.0]


def test_reimporting_does_not_double_count(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(CSV, encoding="utf-8")
    with HistoryStore(tmp_path / "h.db") as store:
        import_interval_csv(tmp_path / "h.csv", store)
        import_interval_csv(tmp_path / "h.csv", store)
        assert store.energy()["line"].sum() == pytest.approx(8.5)


def test_naive_times_are_read_in_the_site_zone(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("timestamp,m_kwh\n2026-03-01 08:00,1\n", encoding="utf-8")
    with HistoryStore(tmp_path / "h.db") as store:
        import_interval_csv(tmp_path / "h.csv", store, timezone="Asia/Shanghai")
        assert store.energy().index[0] == pd.Timestamp("2026-03-01T00:00:00Z")


def test_a_file_without_timestamp_names_the_missing_column(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("time,m_kwh\n2026-03-01 08:00,1\n", encoding="utf-8")
    with HistoryStore(tmp_path / "h.db") as store, pytest.raises(ConfigError, match="'timestamp'"):
        import_interval_csv(tmp_path / "h.csv", store)
