"""`energy-agent rating CONFIG --period P`: package files that validate, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.cli import rating_cmd
from agent.rating.package import CSV_COLUMNS
from tests.unit.test_rating_measure import Site, make_site, write_days

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "rating" / "package.schema.json").read_text("utf-8")
)
EXAMPLE_SITE_RATING = (
    Path(__file__).resolve().parents[2] / "edge_configs" / "rating" / "example_site_rating.yaml"
)
FIXED_TIME = "2026-11-05T08:00:00+08:00"


def rating(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="energy-agent")
    rating_cmd.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["rating", *argv])
    code: int = args.func(args)
    return code


@pytest.fixture
def site(tmp_path: Path) -> Site:
    made = make_site(tmp_path, "production: {unit: t, output_value_yuan_per_unit: 1000}\n")
    write_days(made.history, date(2026, 10, 1), 31)
    return made


def _config(site: Site) -> str:
    return str(site.loaded.path)


def test_out_writes_json_that_validates_against_the_package_schema(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "rating-2026-10.json"
    assert rating(_config(site), "--period", "2026-10", "--out", str(out)) == 0
    package: dict[str, Any] = json.loads(out.read_text("utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(package)
    energy = next(i for i in package["indicators"] if i["id"] == "unit_product_energy")
    assert energy["value"] == pytest.approx(1.229)
    assert package["period"] == {
        "kind": "month",
        "label": "2026-10",
        "start": "2026-10-01",
        "end": "2026-11-01",
    }


def test_the_site_rating_file_supplies_declared_values(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--period", "2026-10", "--site-rating", str(EXAMPLE_SITE_RATING), "--json"]
    assert rating(_config(site), *argv, "--generated-at", FIXED_TIME) == 0
    package = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(SCHEMA).validate(package)
    iso = next(i for i in package["indicators"] if i["id"] == "iso50001_certified")
    assert (iso["source"], iso["points"]) == ("declared", 3.0)
    assert package["generated_at"] == "2026-11-05T00:00:00Z"
    assert any("site rating file is for 'example-plant'" in w for w in package["warnings"])


def test_the_same_inputs_give_the_same_bytes(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    texts = []
    for _ in range(2):
        assert rating(_config(site), "--period", "2026-10", "--json", "--generated-at", FIXED_TIME) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]


def test_csv_has_one_row_per_indicator(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    assert rating(_config(site), "--period", "2026-10", "--csv") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_id = {row[0]: row for row in rows[1:]}
    assert len(by_id) == 26
    assert by_id["data_completeness"][4] == "100.0"


def test_summary_names_the_grade_and_every_indicator(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    assert rating(_config(site), "--period", "2026-10") == 0
    out = capsys.readouterr().out
    assert out.startswith("test-plant 2026-10: ")
    assert "grade " in out.splitlines()[0]
    assert "unit_product_energy" in out
    assert "warning: not measured: unit_energy_yoy_reduction" in out


def test_summary_prints_scores_rounded_to_two_decimals() -> None:
    """Issue 20: `rating` printed "19.9837"; the package keeps the exact figure."""
    indicator = {"id": "unit_product_energy", "value": 1.22949, "value_unit": "kgce/t", "flags": []}
    package = {
        "site": "plant",
        "period": {"label": "2026-10"},
        "total": {"points": 19.9837, "max_points": 100.0},
        "grade": {"grade": "C"},
        "provisional": True,
        "indicators": [indicator | {"points": 7.125, "max_points": 8.0}],
        "warnings": [],
    }
    lines = rating_cmd._summary(package).splitlines()
    assert lines[0] == "plant 2026-10: 19.98 / 100 points, grade C (provisional)"
    assert lines[1].split()[-1] == "7.12/8"  # round half to even, as Python's round
    assert "19.9837" not in rating_cmd._summary(package)


@pytest.mark.parametrize("period", ["2026-13", "October", "2026-Q5", "26-10"])
def test_a_bad_period_exits_1_with_one_line(
    site: Site, period: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rating(_config(site), "--period", period) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"period {period!r}" in err


def test_an_empty_history_exits_2_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(tmp_path)
    write_days(site.history, date(2026, 8, 1), 1)  # data, but none in the period asked for
    assert rating(_config(site), "--period", "2026-10") == 2
    err = capsys.readouterr().err
    assert err == f"error: the history {site.history} holds no energy for 2026-10\n"


def test_a_missing_history_store_exits_2_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(tmp_path)
    assert rating(_config(site), "--period", "2026-10") == 2
    assert capsys.readouterr().err == f"error: no history store at {site.history}\n"
    assert not site.history.exists()


def test_a_broken_site_rating_file_exits_1_with_file_and_line(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "site_rating.yaml"
    broken.write_text(
        "site: test-plant\ndeclared:\n  no_such_indicator: {value: 1, unit: '%', evidence: x}\n"
    )
    assert rating(_config(site), "--period", "2026-10", "--site-rating", str(broken)) == 1
    assert "site_rating.yaml:3" in capsys.readouterr().err


def test_the_default_history_is_the_sites_local_store(site: Site, tmp_path: Path) -> None:
    assert site.history == (tmp_path / "store" / "history.db").resolve()


def test_cli_and_dashboard_show_the_same_provisional_reasons_and_unscored_indicator(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    from agent.rating.site import site_rating_provider
    from agent.web import HistorySource, create_app
    from agent.web.settings import settings_for

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's test client warns about its own httpx transport
        from fastapi.testclient import TestClient

    write_days(site.history, date(2025, 10, 1), 3)  # 3 days of last year: too little to score
    assert rating(_config(site), "--period", "2026-10", "--json", "--generated-at", FIXED_TIME) == 0
    cli = json.loads(capsys.readouterr().out)
    source = HistorySource(
        site.history,
        settings_for(site.loaded.config, config_path=site.loaded.path),
        rating=site_rating_provider(site.loaded, site.history),
    )
    api = TestClient(create_app(source)).get("/api/rating", params={"period": "2026-10"}).json()["package"]
    jsonschema.Draft202012Validator(SCHEMA).validate(api)
    for package in (cli, api):
        yoy = next(i for i in package["indicators"] if i["id"] == "unit_energy_yoy_reduction")
        assert (yoy["flags"], yoy["points"]) == (["low_completeness"], 0.0)
        assert package["provisional"] is True
    assert cli["provisional_reasons"] == api["provisional_reasons"]
    assert cli["total"] == api["total"]

    assert rating(_config(site), "--period", "2026-10") == 0
    out = capsys.readouterr().out
    assert "(provisional)" in out.splitlines()[0]
    assert "warning: data completeness below 90% (scored 0, as missing): unit_energy_yoy_reduction" in out
