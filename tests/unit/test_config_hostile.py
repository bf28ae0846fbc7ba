"""Hostile config files: each is a file:line error naming the field, never a traceback.

Every input here once gave a traceback in `validate`, or passed it while being wrong (issue 17,
findings 5 and 6). The site ones edit the known-good file of test_config.py; the profile ones put a
broken register map in the site's `profiles_dirs`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.config.registry import load_profile
from agent.errors import ConfigError, ConfigIssue
from tests.unit.test_config import GOOD

ENV = {"TEST_MQTT_PASSWORD": "s3cret"}


@dataclass(frozen=True)
class Hostile:
    name: str
    text: str  # the whole file
    line: int
    field: str
    fragment: str


def edit(old: str, new: str) -> str:
    assert old in GOOD, f"test edit does not apply: {old!r}"
    return GOOD.replace(old, new, 1)


def append(extra: str) -> str:
    return GOOD + textwrap.dedent(extra)


CONTROL = """\
control:
  mode: active
  rooms:
    - name: room1
      pressure_device: main
      minimum_bar: 6.0
      target_bar: 6.8
      machines:
        - {device: main, kind: vsd, rated_fad_m3_min: 8, rated_power_kw: 45}
"""


def compressor(extra: str) -> str:
    """GOOD with its main meter a VSD compressor controller (same lines), and `extra` appended."""
    return append(extra).replace(
        "profile: eastron/sdm630\n    interval_s", "profile: generic/compressor_vsd\n    interval_s", 1
    )


NESTED_5000 = "site: {name: plant}\nextra: " + "[" * 5000 + "]" * 5000 + "\n"
BLOCK_NESTED = "site:\n  name: plant\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(1, 200))

SITE_CASES = [
    # ---- finding 5: once a traceback
    Hostile("document marker alone", "---\n", 1, "", "empty"),
    Hostile("null document", "~\n", 1, "", "empty"),
    Hostile(
        "site is a word",
        edit(
            "site:\n  name: plant\n  timezone: Asia/Shanghai\n  areas:\n    - name: hall\n", "site: plant\n"
        ),
        1,
        "site",
        "expected a mapping",
    ),
    Hostile(
        "device name is a list",
        edit("  - name: main", "  - name: [main, x]"),
        16,
        "devices[0].name",
        "string",
    ),
    Hostile("device bus is a list", edit("    bus: tcp1", "    bus: [tcp1]"), 17, "devices[0].bus", "string"),
    Hostile(
        "device area is a list", edit("    area: hall", "    area: [hall]"), 21, "devices[0].area", "string"
    ),
    Hostile(
        "device parent is a list",
        edit("    parent: main", "    parent: [main]"),
        26,
        "devices[1].parent",
        "string",
    ),
    Hostile("bus name is a list", edit("  - name: tcp1", "  - name: [tcp1]"), 7, "buses[0].name", "string"),
    Hostile(
        "area name is a list",
        edit("    - name: hall", "    - name: {hall: 1}"),
        5,
        "site.areas[0].name",
        "string",
    ),
    Hostile(
        "impossible date",
        append("analytics: {baseline: {period_start: 2025-02-30}}\n"),
        31,
        "analytics.baseline.period_start",
        "not a valid date",
    ),
    Hostile(
        "!!int of a word",
        edit("    unit_id: 2", "    unit_id: !!int abc"),
        24,
        "devices[1].unit_id",
        "not a valid integer",
    ),
    Hostile(
        "!!float of a word",
        edit("    interval_s: 15", "    interval_s: !!float abc"),
        20,
        "devices[0].interval_s",
        "not a valid number",
    ),
    Hostile(
        "5,000-digit integer",
        edit("    unit_id: 2", "    unit_id: " + "9" * 5000),
        24,
        "devices[1].unit_id",
        "too large",
    ),
    Hostile(
        "unknown local tag",
        edit("    host: 127.0.0.1\n    timeout_s", "    host: !hostname gw\n    timeout_s"),
        9,
        "buses[0].host",
        "unsupported tag '!hostname'",
    ),
    Hostile(
        "python object tag",
        edit("    unit_id: 1", "    unit_id: !!python/object/apply:os.system [true]"),
        18,
        "devices[0].unit_id",
        "unsupported tag",
    ),
    Hostile(
        "binary tag",
        edit("    unit_id: 1", "    unit_id: !!binary aGVsbG8="),
        18,
        "devices[0].unit_id",
        "unsupported tag",
    ),
    Hostile(
        "set tag on a mapping",
        edit("    - name: hall", "    - !!set {name, hall}"),
        5,
        "site.areas[0]",
        "unsupported tag",
    ),
    Hostile(
        "omap tag on a list", edit("  areas:\n", "  areas: !!omap\n"), 4, "site.areas", "unsupported tag"
    ),
    Hostile(
        "merge of a number",
        edit("  - name: main\n", "  - name: main\n    <<: 5\n"),
        17,
        "devices[0]",
        "`<<` merges a mapping",
    ),
    Hostile(
        "merge of a list of numbers",
        edit("  - name: main\n", "  - name: main\n    <<: [5, 6]\n"),
        17,
        "devices[0]",
        "`<<` merges a mapping",
    ),
    Hostile(
        "BEL character",
        edit("    host: 127.0.0.1\n    timeout_s", "    host: 127.0.0.1\a\n    timeout_s"),
        9,
        "",
        "control character U+0007",
    ),
    Hostile("NUL character", edit("  name: plant", "  name: pl\0ant"), 2, "", "control character U+0000"),
    Hostile(
        "alias to itself",
        edit("    area: hall\n", "    area: hall\n    tags: &loop {x: *loop}\n"),
        22,
        "devices[0].tags.x",
        "loop",
    ),
    Hostile(
        "merge of itself",
        edit("    area: hall\n", "    area: hall\n    tags: &self {<<: *self}\n"),
        22,
        "devices[0].tags",
        "loop",
    ),
    Hostile("5,000-deep flow nesting", NESTED_5000, 2, "", "nested more than 32 levels"),
    Hostile("deep block nesting", BLOCK_NESTED, 34, "", "nested more than 32 levels"),
    Hostile(
        "list as a key",
        edit("  - name: main\n", "  - name: main\n    ? [a, b]\n    : 1\n"),
        17,
        "devices[0]",
        "a key must be a plain word",
    ),
    Hostile("top level is a list", "- site\n- devices\n", 1, "", "top level must be a mapping"),
    Hostile("profiles_dirs is a number", "profiles_dirs: 5\n" + GOOD, 1, "profiles_dirs", "expected a list"),
    Hostile(
        "devices is a mapping",
        edit("devices:\n  - name: main", "devices:\n  x:\n  - name: main"),
        15,
        "devices",
        "expected a list",
    ),
    # ---- finding 6: once accepted
    Hostile(
        "interval is a boolean",
        edit("    interval_s: 15", "    interval_s: true"),
        20,
        "devices[0].interval_s",
        "not a boolean",
    ),
    Hostile(
        "unit id is text", edit("    unit_id: 2", '    unit_id: "2"'), 24, "devices[1].unit_id", "not text"
    ),
    Hostile(
        "stop bits is a boolean",
        edit("    baudrate: 9600", "    baudrate: 9600\n    stopbits: true"),
        15,
        "buses[1].stopbits",
        "not a boolean",
    ),
    Hostile(
        "enabled is a number",
        edit("    parent: main", "    parent: main\n    enabled: 1"),
        27,
        "devices[1].enabled",
        "true or false",
    ),
    Hostile(
        "NaN interval",
        edit("    interval_s: 15", "    interval_s: .nan"),
        20,
        "devices[0].interval_s",
        "finite",
    ),
    Hostile(
        "infinite rated power",
        edit("    parent: main", "    parent: main\n    rated_power_kw: .inf"),
        27,
        "devices[1].rated_power_kw",
        "finite",
    ),
    Hostile(
        "baseline ends before it starts",
        append("analytics:\n  baseline:\n    period_start: 2025-06-01\n    period_end: 2025-01-01\n"),
        34,
        "analytics.baseline.period_end",
        "end after it starts",
    ),
    Hostile(
        "compressor names no device",
        append(
            "analytics:\n  compressors:\n    - {device: ghost, rated_power_kw: 37, rated_fad_m3_min: 6}\n"
        ),
        33,
        "analytics.compressors[0].device",
        "no device 'ghost'",
    ),
    Hostile(
        "flow curve that does not increase",
        append(
            "analytics:\n  compressors:\n    - device: main\n      rated_power_kw: 37\n"
            "      rated_fad_m3_min: 6\n      control: vsd\n"
            "      flow_curve: [[10, 1.5], [25, 4.0], [20, 6.0]]\n"
        ),
        37,
        "analytics.compressors[0].flow_curve",
        "does not increase in both power and flow",
    ),
    Hostile(
        "flow curve of two points",
        append(
            "analytics:\n  compressors:\n    - device: main\n      rated_power_kw: 37\n"
            "      rated_fad_m3_min: 6\n      control: vsd\n      flow_curve: [[10, 1.5], [37, 6.0]]\n"
        ),
        37,
        "analytics.compressors[0].flow_curve",
        "at least 3 points",
    ),
    Hostile(
        "flow curve on a load/unload machine",
        append(
            "analytics:\n  compressors:\n    - device: main\n      rated_power_kw: 37\n"
            "      rated_fad_m3_min: 6\n      control: load_unload\n"
            "      flow_curve: [[10, 1.5], [25, 4.0], [37, 6.0]]\n"
        ),
        33,
        "analytics.compressors[0]",
        "flow_curve is for vsd or modulating machines",
    ),
    Hostile(
        "unknown control kind",
        append(
            "analytics:\n  compressors:\n    - device: main\n      rated_power_kw: 37\n"
            "      rated_fad_m3_min: 6\n      control: turbo\n"
        ),
        36,
        "analytics.compressors[0].control",
        "load_unload",
    ),
    Hostile(
        "negative base demand",
        append("analytics:\n  compressed_air:\n    base_demand_m3_min: -2\n"),
        33,
        "analytics.compressed_air.base_demand_m3_min",
        "greater than or equal to 0",
    ),
    Hostile(
        "reversed pressure band",
        append("analytics:\n  compressed_air:\n    pressure_band_bar: [7.5, 6.5]\n"),
        33,
        "analytics.compressed_air.pressure_band_bar",
        "0 < low < high",
    ),
    # ---- issue 19: the control section
    Hostile(
        "control machine names no device",
        compressor(CONTROL.replace("device: main, kind", "device: ghost, kind")),
        39,
        "control.rooms[0].machines[0].device",
        "no device 'ghost'",
    ),
    Hostile(
        "control pressure from no device",
        compressor(CONTROL.replace("pressure_device: main", "pressure_device: ghost")),
        35,
        "control.rooms[0].pressure_device",
        "no device 'ghost'",
    ),
    Hostile(
        "control band reaches the minimum",
        compressor(CONTROL.replace("minimum_bar: 6.0", "minimum_bar: 6.7")),
        34,
        "control.rooms[0]",
        "must lie above minimum_bar",
    ),
    Hostile(
        "control mode misspelt",
        compressor(CONTROL.replace("mode: active", "mode: activ")),
        32,
        "control.mode",
        "'dry-run'",
    ),
    Hostile(
        "control mode on (a boolean)",
        compressor(CONTROL.replace("mode: active", "mode: on")),
        32,
        "control.mode",
        "not a boolean",
    ),
    Hostile(
        "control heartbeat timeout shorter than three cycles",
        compressor(CONTROL.replace("mode: active", "mode: active\n  cycle_s: 5\n  heartbeat_timeout_s: 10")),
        31,
        "control",
        "at least 3 cycles",
    ),
    Hostile(
        "control command limit of zero",
        compressor(CONTROL.replace("mode: active", "mode: active\n  max_commands_per_minute: 0")),
        33,
        "control.max_commands_per_minute",
        "greater than or equal to 1",
    ),
    Hostile(
        "control machine kind unknown",
        compressor(CONTROL.replace("kind: vsd", "kind: turbo")),
        39,
        "control.rooms[0].machines[0].kind",
        "'load_unload'",
    ),
    Hostile(
        "control unloaded power above rated",
        compressor(CONTROL.replace("rated_power_kw: 45}", "rated_power_kw: 45, unloaded_power_kw: 50}")),
        39,
        "control.rooms[0].machines[0]",
        "must be below rated_power_kw",
    ),
    Hostile(
        "control machine in two rooms",
        compressor(CONTROL + CONTROL.split("  rooms:\n", 1)[1].replace("name: room1", "name: room2")),
        45,
        "control.rooms[1].machines[0].device",
        "already sequenced by room 'room1'",
    ),
    Hostile(
        "control machine min run time is text",
        compressor(CONTROL.replace("rated_power_kw: 45}", "rated_power_kw: 45, min_run_s: '300'}")),
        39,
        "control.rooms[0].machines[0].min_run_s",
        "not text",
    ),
    Hostile(
        "control machine without a control surface",
        append(CONTROL),
        39,
        "control.rooms[0].machines[0].device",
        "has no writable run_command, load_command, heartbeat, heartbeat_timeout_s",
    ),
    Hostile(
        "dashboard on all interfaces without a token",
        append("web:\n  host: 0.0.0.0\n"),
        32,
        "web.host",
        "set web.token",
    ),
]


def issues_of(path: Path, env: dict[str, str] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=ENV if env is None else env)
    return info.value.issues


def assert_reported(found: list[ConfigIssue], path: Path, case: Hostile) -> None:
    shown = [str(i) for i in found]
    matching = [i for i in found if i.path == case.field and case.fragment in i.message]
    assert matching, f"no issue at {case.field!r} with {case.fragment!r}; got: {shown}"
    assert (matching[0].file, matching[0].line) == (str(path), case.line), shown
    assert all(i.line is not None for i in found), shown


@pytest.mark.parametrize("case", SITE_CASES, ids=lambda c: c.name)
def test_a_hostile_site_file_is_a_file_line_error(tmp_path: Path, case: Hostile) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(case.text, encoding="utf-8")
    assert_reported(issues_of(path), path, case)


PROFILE = """\
id: acme/m1
vendor: Acme
model: M1
device_kind: power_meter
forbidden:
  - {function: holding, start: 100, end: 120}
