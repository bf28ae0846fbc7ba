"""`energy-agent savings --baseline B.csv --reporting R.csv`: savings from two CSV exports, no site.

The files are written here from a deterministic temperature-driven load (a weekday/weekend hourly
shape plus heating below 15 degC and cooling above 22 degC, a little seeded noise) whose reporting
period is cut by exactly 10 %: the command must recover that saving from hourly, 15-minute and
daily files, with naive Europe/Berlin times across both DST changes or with UTC offsets, and the
same result whether the temperature is in degF or degC.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agent.cli import savings_cmd

TZ = "Europe/Berlin"
CUT = 0.10
# baseline a year across both 2025 changes, reporting across the spring 2026 one (03-29)
BASELINE = ("2025-03-01", "2026-03-01")
REPORTING = ("2026-03-01", "2026-05-01")


def _load(local: pd.DatetimeIndex, seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Hourly kWh and degC for local hour starts."""
    rng = np.random.default_rng(seed)
    day = np.asarray(local.day_of_year, dtype=float)
    hour = np.asarray(local.hour, dtype=float)
    temp = 10 - 10 * np.cos(2 * np.pi * (day - 20) / 365) - 4 * np.cos(2 * np.pi * (hour - 3) / 24)
    temp = temp + rng.normal(0, 1.5, len(local))
    working = (np.asarray(local.day_of_week) < 5) & (hour >= 8) & (hour < 18)
    base = np.where(working, 60.0, 20.0)
    kwh = base + 2.5 * np.clip(15 - temp, 0, None) + 3.0 * np.clip(temp - 22, 0, None)
    return kwh * np.abs(rng.normal(1, noise, len(local))), temp


def _hours(period: tuple[str, str]) -> pd.DatetimeIndex:
    start = pd.Timestamp(period[0], tz=TZ)
    end = pd.Timestamp(period[1], tz=TZ)
    return pd.date_range(start, end, freq="h", inclusive="left")


