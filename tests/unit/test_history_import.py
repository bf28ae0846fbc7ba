"""`energy-agent import FILE.csv --site SITE.yaml`: interval CSVs into a site's history store.

The files are written here the way exports come: 15-minute, hourly and daily, with offsets or in
local time across both DST changes of Europe/Berlin (and America/New_York), in degF and degC; and
broken ones (a bad number, a bad time, a duplicate, an unknown column, the skipped spring hour).
Everything is read back through HistoryStore, the way the dashboard, M&V and the rating read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from agent.cli import main
from agent.history.csvread import Column, read_interval_csv, temperature_column
from agent.history.store import HistoryStore

BERLIN = "Europe/Berlin"


def site_yaml(tmp_path: Path, timezone: str = BERLIN, production_column: str = "production") -> Path:
    config: dict[str, Any] = {
        "site": {"name": "import-test", "timezone": timezone},
        "buses": [{"name": "b", "type": "tcp", "host": "127.0.0.1", "port": 5020}],
        "devices": [
            {"name": "main", "bus": "b", "unit_id": 1, "profile": "eastron/sdm630"},
            {"name": "line", "bus": "b", "unit_id": 2, "profile": "eastron/sdm630", "parent": "main"},
            {
                "name": "comp1",
                "bus": "b",
                "unit_id": 3,
                "profile": "generic/compressor_load_unload",
                "parent": "main",
            },
        ],
        "sinks": {"local_store": {"path": "store"}},
        "analytics": {"production": {"unit": "t", "column": production_column}},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def local_rows(start: str, end: str, freq: str, timezone: str = BERLIN) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=freq, tz=timezone, inclusive="left")


def naive(index: pd.DatetimeIndex, fmt: str = "%Y-%m-%d %H:%M") -> list[str]:
    """Local wall-clock times without offset: the repeated autumn hour appears twice, as in exports."""
    return [f"{t:{fmt}}" for t in index]


def run_import(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["import", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def history(site: Path) -> HistoryStore:
    return HistoryStore(site.parent / "store" / "history.db")


# ---------------------------------------------------------------- intervals across DST


@pytest.mark.parametrize(
    ("freq", "seconds", "start", "end"),
    [
        ("15min", 900, "2026-03-28", "2026-03-31"),  # spring: 2026-03-29 has 23 h
        ("15min", 900, "2026-10-24", "2026-10-27"),  # autumn: 2026-10-25 has 25 h
        ("h", 3600, "2026-03-28", "2026-03-31"),
        ("h", 3600, "2026-10-24", "2026-10-27"),
    ],
)
def test_naive_local_times_across_dst_land_on_the_right_instants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], freq: str, seconds: int, start: str, end: str
) -> None:
    index = local_rows(start, end, freq)
    kwh = np.arange(len(index), dtype=float)
    csv = write_csv(tmp_path / "h.csv", pd.DataFrame({"timestamp": naive(index), "main_kwh": kwh}))
    site = site_yaml(tmp_path)
    code, out, err = run_import(capsys, str(csv), "--site", str(site))
    assert code == 0, err
    assert f"{len(index)} " in out
    with history(site) as store:
        energy = store.energy(["main"])
    # every wall-clock row became its own UTC instant, in file order, nothing merged or shifted
    assert list(energy.index) == list(index.tz_convert("UTC"))
    assert energy["main"].tolist() == kwh.tolist()
    day = pd.Timestamp(start, tz=BERLIN) + pd.Timedelta(days=1)
    one_day = energy.loc[day : day + pd.DateOffset(days=1) - pd.Timedelta(seconds=1)]
    assert len(one_day) * seconds in (23 * 3600, 25 * 3600)  # the DST day has 23 or 25 h of rows


def test_daily_rows_are_local_days_of_23_and_25_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = pd.date_range("2026-03-01", "2026-11-30", freq="D", tz=BERLIN)
    csv = write_csv(
        tmp_path / "d.csv",
        pd.DataFrame({"timestamp": naive(index, "%Y-%m-%d"), "energy_kwh": 1000.0, "temperature_c": 10.0}),
    )
    site = site_yaml(tmp_path)
    code, out, err = run_import(capsys, str(csv), "--site", str(site))
    assert code == 0, err
    assert "daily" in out
    with history(site) as store:
        energy = store.energy(["main"])  # energy_kwh: the site's one root meter
        span = store.span()
    assert list(energy.index) == list(index.tz_convert("UTC"))
    assert span == (index[0], pd.Timestamp("2026-12-01", tz=BERLIN))  # the last day ends at local midnight
    seconds = read_interval_csv(csv, Column, timezone=BERLIN).seconds
    lengths = dict(zip(naive(index, "%Y-%m-%d"), seconds, strict=True))
    assert sorted(set(lengths.values())) == [23 * 3600, 24 * 3600, 25 * 3600]
    assert (lengths["2026-03-29"], lengths["2026-10-25"]) == (23 * 3600, 25 * 3600)


def test_times_with_offsets_need_no_zone_and_mix_summer_and_winter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = local_rows("2026-11-01", "2026-11-03", "h", "America/New_York")  # fall back on 11-01
    stamps = [t.isoformat() for t in index]  # -04:00 then -05:00
    csv = write_csv(tmp_path / "o.csv", pd.DataFrame({"timestamp": stamps, "main_kwh": 2.0}))
    site = site_yaml(tmp_path)  # a Berlin site: offsets say where the rows are, not the site zone
    assert run_import(capsys, str(csv), "--site", str(site))[0] == 0
    with history(site) as store:
        assert list(store.energy(["main"]).index) == list(index.tz_convert("UTC"))


def test_new_york_local_times_across_the_autumn_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = local_rows("2026-10-31", "2026-11-03", "15min", "America/New_York")
    csv = write_csv(tmp_path / "ny.csv", pd.DataFrame({"timestamp": naive(index), "main_kwh": 1.0}))
    site = site_yaml(tmp_path, timezone="America/New_York")
    assert run_import(capsys, str(csv), "--site", str(site))[0] == 0
    with history(site) as store:
        assert list(store.energy(["main"]).index) == list(index.tz_convert("UTC"))


# ---------------------------------------------------------------- columns and units


def test_fahrenheit_is_converted_and_every_series_is_named_as_mv_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = local_rows("2026-06-01", "2026-06-02", "h")
    frame = pd.DataFrame(
        {
            "timestamp": naive(index),
            "energy_kwh": 100.0,
            "line_kwh": 40.0,
            "tonnes": 2.5,
            "temperature_f": 50.0,
            "comp1.loaded_h": 0.75,
            "comp1.running_h": 1.0,
            "comp1.air_m3": 600.0,
            "comp1.pressure_bar": 6.8,
            "comp1.pressure_min_bar": 6.5,
        }
    )
    site = site_yaml(tmp_path, production_column="tonnes")
    assert run_import(capsys, str(write_csv(tmp_path / "f.csv", frame)), "--site", str(site))[0] == 0
    names = ["tonnes", "temperature_c", "comp1.loaded_h", "comp1.running_h", "comp1.air_m3"]
    names += ["comp1.pressure_bar", "comp1.pressure_min_bar"]
    with history(site) as store:
        series = store.series(names)
        energy = store.energy()
    assert series["temperature_c"].tolist() == pytest.approx([10.0] * 24)  # 50 degF
    assert series["tonnes"].sum() == pytest.approx(60.0)
    assert series["comp1.loaded_h"].sum() == pytest.approx(18.0)
    assert series["comp1.pressure_min_bar"].iloc[0] == pytest.approx(6.5)
    assert energy["main"].sum() == pytest.approx(2400.0)
    assert energy["line"].sum() == pytest.approx(960.0)


@pytest.mark.parametrize(
    ("header", "unit", "value", "celsius"),
    [
        ("temperature", "F", 212.0, 100.0),
        ("temperature", "C", 21.5, 21.5),
        ("temperature_c", None, -3.0, -3.0),
    ],
)
def test_temperature_units(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    header: str,
    unit: str | None,
    value: float,
    celsius: float,
) -> None:
    index = local_rows("2026-06-01", "2026-06-01 02:00", "h")
    csv = write_csv(tmp_path / "t.csv", pd.DataFrame({"timestamp": naive(index), header: value}))
    site = site_yaml(tmp_path)
    argv = [str(csv), "--site", str(site), *(["--temperature-unit", unit] if unit else [])]
    assert run_import(capsys, *argv)[0] == 0
    with history(site) as store:
        assert store.series(["temperature_c"])["temperature_c"].tolist() == pytest.approx([celsius] * 2)


def test_empty_cells_are_missing_not_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "e.csv").write_text(
        "timestamp,main_kwh,production\n2026-06-01 00:00,1.5,\n2026-06-01 01:00,,3\n", encoding="utf-8"
    )
    site = site_yaml(tmp_path)
    assert run_import(capsys, str(tmp_path / "e.csv"), "--site", str(site))[0] == 0
    with history(site) as store:
        assert store.energy(["main"])["main"].dropna().tolist() == [1.5]
        assert store.series(["production"])["production"].dropna().tolist() == [3.0]


# ---------------------------------------------------------------- errors name file:row: column


BAD_FILES = {
    "bad number": (
        "timestamp,main_kwh,temperature_c\n2026-06-01 00:00,1,20\n2026-06-01 01:00,1,warm\n",
        ["b.csv:3: temperature_c: not a number: 'warm'"],
    ),
    "bad time": (
        "timestamp,main_kwh\n2026-06-01 00:00,1\n01/06/2026 01:00,1\n",
        ["b.csv:3: timestamp: not an ISO 8601 time: '01/06/2026 01:00'"],
    ),
    "duplicate time": (
        "timestamp,main_kwh\n2026-06-01 00:00,1\n2026-06-01 01:00,1\n2026-06-01 01:00,2\n",
        ["b.csv:4: timestamp: duplicate time 2026-05-31 23:00Z (same instant as row 3)"],
    ),
    "same instant, two offsets": (
        "timestamp,main_kwh\n2026-06-01T02:00+02:00,1\n2026-06-01T00:00Z,1\n2026-06-01T01:00Z,1\n",
        ["b.csv:3: timestamp: duplicate time 2026-06-01 00:00Z (same instant as row 2)"],
    ),
    "unknown column": (
        "timestamp,main_kwh,boiler_kwh\n2026-06-01 00:00,1,1\n2026-06-01 01:00,1,1\n",
        ["b.csv:1: boiler_kwh: unknown column; expected energy_kwh, <device>_kwh"],
    ),
    "spring-forward gap": (
        "timestamp,main_kwh\n2026-03-29 01:00,1\n2026-03-29 02:00,1\n2026-03-29 02:30,1\n"
        "2026-03-29 03:00,1\n",
        [
            "b.csv:3: timestamp: 2026-03-29 02:00 does not exist in Europe/Berlin",
            "b.csv:4: timestamp: 2026-03-29 02:30 does not exist in Europe/Berlin",
        ],
    ),
    "a third 02:00 in autumn": (
        "timestamp,main_kwh\n2026-10-25 01:00,1\n2026-10-25 02:00,1\n2026-10-25 02:00,1\n"
        "2026-10-25 02:00,1\n2026-10-25 03:00,1\n",
        ["b.csv:5: timestamp: duplicate time 2026-10-25 01:00Z (same instant as row 4)"],
    ),
    "off the grid": (
        "timestamp,main_kwh\n2026-06-01 00:00,1\n2026-06-01 01:00,1\n2026-06-01 02:00,1\n"
        "2026-06-01 02:20,1\n2026-06-01 03:00,1\n",
        ["b.csv:5: timestamp: off the file's hourly grid (row 2 starts it)"],
    ),
    "mixed offsets and local": (
        "timestamp,main_kwh\n2026-06-01T00:00+02:00,1\n2026-06-01 01:00,1\n",
        ["b.csv:3: timestamp: '2026-06-01 01:00' has no UTC offset, row 2 has one"],
    ),
    "ragged row": (
        "timestamp,main_kwh\n2026-06-01 00:00,1\n2026-06-01 01:00,1,7\n",
        ["b.csv:3: 3 fields, the header has 2"],
    ),
    "no timestamp column": (
        "time,main_kwh\n2026-06-01 00:00,1\n",
        [
            "b.csv:1: timestamp: the header has no 'timestamp' column",
            "b.csv:1: time: unknown column",
        ],
    ),
    "plain temperature without a unit": (
        "timestamp,temperature\n2026-06-01 00:00,1\n2026-06-01 01:00,1\n",
        ["b.csv:1: temperature: unknown column"],
    ),
    "two columns for one series": (
        "timestamp,temperature_c,temperature_f\n2026-06-01 00:00,1,33\n2026-06-01 01:00,1,33\n",
        ["b.csv:1: temperature_f: gives the same series (temperature_c) as column 'temperature_c'"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_names_row_and_column_and_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    text, expected = BAD_FILES[case]
    site = site_yaml(tmp_path)
    good = "timestamp,main_kwh\n2026-05-01 00:00,5\n2026-05-01 01:00,5\n"
    (tmp_path / "good.csv").write_text(good, encoding="utf-8")
    assert run_import(capsys, str(tmp_path / "good.csv"), "--site", str(site))[0] == 0
    (tmp_path / "b.csv").write_text(text, encoding="utf-8")
    code, _, err = run_import(capsys, str(tmp_path / "b.csv"), "--site", str(site))
    assert code == 1
    lines = [line.removeprefix(str(tmp_path) + "/") for line in err.splitlines()]
    for want in expected:
        assert any(line.startswith(want) for line in lines), f"{want!r} not in {lines}"
    assert len(lines) == len(expected)
    with history(site) as store:  # what was there stays, nothing of the bad file arrived
        assert store.energy()["main"].tolist() == [5.0, 5.0]
        assert store.series_names() == []


def test_every_bad_cell_is_listed_not_only_the_first(tmp_path: Path) -> None:
    rows = "".join(f"2026-06-01 {h:02d}:00,x\n" for h in range(5))
    (tmp_path / "m.csv").write_text("timestamp,main_kwh\n" + rows, encoding="utf-8")
    with pytest.raises(Exception, match=r"m\.csv:2: main_kwh") as caught:
        read_interval_csv(tmp_path / "m.csv", lambda h: Column(h), timezone=BERLIN)
    assert [issue.line for issue in caught.value.issues] == [2, 3, 4, 5, 6]  # type: ignore[attr-defined]


# ---------------------------------------------------------------- idempotent


def test_reimporting_changes_nothing_and_a_corrected_file_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = local_rows("2026-10-24", "2026-10-27", "15min")
    frame = pd.DataFrame({"timestamp": naive(index), "main_kwh": 1.0, "production": 2.0})
    csv = write_csv(tmp_path / "r.csv", frame)
    site = site_yaml(tmp_path)
    for _ in range(2):
        assert run_import(capsys, str(csv), "--site", str(site))[0] == 0
    with history(site) as store:
        assert store.energy(["main"])["main"].sum() == pytest.approx(len(index))
        assert store.series(["production"])["production"].sum() == pytest.approx(2.0 * len(index))
    frame.loc[0, "main_kwh"] = 3.0
    assert run_import(capsys, str(write_csv(csv, frame)), "--site", str(site))[0] == 0
    with history(site) as store:
        assert store.energy(["main"])["main"].sum() == pytest.approx(len(index) + 2.0)


# ---------------------------------------------------------------- the reader alone (issue 16's CSV savings)


def test_the_reader_detects_the_interval_and_reads_times_in_a_given_zone(tmp_path: Path) -> None:
    index = local_rows("2026-10-24", "2026-10-27", "15min")
    csv = write_csv(
        tmp_path / "s.csv", pd.DataFrame({"timestamp": naive(index), "energy_kwh": 1.0, "temperature": 68.0})
    )
    data = read_interval_csv(
        csv,
        lambda h: Column("energy_kwh") if h == "energy_kwh" else temperature_column(h, "F"),
        timezone=BERLIN,
    )
    assert (data.interval_s, data.granularity, data.rows) == (900, "15 min", len(index))
    assert data.values["temperature_c"].iloc[0] == pytest.approx(20.0)
    assert data.headers == {"energy_kwh": "energy_kwh", "temperature_c": "temperature"}
    assert list(data.values.index) == list(index.tz_convert("UTC"))


def test_a_file_going_back_in_time_resolves_the_repeated_hour_the_other_way(tmp_path: Path) -> None:
    index = local_rows("2026-10-25", "2026-10-26", "h")[::-1]  # newest first, as some portals export
    csv = write_csv(tmp_path / "r.csv", pd.DataFrame({"timestamp": naive(index), "e": range(len(index))}))
    data = read_interval_csv(csv, lambda h: Column(h), timezone=BERLIN)
    assert list(data.values.index) == sorted(index.tz_convert("UTC"))
    assert data.values["e"].tolist() == list(range(len(index)))[::-1]


def test_a_year_of_15_minute_local_times_imports_with_both_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = local_rows("2026-01-01", "2027-01-01", "15min")
    assert len(index) == 365 * 96  # 23 h in March and 25 h in October cancel out
    csv = write_csv(tmp_path / "y.csv", pd.DataFrame({"timestamp": naive(index), "energy_kwh": 0.25}))
    site = site_yaml(tmp_path)
    code, out, err = run_import(capsys, str(csv), "--site", str(site))
    assert code == 0, err
    assert "35040 15 min rows" in out
    with history(site) as store:
        energy = store.energy(["main"])
    assert len(energy) == len(index)
    assert energy.index.is_unique
    assert energy["main"].sum() == pytest.approx(0.25 * len(index))
