"""The offline history generator and its truth file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simulators.history import generate_history
from simulators.site import SiteModel
from tests.scenarios import shipped_scenario

TINY = shipped_scenario("tiny")


@pytest.fixture(scope="module")
def six_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history")
    generate_history(TINY, 6, out)
    return out


def test_counterfactual_and_actual_are_equal_before_the_retrofit_and_differ_after(six_days: Path) -> None:
    truth = pd.read_csv(six_days / "truth_daily.csv")
    before = truth[truth["date"] < "2024-07-04"]
    after = truth[truth["date"] >= "2024-07-04"]
    assert len(before) == 3
    assert (before["actual_site_kwh"] == before["counterfactual_site_kwh"]).all()
    assert (before["savings_kwh"] == 0).all()
    assert (after["savings_kwh"] > 0).all()


def test_truth_total_is_the_sum_of_daily_savings(six_days: Path) -> None:
    summary = json.loads((six_days / "truth.json").read_text())
    truth = pd.read_csv(six_days / "truth_daily.csv")
    assert summary["true_savings_kwh"] == pytest.approx(truth["savings_kwh"].sum())
    assert 0.02 < summary["true_savings_fraction_after_retrofit"] < 0.4
    assert summary["retrofit_date"] == "2024-07-04"


def test_interval_energy_matches_the_live_counters(six_days: Path) -> None:
    history = pd.read_csv(six_days / "history.csv.gz")
    assert len(history) == 6 * 96
    # A copy: the same site, simulated again (the history's day totals are kept per scenario object).
    model = SiteModel(TINY.model_copy())
    start = TINY.start.timestamp()
    counted = (
        model.counters("main_meter", start + 6 * 86400)["import_kwh"]
        - model.counters("main_meter", start)["import_kwh"]
    )
    assert history["main_meter_kwh"].sum() == pytest.approx(counted, rel=1e-5)
    seconds = history[["c1_loaded_s", "c1_unloaded_s", "c1_off_s"]].sum(axis=1)
    assert (seconds.round(6) == 900).all()


def test_interval_must_fit_the_physics_step(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of step_s"):
        generate_history(TINY, 1, tmp_path, interval_s=90)


def test_generation_reports_its_progress_day_by_day(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_history(TINY, 3, tmp_path, first_day=2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_the_demo_logs_each_tenth_of_the_generation(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from agent.demo import history_progress

    logger = logging.getLogger("test.demo.progress")
    report = history_progress(logger)
    with caplog.at_level(logging.INFO, logger="test.demo.progress"):
        for done in range(1, 367):
            report(done, 366)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "generating history: 37/366 days (10 %)"
    assert lines[-1] == "generating history: 366/366 days (100 %)"
    assert len(lines) == 10
