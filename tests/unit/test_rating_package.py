"""The rating data package: valid against its JSON Schema, byte-reproducible, and its CSV view."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent import __version__
from agent.rating.files import default_rubric_path, load_rubric, load_site_rating, write_package
from agent.rating.package import CSV_COLUMNS, build_package, package_csv, package_json
from agent.rating.period import parse_period
from agent.rating.values import measured

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "schemas" / "rating" / "package.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
GENERATED = datetime(2026, 11, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))


@dataclass(frozen=True)
class Factor:
    """Shaped like analytics' FactorUsed; the package only reads the attributes."""

    name: str
    value: float
    unit: str
    source: str
    confirmed: bool = True


FACTORS = [
    Factor("electricity -> standard coal", 0.1229, "kgce/kWh", "GB/T 2589-2020"),
    Factor("grid CO2", 0.5306, "kgCO2/kWh", "MEE/NBS 2023 national average"),
]


def measured_values() -> dict[str, Any]:
    return {
        "unit_product_energy": measured(92.123456789, "kgce/t", "analytics.eui: kgce / t", 0.97),
        "unit_product_carbon": measured(171.3, "kgCO2/t", "analytics.co2", 0.97),
        "metering_coverage": measured(95, "%", "analytics.metering (GB 17167-2006)", 1.0),
        "compressed_air_specific_power": measured(6.4, "kW/(m3/min)", "analytics.compressors", 0.85),
        "data_completeness": measured(96.5, "%", "analytics.completeness", 0.965),
    }


def example_package(**overrides: Any) -> dict[str, Any]:
    rubric = load_rubric(default_rubric_path())
    site = load_site_rating(REPO / "edge_configs" / "rating" / "example_site_rating.yaml", rubric)
    arguments: dict[str, Any] = {
        "period": parse_period("2026-10"),
        "site": site.site,
        "factors": FACTORS,
        "generated_at": GENERATED,
    }
    arguments.update(overrides)
    return build_package(site.rubric, measured_values(), site.declared, **arguments)


def test_package_validates_against_the_schema() -> None:
    package = example_package()
    errors = [f"{list(e.path)}: {e.message}" for e in VALIDATOR.iter_errors(package)]
    assert errors == []


def test_package_states_what_it_is_built_on() -> None:
    package = example_package()
    assert package["agent_version"] == __version__
    assert package["generated_at"] == "2026-11-01T00:30:00Z"
    assert package["period"] == {
        "kind": "month",
        "label": "2026-10",
        "start": "2026-10-01",
        "end": "2026-11-01",
    }
    assert package["rubric"]["official"] is False
    assert "not the official" in package["warnings"][0]
    assert package["factors"][1] == {
        "name": "grid CO2",
        "value": 0.5306,
        "unit": "kgCO2/kWh",
        "source": "MEE/NBS 2023 national average",
        "confirmed": True,
    }
    assert package["provisional"] is True
    by_id = {i["id"]: i for i in package["indicators"]}
    assert by_id["unit_product_energy"]["value"] == 92.123457  # fixed decimals, stable text
    assert by_id["verified_savings_rate"]["flags"] == ["missing"]
    assert by_id["compressed_air_specific_power"]["curve"]["placeholder"] is False  # the site set it
    assert by_id["water_reuse_rate"]["source"] == "declared"


def test_a_broken_package_fails_the_schema() -> None:
    package = example_package()
    package["indicators"][0]["value"] = None  # a missing value must come with 0 points and the flag
    assert not VALIDATOR.is_valid(package)
    package = example_package()
    package["grade"]["tier"] = "gold"
    assert not VALIDATOR.is_valid(package)


def test_same_inputs_give_byte_identical_json_and_csv() -> None:
    first, second = example_package(), example_package()
    assert package_json(first).encode() == package_json(second).encode()
    assert package_csv(first) == package_csv(second)


def test_only_generation_time_differs_between_runs_at_different_times() -> None:
    first = package_json(example_package())
    later = package_json(example_package(generated_at=GENERATED + timedelta(days=3)))
    differing = [(a, b) for a, b in zip(first.splitlines(), later.splitlines(), strict=True) if a != b]
    assert differing == [
        ('  "generated_at": "2026-11-01T00:30:00Z",', '  "generated_at": "2026-11-04T00:30:00Z",')
    ]


def test_generation_time_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        example_package(generated_at=datetime(2026, 11, 1))  # noqa: DTZ001 - the naive time is the point


def test_csv_has_one_row_per_indicator() -> None:
    package = example_package()
    rows = list(csv.DictReader(io.StringIO(package_csv(package))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["indicator_id"] for r in rows] == [i["id"] for i in package["indicators"]]
    energy = rows[0]
    assert (energy["value"], energy["unit"], energy["source"], energy["points"]) == (
        "92.123457",
        "kgce/t",
        "measured",
        "3.150617",
    )
    missing = next(r for r in rows if r["indicator_id"] == "verified_savings_rate")
    assert (missing["value"], missing["points"], missing["flags"]) == ("", "0.0", "missing")


def test_write_package_writes_json_and_csv(tmp_path: Path) -> None:
    package = example_package()
    write_package(package, tmp_path / "rating.json")
    write_package(package, tmp_path / "rating.csv", fmt="csv")
    assert json.loads((tmp_path / "rating.json").read_text(encoding="utf-8")) == package
    assert (tmp_path / "rating.csv").read_text(encoding="utf-8") == package_csv(package)
    with pytest.raises(ValueError, match="unknown package format"):
        write_package(package, tmp_path / "x", fmt="xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026-10", "month", date(2026, 10, 1), date(2026, 11, 1)),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2027, 1, 1)),
        ("2026-q1", "quarter", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026", "year", date(2026, 1, 1), date(2027, 1, 1)),
    ],
)
def test_periods(text: str, kind: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26-10", "2026/10", ""])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


def test_negative_zero_and_utc_input_render_stably() -> None:
    package = example_package(
        generated_at=datetime(2026, 11, 1, tzinfo=UTC), factors=[Factor("f", -0.0, "u", "s")]
    )
    assert '"value": 0.0' in package_json(package)
