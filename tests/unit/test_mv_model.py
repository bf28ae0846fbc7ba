"""One M&V model of the site: every view reads the same definitions from the site config.

The synthetic site (tests/e2e/synthetic.py) cuts every meter by exactly 10 % after 2025-07-19. Each
test writes a site config (the way a user does), and compares what `energy-agent savings --json`,
the dashboard's JSON API, the report and `energy-agent rating` show for it: production under any
series name, the site energy as the sum of the site meters, non-routine adjustments from the config.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import textwrap
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.cli import rating_cmd, savings_cmd, web_cmds
from agent.config.loader import LoadedConfig, load_config
from agent.errors import ConfigError
from agent.rating.site import site_rating_provider
from agent.web import HistorySource, create_app
from agent.web.settings import settings_for
from tests.e2e.synthetic import NOW, REDUCTION, SyntheticSite, build_site

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's test client warns about its own httpx transport
    from fastapi.testclient import TestClient

PERIOD = "2025-09"
GENERATED = datetime(2025, 10, 15, tzinfo=UTC)
MAIN = "  - {name: main, bus: tcp, unit_id: 1, profile: eastron/sdm630}\n"
ADJUSTMENT_KWH = 30_000.0  # a new line from 2025-09-01 to 2025-09-10 the baseline does not know


def site_yaml(analytics: str = "", devices: str = MAIN, production: str = "{unit: t}") -> str:
    return (
        textwrap.dedent(
            """\
            site: {name: synthetic-plant, timezone: Asia/Shanghai}
            buses:
              - {name: tcp, type: tcp, host: 127.0.0.1}
            sinks:
              local_store: {path: store}
            """
        )
        + "devices:\n"
        + devices
        + "analytics:\n"
        + textwrap.indent(
            textwrap.dedent(
                """\
                production: PRODUCTION
                baseline: {period_start: 2025-01-01, period_end: 2025-07-20}
                """
            ).replace("PRODUCTION", production)
            + textwrap.dedent(analytics),
            "  ",
        )
    )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSite:
    return build_site(tmp_path_factory.mktemp("mv-model") / "history.db")


def make_site(tmp_path: Path, synthetic: SyntheticSite, yaml_text: str) -> LoadedConfig:
    """The config at tmp_path/site.yaml, and the synthetic history where the config's store is."""
    (tmp_path / "store").mkdir(parents=True)
    shutil.copy(synthetic.path, tmp_path / "store" / "history.db")
    (tmp_path / "site.yaml").write_text(yaml_text, encoding="utf-8")
    return load_config(tmp_path / "site.yaml")


