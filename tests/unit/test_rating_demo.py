"""The demo factory's rating before and after its retrofit, with the demo's site rating file.

Same set-up as test_mv_truth.py: the demo factory re-dated to 360 days ending 2025-06-30, retrofit on
2025-03-02, imported the way `energy-agent demo` does; the history is generated once per session
(fixture `demo_years`, tests/demo_year.py, shared with test_mv_truth.py; this module gets its own copy).
The site rating file (edge_configs/rating/demo_factory_rating.yaml) declares what the simulator cannot
measure and sets the sector curves from the months before the retrofit. Figures: docs/mv-validation.md.

Months: the history has no calendar month on both sides of the retrofit, so September 2024 (six
months before) is rated against June 2025 (four months after), the pair with the closest weather
(24.4 vs 26.3 degC mean, 3 vs 2 holiday days). June is the warmer one, so more cooling works against
the after-month: any gain is not the weather's.
"""

from __future__ import annotations

import argparse
import json
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pandas as pd
import pytest

from agent.cli import rating_cmd, savings_cmd, web_cmds
from agent.config.loader import LoadedConfig, load_config
from agent.demo import demo_rating_path
from agent.rating.files import builtin_rating_dir, default_rubric_path, load_rubric, load_site_rating
from agent.rating.package import package_json
from agent.rating.provider import rating_package
from agent.rating.site import site_rating_provider
from agent.web import HistorySource, create_app
from agent.web.settings import settings_for
from tests.demo_year import DemoYears

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's test client warns about its own httpx transport
    from fastapi.testclient import TestClient

TODAY = date(2025, 6, 30)
DAYS = 360
TZ = "Asia/Shanghai"
BEFORE, AFTER = "2024-09", "2025-06"
DEMO_RATING = builtin_rating_dir() / "demo_factory_rating.yaml"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "rating" / "package.schema.json").read_text("utf-8")
)
# what the retrofit (compressor sequencing, leak repair, lower pressure band) can move
RETROFIT_MOVES = {
    "verified_savings_rate",
    "compressed_air_specific_power",
    "unit_product_energy",
    "unit_product_carbon",  # all-electric site: carbon is energy times the grid factor
    "energy_per_output_value",
}


@pytest.fixture(scope="module")
def demo(demo_years: DemoYears, tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedConfig, Path]:
    year = demo_years.copy(TODAY, DAYS, tmp_path_factory.mktemp("rating-demo"))
    return load_config(year.config), year.history


@pytest.fixture(scope="module")
def packages(demo: tuple[LoadedConfig, Path]) -> dict[str, dict[str, Any]]:
    loaded, history = demo
    rubric = load_rubric(default_rubric_path())
    site_rating = load_site_rating(DEMO_RATING, rubric)
    rated = {}
    for period in (BEFORE, AFTER):
        month_end = pd.Period(period, "M").end_time.date() + timedelta(days=1)
        generated = datetime.combine(month_end, datetime.min.time(), tzinfo=ZoneInfo(TZ))
        rated[period] = rating_package(loaded, history, rubric, site_rating, period, generated)
    return rated


def _points(package: dict[str, Any]) -> dict[str, float]:
    return {item["id"]: float(item["points"]) for item in package["indicators"]}


def test_the_total_improves_after_the_retrofit(packages: dict[str, dict[str, Any]]) -> None:
    before, after = packages[BEFORE], packages[AFTER]
    assert after["total"]["points"] > before["total"]["points"] + 5
    assert after["grade"]["min_points"] >= before["grade"]["min_points"]  # never a lower grade
    # a higher grade, or the same grade and closer to the next one
    higher = after["grade"]["min_points"] > before["grade"]["min_points"]
    assert higher or after["grade"]["gap_to_next"] < before["grade"]["gap_to_next"]


def test_the_points_gained_are_the_ones_the_retrofit_moved(packages: dict[str, dict[str, Any]]) -> None:
    was, now = _points(packages[BEFORE]), _points(packages[AFTER])
    gained = {key for key in now if now[key] > was[key] + 1e-9}
    lost = {key for key in now if now[key] < was[key] - 1e-9}
    assert {"verified_savings_rate", "compressed_air_specific_power", "unit_product_energy"} <= gained
    assert gained <= RETROFIT_MOVES
    assert not lost
    assert now["verified_savings_rate"] - was["verified_savings_rate"] > 3  # the M&V result carries it


def test_the_package_shows_why(packages: dict[str, dict[str, Any]]) -> None:
    before = {item["id"]: item for item in packages[BEFORE]["indicators"]}
    after = {item["id"]: item for item in packages[AFTER]["indicators"]}
    assert before["verified_savings_rate"]["value"] is None  # no reporting period yet
    assert after["verified_savings_rate"]["value"] > 5.0
    assert (
        after["compressed_air_specific_power"]["value"]
        < 0.95 * before["compressed_air_specific_power"]["value"]
    )
    assert after["unit_product_energy"]["value"] < before["unit_product_energy"]["value"]
    # the demo's curves are set, declared values carry their evidence, nothing rates on a placeholder
    assert not any(item["curve"]["placeholder"] for item in packages[AFTER]["indicators"])
    water = after["water_reuse_rate"]
    assert water["source"] == "declared"
    assert water["method"].startswith("demo: example value")