def write_csv(
    path: Path,
    period: tuple[str, str],
    *,
    step: str,
    cut: float,
    unit: str = "C",
    offsets: bool = False,
    seed: int = 1,
    noise: float = 0.03,
) -> Path:
    """One period's file: `step` "15min", "h" or "D"; temperature header by `unit` (C, F or plain)."""
    hours = _hours(period)
    kwh, temp = _load(hours, seed, noise)
    frame = pd.DataFrame({"energy_kwh": kwh * (1 - cut), "t": temp}, index=hours)
    if step == "15min":
        quarters = pd.date_range(hours[0], hours[-1] + pd.Timedelta("45min"), freq="15min")
        frame = frame.reindex(quarters, method="ffill")
        frame["energy_kwh"] /= 4
    elif step == "D":
        local_day = frame.index.tz_convert(TZ).normalize()
        frame = frame.groupby(local_day).agg({"energy_kwh": "sum", "t": "mean"})
    if unit == "F":
        frame["t"] = frame["t"] * 9 / 5 + 32
    header = {"C": "temperature_c", "F": "temperature_f", "plainF": "temperature"}[unit]
    if unit == "plainF":
        frame["t"] = frame["t"] * 9 / 5 + 32
    index = pd.DatetimeIndex(frame.index).tz_convert(TZ)
    if offsets:
        stamps = [t.isoformat() for t in index]
    elif step == "D":
        stamps = [f"{t:%Y-%m-%d}" for t in index]
    else:
        stamps = [f"{t:%Y-%m-%d %H:%M}" for t in index]
    out = pd.DataFrame({"timestamp": stamps, "energy_kwh": frame["energy_kwh"].round(4).to_numpy()})
    out[header] = frame["t"].round(3).to_numpy()
    out.to_csv(path, index=False)
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    savings_cmd.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["savings", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return int(code), out, err


def pair(tmp_path: Path, step: str, **kw: object) -> list[str]:
    b = write_csv(tmp_path / "b.csv", BASELINE, step=step, cut=0.0, **kw)  # type: ignore[arg-type]
    r = write_csv(tmp_path / "r.csv", REPORTING, step=step, cut=CUT, **kw)  # type: ignore[arg-type]
    return ["--baseline", str(b), "--reporting", str(r)]


def savings_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, err = run([*argv, "--json"], capsys)
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


@pytest.mark.parametrize(("step", "model"), [("h", "hourly TOWT"), ("15min", "hourly TOWT"), ("D", "daily")])
def test_recovers_a_ten_percent_cut_across_dst_in_f_and_c(
    step: str, model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Naive Berlin times (both DST changes) in degC, the same in degF, and with UTC offsets."""
    celsius = savings_of([*pair(tmp_path, step, unit="C"), "--timezone", TZ], capsys)
    fahrenheit = savings_of([*pair(tmp_path, step, unit="F"), "--timezone", TZ], capsys)
    plain = savings_of(
        [*pair(tmp_path, step, unit="plainF"), "--timezone", TZ, "--temperature-unit", "F"], capsys
    )
    offsets = savings_of([*pair(tmp_path, step, unit="C", offsets=True), "--timezone", TZ], capsys)
    assert str(celsius["model"]).startswith(model)
    assert celsius["status"] == "verified"
    truth = 100 * CUT
    assert abs(float(celsius["savings_percent"]) - truth) < 1.0  # type: ignore[arg-type]
    band_90 = 100 * float(celsius["band_90_kwh"]) / float(celsius["adjusted_baseline_kwh"])  # type: ignore[arg-type]
    assert abs(float(celsius["savings_percent"]) - truth) < band_90  # type: ignore[arg-type]
    for other in (fahrenheit, plain, offsets):  # rounding of the written degF: 1e-3 degF
        assert other["savings_kwh"] == pytest.approx(celsius["savings_kwh"], rel=1e-4)
        assert other["model"] == celsius["model"]
    assert "value" not in celsius  # no tariff, no factors: no money, coal or CO2


def test_offset_times_need_no_timezone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = savings_of(pair(tmp_path, "D", offsets=True), capsys)
    assert result["timezone"] == "UTC"
    assert result["interval"] == "daily"
    assert abs(float(result["savings_percent"]) - 100 * CUT) < 1.5  # type: ignore[arg-type]


def test_money_coal_and_co2_only_when_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [*pair(tmp_path, "D"), "--timezone", TZ]
    code, out, _ = run(files, capsys)
    assert code == 0
    assert "yuan" not in out
    assert "tCO2" not in out
    assert "tce" not in out
    given = [*files, "--tariff-yuan-per-kwh", "0.5", "--co2-kg-per-kwh", "0.4", "--kgce-per-kwh", "0.1229"]
    result = savings_of(given, capsys)
    kwh = float(result["savings_kwh"])  # type: ignore[arg-type]
    assert result["value"] == {
        "yuan": pytest.approx(0.5 * kwh),
        "tariff_yuan_per_kwh": 0.5,
        "tco2": pytest.approx(0.4 * kwh / 1000),
        "co2_kg_per_kwh": 0.4,
        "tce": pytest.approx(0.1229 * kwh / 1000),
        "kgce_per_kwh": 0.1229,
    }
    code, out, _ = run(given, capsys)
    assert code == 0
    assert "yuan at 0.5000 yuan/kWh" in out
    assert "tCO2 at 0.4 kg/kWh" in out


def test_a_failing_baseline_exits_2_not_verified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Hourly load that temperature does not explain (CV(RMSE) far above Guideline 14's 30 %)."""
    b = write_csv(tmp_path / "b.csv", BASELINE, step="h", cut=0.0, noise=0.6)
    r = write_csv(tmp_path / "r.csv", REPORTING, step="h", cut=CUT, noise=0.6, seed=2)
    files = ["--baseline", str(b), "--reporting", str(r), "--timezone", TZ, "--tariff-yuan-per-kwh", "0.5"]
    code, out, err = run([*files, "--json"], capsys)
    assert code == 2
    result = json.loads(out)
    assert result["status"] == "not verified"
    assert result["verdict"]["passed"] is False
    assert [c["statistic"] for c in result["verdict"]["checks"] if c["outcome"] == "fail"] == ["cv_rmse"]
    assert err.count("\n") == 1
    assert "not verified" in err
    assert "cv_rmse" in err
    code, out, err = run(files, capsys)
    assert code == 2
    savings_line = next(line for line in out.splitlines() if line.startswith("savings"))
    assert "NOT VERIFIED" in savings_line
    assert "(not verified)" in next(line for line in out.splitlines() if line.startswith("value"))
    assert "savings verified" not in out


def test_a_bad_row_exits_1_naming_file_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = pair(tmp_path, "h")
    reporting = Path(files[3])
    lines = reporting.read_text().splitlines()
    stamp, _, temp = lines[41].split(",")
    lines[41] = f"{stamp},12..5,{temp}"  # line 42 of the file
    reporting.write_text("\n".join(lines) + "\n")
    code, out, err = run([*files, "--timezone", TZ], capsys)
    assert code == 1
    assert out == ""
    assert f"{reporting}:42: energy_kwh" in err
    assert "12..5" in err


def test_naive_times_need_a_timezone_and_a_plain_temperature_a_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(pair(tmp_path, "D"), capsys)
    assert code == 1
    assert "time zone" in err
    files = pair(tmp_path, "D", unit="plainF")
    code, _, err = run([*files, "--timezone", TZ], capsys)
    assert code == 1
    assert f"{files[1]}:1: temperature" in err
    assert "--temperature-unit" in err


def test_a_nonexistent_local_time_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = pair(tmp_path, "h")
    reporting = Path(files[3])
    text = reporting.read_text().replace("2026-03-29 01:00,", "2026-03-29 02:00,", 1)
    reporting.write_text(text)
    code, _, err = run([*files, "--timezone", TZ], capsys)
    assert code == 1
    assert "does not exist in Europe/Berlin" in err


def test_config_only_options_are_refused_with_a_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["site.yaml", "--tariff-yuan-per-kwh", "0.5"], capsys)
    assert code == 1
    assert "--tariff-yuan-per-kwh" in err


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "savings.png"
    code, out, err = run([*pair(tmp_path, "D"), "--timezone", TZ, "--plot", str(png)], capsys)
    assert code == 0, err
    assert "savings" in out
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000  # two drawn panels, not an empty canvas
    code, _, err = run(
        [*pair(tmp_path, "D"), "--timezone", TZ, "--plot", str(tmp_path / "no" / "x.png")], capsys
    )
    assert code == 1
    assert "--plot" in err
