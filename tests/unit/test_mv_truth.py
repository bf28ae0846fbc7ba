"""M&V against the simulator's ground truth: the demo factory with its retrofit, 360 days.

The history is generated and imported the way `energy-agent demo` does, once per session for this module
and test_rating_demo.py (fixture `demo_years`, tests/demo_year.py; this module gets its own copy);
`truth_daily.csv` holds, per day, the same day simulated without the retrofit (same random streams).
Every savings figure here goes through the code the dashboard, the report and `energy-agent savings`
use (HistorySource.savings over the history store, or for Option B the same analytics functions).
Figures and the reasoning behind the tolerances: docs/mv-validation.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from agent.analytics import daily_frame, fit, savings
from agent.analytics.windows import local_day_bounds
from agent.cli import savings_cmd
from agent.config.analytics import BaselineOptions
from agent.config.loader import LoadedConfig, load_config
from agent.history.store import HistoryStore
from agent.rating.files import default_rubric_path, load_rubric
from agent.rating.provider import rating_package
from agent.report.build import render_html
from agent.web.history_source import HistorySource
from agent.web.settings import settings_for
from tests.demo_year import DemoYears

TODAY = date(2025, 6, 30)
DAYS = 360  # retrofit 120 days before TODAY: 240 baseline days (July-March), 121 reporting days
TZ = "Asia/Shanghai"
MAX_BIAS_PP = 0.02  # savings as a share of the counterfactual, percentage points / 100


@dataclass(frozen=True)
class Demo:
    scenario: Any
    config: Path
    loaded: LoadedConfig
    history: Path
    truth: pd.DataFrame  # truth_daily.csv, indexed by local date

    def source(self, history: Path | None = None) -> HistorySource:
        return HistorySource(history or self.history, settings_for(self.loaded.config, replay=True))

    def truth_between(self, first: object, last: object) -> pd.DataFrame:
        return self.truth.loc[str(first) : str(last)]


@pytest.fixture(scope="module")
def demo(demo_years: DemoYears, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    year = demo_years.copy(TODAY, DAYS, tmp_path_factory.mktemp("mv-truth"))
    truth_csv = next((year.workdir / "history").glob("*/truth_daily.csv"))
    truth = pd.read_csv(truth_csv, index_col="date")
    return Demo(year.scenario, year.config, load_config(year.config), year.history, truth)


# ---------------------------------------------------------------- 1. savings vs the truth


def test_whole_site_savings_match_the_truth_within_the_band_and_two_points(demo: Demo) -> None:
    result = demo.source().savings()
    assert result["available"], result.get("reason")
    assert result["baseline"]["ipmvp_option"] == "C"
    assert "production" in result["baseline"]["coefficients"]
    assert result["acceptance"]["passed"]
    truth = demo.truth_between(result["reporting"]["start"], result["reporting"]["end"])
    true_kwh = float(truth["savings_kwh"].sum())
    counterfactual = float(truth["counterfactual_site_kwh"].sum())
    band_90 = result["uncertainty"][1]["absolute_kwh"]
    assert len(truth) == len(result["periods"]) == 121
    assert abs(result["savings_kwh"] - true_kwh) <= band_90
    assert abs(result["savings_kwh"] / result["baseline_kwh"] - true_kwh / counterfactual) <= MAX_BIAS_PP
    assert abs(result["actual_kwh"] - float(truth["actual_site_kwh"].sum())) < 1e-3 * true_kwh


def _compressor_daily(demo: Demo, first: date, last: date) -> pd.DataFrame:
    machines = [d.name for d in demo.scenario.devices if d.kind == "compressor"]
    start, end = local_day_bounds(first, last, TZ)
    with HistoryStore(demo.history) as store:
        energy = store.energy(machines, start, end).sum(axis=1, min_count=len(machines))
        series = store.series(["production", "temperature_c"], start, end)
    return daily_frame(energy, TZ, production=series["production"], temperature_c=series["temperature_c"])


def test_compressor_room_savings_option_b_match_the_truth(demo: Demo) -> None:
    retrofit = demo.scenario.retrofit.date
    baseline_days = _compressor_daily(demo, demo.scenario.start.date(), retrofit - timedelta(days=1))
    model = fit(baseline_days, BaselineOptions(ipmvp_option="B"))
    result = savings(model, _compressor_daily(demo, retrofit, TODAY))
    truth = demo.truth_between(retrofit, TODAY)
    true_kwh = float((truth["counterfactual_compressor_kwh"] - truth["actual_compressor_kwh"]).sum())
    counterfactual = float(truth["counterfactual_compressor_kwh"].sum())
    assert model.ipmvp_option == "B"
    assert model.uses_production
    assert abs(result.actual_kwh - float(truth["actual_compressor_kwh"].sum())) < 1e-3 * true_kwh
    assert abs(result.savings_kwh - true_kwh) <= result.band(0.90).absolute_kwh
    assert abs(result.fraction - true_kwh / counterfactual) <= MAX_BIAS_PP


# ---------------------------------------------------------------- 2. production matters


def test_a_baseline_without_production_fits_worse(demo: Demo) -> None:
    base = demo.source().baseline()
    with HistoryStore(demo.history) as store:
        start, end = local_day_bounds(base.start, base.end, TZ)
        energy = store.energy(["main_meter"], start, end)["main_meter"]
        series = store.series(["production", "temperature_c"], start, end)
    days = daily_frame(energy, TZ, production=series["production"], temperature_c=series["temperature_c"])
    with_production = fit(days)
    temperature_only = fit(days.drop(columns="production"))
    assert days["production"].std() / days["production"].mean() > 0.2  # weekends, holidays, order book
    assert with_production.stats.cv_rmse == pytest.approx(base.model.stats.cv_rmse)
    assert temperature_only.stats.cv_rmse > 3 * with_production.stats.cv_rmse
    assert not temperature_only.uses_production


# ---------------------------------------------------------------- 3. gaps and glitches


def _damage(history: Path, tmp: Path) -> Path:
    """A copy with 5 % of the site meter's intervals gone, four whole days gone, and glitches marked bad."""
    damaged = tmp / "damaged.db"
    shutil.copy(history, damaged)
    rng = np.random.default_rng(7)
    with sqlite3.connect(damaged) as db:
        starts = [r[0] for r in db.execute("SELECT start FROM energy WHERE device = 'main_meter'")]
        gone = rng.choice(starts, size=len(starts) // 20, replace=False)
        db.executemany(
            "DELETE FROM energy WHERE device = 'main_meter' AND start = ?", [(int(s),) for s in gone]
        )
        for day in ("2024-09-10", "2024-12-24", "2025-04-15", "2025-06-02"):
            t0, t1 = local_day_bounds(date.fromisoformat(day), date.fromisoformat(day), TZ)
            db.execute(
                "DELETE FROM energy WHERE device = 'main_meter' AND start >= ? AND start < ?",
                (int(t0.timestamp()), int(t1.timestamp())),
            )
        kept = [s for s in starts if s not in set(gone.tolist())]
        glitches = rng.choice(kept, size=40, replace=False)
        for i, start in enumerate(glitches):
            kwh = 0.0 if i % 2 else 1e6  # a counter read as zero, or a spike from a garbled register
            db.execute(
                "UPDATE energy SET kwh = ?, quality = 'bad' WHERE device = 'main_meter' AND start = ?",
                (kwh, int(start)),
            )
    return damaged


def test_gaps_and_bad_glitches_do_not_bias_savings(demo: Demo, tmp_path: Path) -> None:
    clean = demo.source().savings()
    damaged = demo.source(_damage(demo.history, tmp_path)).savings()
    assert damaged["available"], damaged.get("reason")
    clean_stats, damaged_stats = clean["baseline"]["stats"], damaged["baseline"]["stats"]
    assert damaged_stats["n"] < clean_stats["n"]
    assert len(damaged["periods"]) < len(clean["periods"])
    # the whole days drop out, and the few that lost more than 10 % of their intervals; the rest
    # (about 95 % covered) are scaled up to a full day
    assert 2 <= len(clean["periods"]) - len(damaged["periods"]) <= 0.1 * len(clean["periods"])
    assert abs(damaged["fraction"] - clean["fraction"]) < 0.002
    relative_band = {
        name: r["uncertainty"][1]["absolute_kwh"] / r["baseline_kwh"]
        for name, r in (("c", clean), ("d", damaged))
    }
    assert relative_band["d"] >= relative_band["c"]
    truth = demo.truth_between(damaged["reporting"]["start"], damaged["reporting"]["end"])
    true_fraction = truth["savings_kwh"].sum() / truth["counterfactual_site_kwh"].sum()
    assert abs(damaged["fraction"] - true_fraction) <= MAX_BIAS_PP


# ---------------------------------------------------------------- 4. rating before and after


def _rating(demo: Demo, period: str) -> dict[str, Any]:
    month_end = pd.Period(period, "M").end_time.date() + timedelta(days=1)
    generated = datetime.combine(month_end, datetime.min.time(), tzinfo=demo.scenario.start.tzinfo)
    return rating_package(
        demo.loaded, demo.history, load_rubric(default_rubric_path()), None, period, generated
    )


def _indicators(package: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in package["indicators"]}


def test_rating_improves_after_the_retrofit_and_says_why(demo: Demo) -> None:
    before, after = _rating(demo, "2024-09"), _rating(demo, "2025-06")
    was, now = _indicators(before), _indicators(after)
    assert after["total"]["points"] > before["total"]["points"]
    assert was["verified_savings_rate"]["value"] is None
    assert now["verified_savings_rate"]["value"] > 5.0
    assert now["verified_savings_rate"]["points"] > 0
    air_before, air_after = was["compressed_air_specific_power"], now["compressed_air_specific_power"]
    assert air_after["value"] < 0.95 * air_before["value"]


# ---------------------------------------------------------------- 5. one number everywhere


def test_cli_dashboard_and_report_print_the_same_savings(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's test client warns about its httpx transport
        from fastapi.testclient import TestClient

    parser = argparse.ArgumentParser()
    savings_cmd.add_parsers(parser.add_subparsers())
    window = ["--reporting", "2025-05-01:2025-05-31", "--replay"]
    args = parser.parse_args(["savings", str(demo.config), *window, "--json"])
    assert args.func(args) == 0
    cli = json.loads(capsys.readouterr().out)
    source = demo.source()
    api = TestClient(create_app(source)).get("/api/savings?start=2025-05-01&end=2025-05-31").json()
    assert cli == api
    html = render_html(source, "2025-05", date(2025, 5, 1), date(2025, 5, 31))
    assert f"<td>{cli['savings_kwh']:,.0f}</td>" in html
    args = parser.parse_args(["savings", str(demo.config), *window])
    assert args.func(args) == 0
    assert f"savings    {cli['savings_kwh']:,.0f} kWh" in capsys.readouterr().out
