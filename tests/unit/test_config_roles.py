"""Roles: profile points that the live recorder turns into history series, and the site's sources."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.config.loader import load_config
from agent.config.profile import NumericPoint, Profile, Role
from agent.errors import ConfigError

SITE = """\
site: {name: plant, timezone: Asia/Shanghai}
buses:
  - {name: tcp1, type: tcp, host: 127.0.0.1}
devices:
  - {name: main, bus: tcp1, unit_id: 1, profile: eastron/sdm630}
  - {name: line_1, bus: tcp1, unit_id: 2, profile: generic/production_counter, carrier: none}
  - {name: outside, bus: tcp1, unit_id: 3, profile: generic/temperature_sensor, carrier: none}
  - {name: ac1, bus: tcp1, unit_id: 4, profile: generic/compressor_load_unload,
     points: [state, discharge_pressure_bar]}
analytics:
  production:
    unit: t
    sources:
{sources}
{temperature}
"""


def load(tmp_path: Path, sources: str, temperature: str = "") -> object:
    path = tmp_path / "site.yaml"
    text = SITE.replace("{sources}", textwrap.indent(sources, " " * 6)).replace("{temperature}", temperature)
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def issues(tmp_path: Path, sources: str, temperature: str = "") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, sources, temperature)
    return [str(i) for i in info.value.issues]


def test_sources_resolve_to_the_profiles_role_points(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "- {device: line_1, factor: 0.0000005}\n",
        "  temperature: {device: outside}\n",
    )
    analytics = loaded.config.analytics  # type: ignore[attr-defined]
    assert analytics.production.sources[0].factor == 5e-7
    assert analytics.temperature.device == "outside"


def test_a_source_naming_a_missing_device_or_point_is_an_error_at_its_line(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        "- {device: line_9}\n- {device: line_1, point: units_bogus}\n",
        "  temperature: {device: main}\n",
    )
    assert any("site.yaml:14" in i and "unknown device 'line_9'" in i for i in found), found
    assert any("site.yaml:15" in i and "no point 'units_bogus'" in i for i in found), found
    assert any("site.yaml:17" in i and "no point with role outdoor_temperature" in i for i in found), found


def test_a_source_must_suit_its_role_and_be_polled(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        "- {device: line_1, point: line_speed_units_per_h}\n- {device: line_1}\n- {device: line_1}\n",
        "  temperature: {device: ac1, point: discharge_temperature_c}\n",
    )
    assert any("line_speed_units_per_h must be a counter" in i for i in found), found
    assert any("would count twice" in i and "site.yaml:16" in i for i in found), found
    assert any("does not poll 'discharge_temperature_c'" in i for i in found), found


def _point(**fields: object) -> dict[str, object]:
    return {"name": "p", "function": "input", "address": 0, "dtype": "uint32", **fields}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"role": "loaded_hours", "unit": "h"}, "needs kind: counter"),
        ({"role": "discharge_pressure", "unit": "bar", "kind": "counter"}, "needs a gauge"),
        ({"role": "discharge_pressure", "unit": "inH2O"}, "unit 'inH2O' is not one of"),
        ({"role": "compressor_state"}, "needs `states`"),
        ({"states": {"loaded": [2]}}, "needs `states`"),
    ],
)
def test_a_profile_point_role_must_fit_the_point(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NumericPoint.model_validate(_point(**fields))


def test_a_role_is_on_one_point_of_a_profile() -> None:
    points = [
        _point(role="air_total", unit="m3", kind="counter"),
        {**_point(), "name": "q", "role": "air_total", "unit": "m3", "kind": "counter"},
    ]
    with pytest.raises(ValidationError, match="role air_total is on both 'p' and 'q'"):
        Profile.model_validate(
            {"id": "x/y", "vendor": "x", "model": "y", "device_kind": "other", "points": points}
        )


def test_units_convert_to_the_recorders_units() -> None:
    point = NumericPoint.model_validate(_point(role="running_hours", unit="min", kind="counter"))
    assert point.role is Role.RUNNING_HOURS