points:
  - {name: p_kw, function: holding, address: 0, dtype: float32, unit: kW}
"""

PROFILE_CASES = [
    Hostile("scale 0", PROFILE.replace("unit: kW}", "unit: kW, scale: 0}"), 8, "points[0].scale", "scale 0"),
    Hostile(
        "scale NaN", PROFILE.replace("unit: kW}", "unit: kW, scale: .nan}"), 8, "points[0].scale", "finite"
    ),
    Hostile(
        "scale as text",
        PROFILE.replace("unit: kW}", "unit: kW, scale: '0.1'}"),
        8,
        "points[0].scale",
        "not text",
    ),
    Hostile(
        "reversed forbidden range",
        PROFILE.replace("start: 100, end: 120", "start: 120, end: 100"),
        6,
        "forbidden[0]",
        "reversed",
    ),
    Hostile(
        "overlapping forbidden ranges",
        PROFILE.replace("points:", "  - {function: holding, start: 110, end: 130}\npoints:"),
        5,
        "forbidden",
        "overlaps forbidden[0]",
    ),
    Hostile(
        "float32 at the last address",
        PROFILE.replace("address: 0", "address: 65535"),
        8,
        "points[0]",
        "runs past the last one",
    ),
    Hostile(
        "string past the last address",
        PROFILE.replace("address: 0, dtype: float32", "address: 65530, dtype: string, length: 8"),
        8,
        "points[0]",
        "runs past",
    ),
    Hostile(
        "an input register declared writable",
        PROFILE.replace("function: holding, address: 0", "function: input, address: 0, writable: true"),
        8,
        "points[0]",
        "writable: input points cannot be written",
    ),
    Hostile(
        "datasheet on a power meter",
        PROFILE.replace("points:", "datasheet: {control: vsd}\npoints:"),
        7,
        "datasheet",
        "datasheet is for compressors",
    ),
    Hostile(
        "datasheet curve in kW instead of shares of rated",
        PROFILE.replace("device_kind: power_meter", "device_kind: compressor").replace(
            "points:", "datasheet:\n  control: vsd\n  flow_curve: [[30, 5], [60, 10], [90, 15]]\npoints:"
        ),
        9,
        "datasheet.flow_curve",
        "shares of the rated power and FAD",
    ),
    Hostile(
        "address is a boolean",
        PROFILE.replace("address: 0", "address: false"),
        8,
        "points[0].address",
        "not a boolean",
    ),
]


@pytest.mark.parametrize("case", PROFILE_CASES, ids=lambda c: c.name)
def test_a_hostile_profile_is_a_file_line_error(tmp_path: Path, case: Hostile) -> None:
    profile = tmp_path / "profiles" / "acme" / "m1.yaml"
    profile.parent.mkdir(parents=True)
    profile.write_text(case.text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(profile, expected_id="acme/m1")
    assert_reported(info.value.issues, profile, case)
    # and through the site that uses it: the site's line, then the profile's own file:line
    site = tmp_path / "site.yaml"
    site.write_text(
        "profiles_dirs: [profiles]\n"
        + edit("profile: eastron/sdm630\n    parent", "profile: acme/m1\n    parent"),
        encoding="utf-8",
    )
    found = issues_of(site)
    assert any(i.path == "devices[1].profile" and f"{profile}:{case.line}:" in i.message for i in found), [
        str(i) for i in found
    ]


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "TEST_MQTT_PASSWORD": "x"},
        check=False,
    )


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in SITE_CASES
        if c.name
        in (
            "site is a word",
            "impossible date",
            "BEL character",
            "5,000-deep flow nesting",
            "interval is a boolean",
        )
    ],
    ids=lambda c: c.name,
)
def test_validate_prints_file_line_and_exits_1_without_a_traceback(tmp_path: Path, case: Hostile) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(case.text, encoding="utf-8")
    done = validate(path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    where = f"{path}:{case.line}:" + (f" {case.field}:" if case.field else "")
    assert any(line.startswith(where) and case.fragment in line for line in done.stderr.splitlines()), (
        done.stderr
    )


@pytest.mark.parametrize(
    ("web", "env"),
    [
        ("web:\n  host: 0.0.0.0\n  token: ${WEB_TOKEN}\n", {"WEB_TOKEN": "t0ken"}),
        ("web:\n  host: 0.0.0.0\n", {"ENERGY_AGENT_WEB_TOKEN": "t0ken"}),
        ("web:\n  host: 127.0.0.1\n", {}),
        ("web:\n  host: localhost\n", {}),
    ],
    ids=["token in the file", "token in the environment", "loopback", "localhost"],
)
def test_the_dashboard_is_accepted_on_loopback_or_with_a_token(
    tmp_path: Path, web: str, env: dict[str, str]
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(GOOD + web, encoding="utf-8")
    assert load_config(path, env={**ENV, **env}).config.web is not None


def test_the_web_token_variable_is_the_one_the_dashboard_reads() -> None:
    from agent.config.site import WEB_TOKEN_ENV
    from agent.web.app import TOKEN_ENV

    assert WEB_TOKEN_ENV == TOKEN_ENV
