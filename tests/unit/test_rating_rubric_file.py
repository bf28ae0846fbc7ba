"""Rubric and site rating files: the shipped ones load; broken ones report every problem with file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.rating.files import default_rubric_path, load_rubric, load_site_rating
from agent.rating.rubric import ValueSource

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SITE = REPO / "edge_configs" / "rating" / "example_site_rating.yaml"

# fmt: off
MINIMAL = """\
id: tiny
version: "1"
title: tiny rubric
notice: test only
total_points: 10
dimensions:
  - id: energy
    name: {zh: 能源, en: energy}
    weight: 10
indicators:
  - id: energy_per_t
    name: {zh: 单耗, en: energy per t}
    dimension: energy
    points: 10
    unit: kgce/t
    method: kgce / t
    direction: lower_is_better
    source: measured
    scoring: {curve: linear, access: 100, advanced: 80}
grades:
  - {grade: A, min_points: 6, tier: green_factory}
  - {grade: B, min_points: 0, tier: reserve}
"""
# fmt: on


def write(tmp_path: Path, text: str, name: str = "rubric.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def messages(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    return [str(issue).replace(str(path), "F") for issue in info.value.issues]


def test_the_minimal_rubric_loads(tmp_path: Path) -> None:
    rubric = load_rubric(write(tmp_path, MINIMAL))
    assert rubric.indicator("energy_per_t").scoring.linear_bounds() == (100, 80)
    assert rubric.official is False


def test_field_errors_name_file_line_and_path(tmp_path: Path) -> None:
    broken = (
        MINIMAL.replace("direction: lower_is_better", "direction: lower")
        .replace("    points: 10\n", "    points: 10\n    weigth: 3\n")
        .replace("access: 100, advanced: 80", "access: 100, advanced: 120")
    )
    found = messages(write(tmp_path, broken))
    assert any(m.startswith("F:18: indicators[0].direction: Input should be") for m in found), found
    assert "F:15: indicators[0].weigth: unknown field (check the spelling and the indentation)" in found
    assert len(found) == 2  # the curve check runs once the direction is valid


def test_a_curve_against_its_direction_names_the_indicator_line(tmp_path: Path) -> None:
    found = messages(
        write(tmp_path, MINIMAL.replace("access: 100, advanced: 80", "access: 100, advanced: 120"))
    )
    assert found == ["F:11: indicators[0]: lower_is_better: `advanced` (120) must be below `access` (100)"]


def test_cross_field_problems_are_all_reported_at_their_lines(tmp_path: Path) -> None:
    broken = (
        MINIMAL.replace("dimension: energy\n", "dimension: energie\n")
        .replace("weight: 10", "weight: 12")
        .replace("{grade: B, min_points: 0", "{grade: B, min_points: 1")
    )
    found = messages(write(tmp_path, broken))
    assert found == [
        "F:5: total_points: 10 differs from the sum of the dimension weights (12)",
        "F:9: dimensions[0].weight: weight 12 differs from the sum of its indicators' points (0)",
        "F:13: indicators[0].dimension: unknown dimension 'energie' (known: energy)",
        "F:22: grades[1].min_points: the lowest grade must start at 0 points so that every total has a grade",
    ]


def test_yaml_syntax_and_duplicate_keys_are_located(tmp_path: Path) -> None:
    assert messages(write(tmp_path, MINIMAL.replace("title: tiny rubric", "title: [tiny")))[0].startswith(
        "F:"
    )
    duplicated = MINIMAL.replace('version: "1"\n', 'version: "1"\nversion: "2"\n')
    assert messages(write(tmp_path, duplicated))[0].startswith("F:3: version: duplicate key 'version'")


def test_empty_sections_are_reported(tmp_path: Path) -> None:
    empty = MINIMAL.split("grades:")[0] + "grades: []\n"
    assert messages(write(tmp_path, empty)) == ["F:20: grades: at least one entry is required"]


def test_the_default_rubric_is_an_editable_default_of_100_points() -> None:
    rubric = load_rubric(default_rubric_path())
    assert rubric.official is False
    assert "not the official" in rubric.notice
    assert rubric.total_points == 100
    assert [d.id for d in rubric.dimensions] == [
        "energy_consumption",
        "ecological_environment",
        "green_development",
        "production_operation",
    ]
    assert [(g.grade, g.min_points) for g in rubric.grades] == [
        ("AAAA", 90),
        ("AAA", 80),
        ("AA", 70),
        ("A", 60),
        ("B", 50),
        ("C", 40),
        ("D", 0),
    ]
    measured_ids = {i.id for i in rubric.indicators if i.source is ValueSource.MEASURED}
    assert {
        "unit_product_energy",
        "unit_product_carbon",
        "energy_per_output_value",
        "unit_energy_yoy_reduction",
        "verified_savings_rate",
        "metering_coverage",
        "data_completeness",
        "compressed_air_specific_power",
    } <= measured_ids
    # sector-specific curves ship as placeholders, never as numbers that look official
    for sector_specific in ("unit_product_energy", "unit_product_carbon", "compressed_air_specific_power"):
        assert rubric.indicator(sector_specific).placeholder


def test_default_rubric_weights_quantitative_energy_carbon_resource_near_60_percent() -> None:
    rubric = load_rubric(default_rubric_path())
    quantitative = sum(
        i.points
        for i in rubric.indicators
        if i.gbt36132 is not None
        and i.gbt36132.value in {"energy_low_carbon", "resource_efficiency", "intensive_land_use"}
        and i.scoring.curve == "linear"
    )
    assert 50 <= quantitative <= 65


def test_the_example_site_file_loads_and_replaces_a_placeholder_curve() -> None:
    rubric = load_rubric(default_rubric_path())
    site = load_site_rating(EXAMPLE_SITE, rubric)
    assert site.site == "example-plant"
    assert site.declared["iso50001_certified"].source is ValueSource.DECLARED
    air = site.rubric.indicator("compressed_air_specific_power")
    assert not air.placeholder
    assert air.scoring.linear_bounds() == (7.0, 5.5)
    assert "Site curve:" in air.basis
    assert rubric.indicator("compressed_air_specific_power").placeholder  # the shared rubric is untouched


def test_site_file_problems_are_reported_with_lines(tmp_path: Path) -> None:
    rubric = load_rubric(default_rubric_path())
    path = write(
        tmp_path,
        """\
        site: plant
        rubric: other_rubric
        declared:
          water_reuse_rate: {value: 80, unit: percent, evidence: test}
          solar_roof: {value: 1, unit: kW, evidence: x}
          iso14001_certified: {value: 1, unit: yes=1/no=0}
        curves:
          unit_product_energy: {curve: linear, access: 80, advanced: 100, source: GB xxx}
        """,
        "site.yaml",
    )
    with pytest.raises(ConfigError) as info:
        load_site_rating(path, rubric)
    found = [str(i).replace(str(path), "F") for i in info.value.issues]
    assert found == ["F:6: declared.iso14001_certified.evidence: required field is missing"]
    path.write_text(
        path.read_text(encoding="utf-8").replace("yes=1/no=0}", "yes=1/no=0, evidence: cert}"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_site_rating(path, rubric)
    found = [str(i).replace(str(path), "F") for i in info.value.issues]
    assert found == [
        "F:2: rubric: written for rubric 'other_rubric', but rubric 'chongqing_default' is in use",
        "F:4: declared.water_reuse_rate.unit: unit 'percent' differs from the rubric's '%'",
        "F:5: declared.solar_roof: rubric 'chongqing_default' has no indicator 'solar_roof'",
        "F:8: curves.unit_product_energy: lower_is_better: `advanced` (100) must be below `access` (80)",
    ]


def test_every_default_indicator_is_explained_in_the_docs() -> None:
    docs = (REPO / "docs" / "rating.md").read_text(encoding="utf-8")
    rubric = load_rubric(default_rubric_path())
    assert [i.id for i in rubric.indicators if f"| `{i.id}` |" not in docs] == []
    assert "not public" in docs