def test_the_packages_validate_against_the_schema(packages: dict[str, dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    for package in packages.values():
        validator.validate(json.loads(package_json(package)))


def test_the_pre_retrofit_months_sit_inside_the_demo_curves(packages: dict[str, dict[str, Any]]) -> None:
    before = {item["id"]: item for item in packages[BEFORE]["indicators"]}
    for key in ("unit_product_energy", "unit_product_carbon", "compressed_air_specific_power"):
        assert 0 < before[key]["points"] < before[key]["max_points"], key


def test_the_demo_config_declares_its_site_rating_file(
    demo: tuple[LoadedConfig, Path], packages: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    loaded, history = demo
    blank_rating = tmp_path / "blank.yaml"  # no declared values, the rubric's placeholder curves
    blank_rating.write_text("site: demo-factory\nrubric: chongqing_default\n", encoding="utf-8")
    assert demo_rating_path() == DEMO_RATING
    assert loaded.config.analytics.rating.site_file == DEMO_RATING
    from_config = site_rating_provider(loaded, history)(AFTER)
    assert from_config is not None
    assert from_config["total"]["points"] == pytest.approx(packages[AFTER]["total"]["points"])
    blank = site_rating_provider(loaded, history, site_file=blank_rating)(AFTER)
    assert blank is not None
    assert blank["total"]["points"] < from_config["total"]["points"] - 30  # declared values count


# ---------------------------------------------------------------- one model, every view


def _cli(module: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    parser = argparse.ArgumentParser()
    module.add_parsers(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = args.func(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


@pytest.fixture(scope="module")
def dashboard(demo: tuple[LoadedConfig, Path]) -> TestClient:
    """The dashboard the way `energy-agent run` builds it: settings and rating from the config."""
    loaded, history = demo
    settings = settings_for(loaded.config, config_path=loaded.path)
    source = HistorySource(history, settings, rating=site_rating_provider(loaded, history))
    return TestClient(create_app(source))


def test_the_rating_command_equals_the_dashboard_rating(
    demo: tuple[LoadedConfig, Path],
    dashboard: TestClient,
    packages: dict[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    loaded, _ = demo
    for period in (BEFORE, AFTER):
        cli = json.loads(_cli(rating_cmd, ["rating", str(loaded.path), "--period", period, "--json"], capsys))
        api = dashboard.get("/api/rating", params={"period": period}).json()
        assert api["available"], api
        web = api["package"]
        assert web["total"]["points"] == pytest.approx(cli["total"]["points"])
        assert web["grade"]["grade"] == cli["grade"]["grade"]
        assert _points(web) == pytest.approx(_points(cli))
        # without --site-rating: the config's file (declared values, site curves) is in use
        assert cli["total"]["points"] == pytest.approx(packages[period]["total"]["points"])


def test_every_view_shows_the_same_site_energy_production_and_energy_per_product(
    demo: tuple[LoadedConfig, Path], dashboard: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    loaded, _ = demo
    config = str(loaded.path)
    api = dashboard.get("/api/energy", params={"start": "2025-06-01", "end": "2025-07-01", "freq": "day"})
    site = api.json()["site"]
    assert site["site_meters"] == ["main_meter"]
    assert site["completeness"] == pytest.approx(1.0)
    assert site["production"] > 0
    saved = json.loads(
        _cli(savings_cmd, ["savings", config, "--reporting", "2025-06-01:2025-06-30", "--json"], capsys)
    )["site"]
    for key in ("energy_kwh", "production", "eui_kwh_per_unit"):
        assert saved[key] == pytest.approx(site[key], rel=1e-12), key
    _cli(web_cmds, ["report", config, "--period", AFTER, "--out", str(tmp_path), "--no-pdf"], capsys)
    html = (tmp_path / f"report-demo-factory-{AFTER}.html").read_text(encoding="utf-8")
    row = f"<td>main_meter</td><td>{site['energy_kwh']:,.0f}</td><td>{site['production']:,.3f}</td>"
    assert row + f"<td>{site['eui_kwh_per_unit']:,.4f}</td>" in html
    package = json.loads(_cli(rating_cmd, ["rating", config, "--period", AFTER, "--json"], capsys))
    upe = next(i for i in package["indicators"] if i["id"] == "unit_product_energy")
    assert f"site meters main_meter: {site['energy_kwh']:.1f} kWh" in upe["method"]
    assert f"/ {site['production']:g} t produced" in upe["method"]
    assert upe["value"] == pytest.approx(site["eui_kwh_per_unit"] * 0.1229)  # kgce/t from the same kWh/t