def cli(module: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    module.add_parsers(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out + ("" if code == 0 else captured.err)


def savings_cli(loaded: LoadedConfig, capsys: pytest.CaptureFixture[str], *reporting: str) -> dict[str, Any]:
    argv = ["savings", str(loaded.path), "--replay", "--json", *reporting]
    code, out = cli(savings_cmd, argv, capsys)
    assert code == 0, out
    result: dict[str, Any] = json.loads(out)
    return result


def rating_cli(loaded: LoadedConfig, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    argv = ["rating", str(loaded.path), "--period", PERIOD, "--json", "--generated-at", GENERATED.isoformat()]
    code, out = cli(rating_cmd, argv, capsys)
    assert code == 0, out
    package: dict[str, Any] = json.loads(out)
    return package


def dashboard(loaded: LoadedConfig) -> TestClient:
    history = loaded.path.parent / "store" / "history.db"
    source = HistorySource(
        history,
        settings_for(loaded.config, config_path=loaded.path),
        rating=site_rating_provider(loaded, history),
        clock=lambda: NOW,
    )
    return TestClient(create_app(source))


def indicator(package: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in package["indicators"] if i["id"] == key)
    return found


# ---------------------------------------------------------------- production under another name


def test_production_under_another_series_name_gives_the_same_savings_everywhere(
    tmp_path: Path, synthetic: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    default = make_site(tmp_path / "default", synthetic, site_yaml())
    tonnes = make_site(tmp_path / "tonnes", synthetic, site_yaml(production="{unit: t, column: tonnes}"))
    with sqlite3.connect(tonnes.path.parent / "store" / "history.db") as db:  # only the name differs
        db.execute("UPDATE series SET name = 'tonnes' WHERE name = 'production'")
    results = {}
    for name, loaded in (("default", default), ("tonnes", tonnes)):
        cli_result = savings_cli(loaded, capsys)
        api = dashboard(loaded).get("/api/savings").json()
        package = rating_cli(loaded, capsys)
        results[name] = (cli_result, api, package)
    cli_default, api_default, rating_default = results["default"]
    cli_tonnes, api_tonnes, rating_tonnes = results["tonnes"]
    # production is in the model, and the 10 % the retrofit saved comes out, under either name
    assert "production" in cli_tonnes["baseline"]["coefficients"]
    assert cli_tonnes["baseline"]["stats"]["r2"] > 0.9
    assert cli_tonnes["fraction"] == pytest.approx(REDUCTION, abs=0.01)
    assert cli_tonnes["verdict"]["passed"]
    assert any(check.startswith("fsu_68 ") for check in cli_tonnes["verdict"]["checks"])  # issue 16's checks
    assert cli_tonnes["savings_kwh"] == pytest.approx(cli_default["savings_kwh"], rel=1e-9)
    assert api_tonnes["savings_kwh"] == pytest.approx(api_default["savings_kwh"], rel=1e-9)
    assert api_tonnes["savings_kwh"] == pytest.approx(cli_tonnes["savings_kwh"], rel=1e-9)
    assert cli_tonnes["site"]["production"] == pytest.approx(cli_default["site"]["production"])
    rate_tonnes = indicator(rating_tonnes, "verified_savings_rate")["value"]
    assert rate_tonnes == pytest.approx(indicator(rating_default, "verified_savings_rate")["value"])
    assert rate_tonnes == pytest.approx(100 * REDUCTION, abs=1.0)
    assert indicator(rating_tonnes, "unit_product_energy")["value"] == pytest.approx(
        indicator(rating_default, "unit_product_energy")["value"]
    )


# ---------------------------------------------------------------- site energy: the sum of the site meters


def test_site_energy_is_the_sum_of_the_root_meters_on_every_view(
    tmp_path: Path, synthetic: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = (
        "  - {name: main, bus: tcp, unit_id: 1, profile: eastron/sdm630}\n"
        "  - {name: air-room, bus: tcp, unit_id: 2, profile: eastron/sdm630}\n"  # a second incomer
    )
    loaded = make_site(tmp_path, synthetic, site_yaml(devices=devices))
    september = synthetic.energy.loc["2025-08-31 16:00":"2025-09-30 15:45", ["main", "air-room"]]  # type: ignore[misc]
    expected = float(september.sum().sum())
    client = dashboard(loaded)
    api = client.get("/api/energy", params={"start": "2025-09-01", "end": "2025-10-01", "freq": "day"}).json()
    saved = savings_cli(loaded, capsys, "--reporting", "2025-09-01:2025-09-30")
    package = rating_cli(loaded, capsys)
    assert api["site"]["site_meters"] == ["air-room", "main"]
    assert api["site"]["energy_kwh"] == pytest.approx(expected)
    assert saved["site"]["energy_kwh"] == pytest.approx(expected)
    method = indicator(package, "unit_product_energy")["method"]
    assert f"site meters air-room, main: {expected:.1f} kWh" in method
    overview = client.get("/api/overview").json()
    assert overview["site_meters"] == ["air-room", "main"]
    assert overview["site_meter"] == "air-room + main"


def test_an_explicit_site_meter_list_wins_over_the_tree(
    tmp_path: Path, synthetic: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = (
        "  - {name: main, bus: tcp, unit_id: 1, profile: eastron/sdm630}\n"
        "  - {name: air-room, bus: tcp, unit_id: 2, profile: eastron/sdm630}\n"
    )
    loaded = make_site(tmp_path, synthetic, site_yaml("site_meters: [main]\n", devices=devices))
    saved = savings_cli(loaded, capsys, "--reporting", "2025-09-01:2025-09-30")
    assert saved["site"]["site_meters"] == ["main"]
    assert "site meters main: " in indicator(rating_cli(loaded, capsys), "unit_product_energy")["method"]


# ---------------------------------------------------------------- non-routine adjustments


ADJUSTED = f"""\
adjustments:
  - {{start: 2025-09-01, end: 2025-09-10, kwh: {ADJUSTMENT_KWH}, reason: new coating line commissioned}}
"""


def test_adjustments_from_the_config_reach_savings_dashboard_report_and_rating(
    tmp_path: Path, synthetic: SyntheticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = make_site(tmp_path / "plain", synthetic, site_yaml())
    adjusted = make_site(tmp_path / "adjusted", synthetic, site_yaml(ADJUSTED))
    september = ("--reporting", "2025-09-01:2025-09-30")
    before, after = savings_cli(plain, capsys, *september), savings_cli(adjusted, capsys, *september)
    assert after["non_routine_kwh"] == pytest.approx(ADJUSTMENT_KWH)
    assert after["savings_kwh"] == pytest.approx(before["savings_kwh"] + ADJUSTMENT_KWH)
    assert after["adjustments"] == [
        {
            "start": "2025-09-01",
            "end": "2025-09-10",
            "kwh": pytest.approx(ADJUSTMENT_KWH),
            "kwh_per_day": pytest.approx(ADJUSTMENT_KWH / 10),
            "reason": "new coating line commissioned",
            "days_applied": 10,
        }
    ]
    api = dashboard(adjusted).get("/api/savings", params={"start": "2025-09-01", "end": "2025-09-30"}).json()
    assert api["savings_kwh"] == pytest.approx(after["savings_kwh"])
    # a reporting window that covers half of the adjustment gets half of it
    half = savings_cli(adjusted, capsys, "--reporting", "2025-09-06:2025-09-30")
    assert half["non_routine_kwh"] == pytest.approx(ADJUSTMENT_KWH / 2)
    # the whole reporting period to date includes it once
    assert savings_cli(adjusted, capsys)["non_routine_kwh"] == pytest.approx(ADJUSTMENT_KWH)
    rate = indicator(rating_cli(adjusted, capsys), "verified_savings_rate")
    assert rate["value"] == pytest.approx(100 * after["fraction"])
    assert "non-routine adjustments +30000.0 kWh" in rate["method"]
    code, out = cli(
        web_cmds,
        ["report", str(adjusted.path), "--period", PERIOD, "--out", str(tmp_path), "--no-pdf", "--replay"],
        capsys,
    )
    assert code == 0
    html = Path(out.strip()).read_text(encoding="utf-8")
    assert "new coating line commissioned" in html
    assert "30,000" in html


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{start: 2025-09-10, end: 2025-09-01, kwh: 10, reason: backwards}", "before start"),
        ("{start: 2025-09-01, end: 2025-09-10, kwh: 10, kwh_per_day: 1, reason: both}", "exactly one"),
        ("{start: 2025-09-01, end: 2025-09-10, reason: neither}", "exactly one"),
        ("{start: 2025-09-01, end: 2025-09-10, kwh: 10}", "reason"),
    ],
)
def test_a_bad_adjustment_is_reported_with_its_line(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(site_yaml(f"adjustments:\n  - {entry}\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    issue = caught.value.issues[0]
    assert issue.path.startswith("analytics.adjustments[0]")
    assert issue.line == path.read_text(encoding="utf-8").splitlines().index(f"    - {entry}") + 1
    assert message in str(issue)


def test_a_missing_site_rating_file_or_unknown_site_meter_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        site_yaml("site_meters: [mian]\nrating: {site_file: rating/site.yaml}\n"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    found = {issue.path: issue for issue in caught.value.issues}
    assert "unknown device 'mian'" in found["analytics.site_meters[0]"].message
    assert found["analytics.site_meters[0]"].line == lines.index("  site_meters: [mian]") + 1
    assert f"no such file: {tmp_path / 'rating' / 'site.yaml'}" in found["analytics.rating.site_file"].message
    assert (
        found["analytics.rating.site_file"].line == lines.index("  rating: {site_file: rating/site.yaml}") + 1
    )


def test_validate_checks_the_site_rating_file_the_config_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import config_cmds

    rating = tmp_path / "rating.yaml"
    bad = "site: synthetic-plant\ndeclared:\n  no_such_indicator: {value: 1, unit: x, evidence: e}\n"
    rating.write_text(bad, encoding="utf-8")
    path = tmp_path / "site.yaml"
    path.write_text(site_yaml("rating: {site_file: rating.yaml}\n"), encoding="utf-8")
    code, out = cli(config_cmds, ["validate", str(path)], capsys)
    assert code == 1
    assert f"{rating}:3: declared.no_such_indicator: rubric 'chongqing_default' has no indicator" in out


def test_the_rating_factory_refuses_a_bad_site_rating_file_at_start(tmp_path: Path) -> None:
    rating = tmp_path / "rating.yaml"
    rating.write_text(
        "site: synthetic-plant\ncurves: {unit_product_energy: {curve: linear}}\n", encoding="utf-8"
    )
    path = tmp_path / "site.yaml"
    path.write_text(site_yaml("rating: {site_file: rating.yaml}\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        site_rating_provider(load_config(path), tmp_path / "no-history-yet.db")
    assert all(issue.file == str(rating) and issue.line == 2 for issue in caught.value.issues)
