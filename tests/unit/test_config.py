"""A site config is checked with every problem reported at once, each with file:line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
site:
  name: plant
  timezone: Asia/Shanghai
  areas:
    - name: hall
buses:
  - name: tcp1
    type: tcp
    host: 127.0.0.1
    timeout_s: 1
  - name: line1
    type: rtu
    port: /dev/ttyUSB0
    baudrate: 9600
devices:
  - name: main
    bus: tcp1
    unit_id: 1
    profile: eastron/sdm630
    interval_s: 15
    area: hall
  - name: sub
    bus: line1
    unit_id: 2
    profile: eastron/sdm630
    parent: main
sinks:
  mqtt:
    host: 127.0.0.1
    password: ${TEST_MQTT_PASSWORD}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def issues_of(path: Path, env: dict[str, str] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"TEST_MQTT_PASSWORD": "s3cret"} if env is None else env)
    return info.value.issues


def test_good_config_loads_and_keeps_the_secret_out_of_repr(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, GOOD), env={"TEST_MQTT_PASSWORD": "s3cret"})
    mqtt = loaded.config.sinks.mqtt
    assert mqtt is not None
    assert mqtt.password is not None
    assert mqtt.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(loaded.config)
    assert [d.name for d in loaded.config.devices] == ["main", "sub"]


@pytest.mark.parametrize(
    "example", sorted((REPO / "edge_configs" / "sites").glob("*.yaml")), ids=lambda p: p.name
)
def test_shipped_example_sites_validate(example: Path) -> None:
    load_config(example, env={})


# (name, edit of GOOD: (old, new), expected line, expected field path, fragment of the message)
BROKEN = [
    (
        "yaml syntax",
        ("    host: 127.0.0.1\n    timeout_s: 1", "    host: [127.0.0.1\n    timeout_s: 1"),
        10,
        "",
        "YAML syntax",
    ),
    ("wrong type", ("    interval_s: 15", "    interval_s: fifteen"), 20, "devices[0].interval_s", "number"),
    (
        "unknown profile",
        ("    profile: eastron/sdm630\n    interval_s", "    profile: eastron/sdm999\n    interval_s"),
        19,
        "devices[0].profile",
        "unknown profile 'eastron/sdm999'",
    ),
    (
        "duplicate device",
        ("  - name: sub", "  - name: main"),
        22,
        "devices[1].name",
        "duplicate device name 'main'",
    ),
    (
        "missing env var",
        ("${TEST_MQTT_PASSWORD}", "${NOT_SET_ANYWHERE}"),
        30,
        "sinks.mqtt.password",
        "NOT_SET_ANYWHERE is not set",
    ),
    ("unknown bus", ("    bus: line1", "    bus: line9"), 23, "devices[1].bus", "unknown bus 'line9'"),
    (
        "unit id too high",
        ("    unit_id: 2", "    unit_id: 300"),
        24,
        "devices[1].unit_id",
        "less than or equal to 255 (got 300)",
    ),
    ("unit id 0 on serial", ("    unit_id: 2", "    unit_id: 0"), 24, "devices[1].unit_id", "out of range"),
    (
        "interval not above timeout",
        ("    interval_s: 15", "    interval_s: 0.5"),
        20,
        "devices[0].interval_s",
        "longer than the bus timeout",
    ),
    (
        "unknown field",
        ("    area: hall", "    area: hall\n    colour: red"),
        22,
        "devices[0].colour",
        "unknown field",
    ),
    (
        "missing field",
        ("    host: 127.0.0.1\n    timeout_s: 1", "    timeout_s: 1"),
        7,
        "buses[0].host",
        "required field is missing",
    ),
    ("bad bus type", ("    type: rtu\n", "    type: canbus\n"), 11, "buses[1]", "type"),
    ("bad baud rate", ("    baudrate: 9600", "    baudrate: 9601"), 14, "buses[1].baudrate", "9600"),
    (
        "unknown parent",
        ("    parent: main", "    parent: mian"),
        26,
        "devices[1].parent",
        "unknown parent meter 'mian'",
    ),
    ("unknown area", ("    area: hall\n", "    area: roof\n"), 21, "devices[0].area", "unknown area 'roof'"),
    (
        "bad time zone",
        ("timezone: Asia/Shanghai", "timezone: Asia/Chongqingg"),
        3,
        "site.timezone",
        "unknown time zone",
    ),
    (
        "duplicate key",
        ("    unit_id: 2", "    unit_id: 2\n    unit_id: 3"),
        25,
        "devices[1].unit_id",
        "duplicate key",
    ),
    ("bad site name", ("  name: plant", "  name: My Plant"), 2, "site.name", "pattern"),
    (
        "negative timeout",
        ("    timeout_s: 1", "    timeout_s: -1"),
        10,
        "buses[0].timeout_s",
        "greater than 0",
    ),
    (
        "parent cycle",
        ("    area: hall\n", "    area: hall\n    parent: sub\n"),
        22,
        "devices[0].parent",
        "cycle",
    ),
]


@pytest.mark.parametrize(
    ("edit", "line", "field", "fragment"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_config_names_file_line_and_field(
    tmp_path: Path, edit: tuple[str, str], line: int, field: str, fragment: str
) -> None:
    old, new = edit
    assert old in GOOD, f"test edit does not apply: {old!r}"
    path = write(tmp_path, GOOD.replace(old, new, 1))
    found = issues_of(path)
    matching = [i for i in found if i.path == field and fragment in i.message]
    assert matching, f"no issue at {field!r} with {fragment!r}; got: {[str(i) for i in found]}"
    assert matching[0].line == line
    assert matching[0].file == str(path)
    assert str(matching[0]).startswith(f"{path}:{line}:")


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    found = issues_of(write(tmp_path, GOOD.replace("    unit_id: 2", "    unit_id: 2\n    unit_id: 3")))
    dup = next(i for i in found if "duplicate key" in i.message)
    assert dup.line == 25
    assert "first at line 24" in dup.message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("    unit_id: 2", "    unit_id: 300").replace("    bus: tcp1\n", "    bus: nope\n")
    text = text.replace("  name: plant", "  name: Bad Name")
    found = issues_of(write(tmp_path, text))
    paths = {i.path for i in found}
    assert {"devices[1].unit_id", "devices[0].bus", "site.name"} <= paths


def test_secret_value_never_appears_in_error_text(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    host: 127.0.0.1\n    password", "    host: 127.0.0.1\n    port: 99999\n    password"
    )
    found = issues_of(write(tmp_path, text), env={"TEST_MQTT_PASSWORD": "hunter2-secret"})
    assert any(i.path == "sinks.mqtt.port" for i in found)
    assert all("hunter2-secret" not in str(i) for i in found)


def test_env_default_is_used_when_variable_is_absent(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("${TEST_MQTT_PASSWORD}", "${TEST_MQTT_PASSWORD:-fallback}"))
    mqtt = load_config(path, env={}).config.sinks.mqtt
    assert mqtt is not None
    assert mqtt.password is not None
    assert mqtt.password.get_secret_value() == "fallback"


def test_empty_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert "empty" in issues_of(empty)[0].message
    assert "cannot read" in issues_of(tmp_path / "absent.yaml")[0].message


def test_project_profiles_dir_overrides_and_extends_the_builtin(tmp_path: Path) -> None:
    (tmp_path / "profiles" / "acme").mkdir(parents=True)
    (tmp_path / "profiles" / "acme" / "m1.yaml").write_text(
        "id: acme/m1\nvendor: Acme\nmodel: M1\ndevice_kind: power_meter\npoints:\n"
        "  - {name: p_kw, function: holding, address: 0, dtype: float32, unit: kW}\n",
        encoding="utf-8",
    )
    text = "profiles_dirs: [profiles]\n" + GOOD.replace(
        "profile: eastron/sdm630\n    parent", "profile: acme/m1\n    parent"
    )
    loaded = load_config(write(tmp_path, text), env={"TEST_MQTT_PASSWORD": "x"})
    assert loaded.registry.get("acme/m1").model == "M1"


def test_a_broken_profile_is_reported_with_its_own_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "profiles" / "acme").mkdir(parents=True)
    bad = tmp_path / "profiles" / "acme" / "m1.yaml"
    bad.write_text(
        "id: acme/m1\nvendor: Acme\nmodel: M1\ndevice_kind: power_meter\npoints:\n"
        "  - {name: p_kw, function: coil, address: 0, dtype: float32}\n",
        encoding="utf-8",
    )
    text = "profiles_dirs: [profiles]\n" + GOOD.replace(
        "profile: eastron/sdm630\n    parent", "profile: acme/m1\n    parent"
    )
    found = issues_of(write(tmp_path, text))
    assert any(f"{bad}:6" in i.message and "register table" in i.message for i in found), [
        str(i) for i in found
    ]


def test_analytics_time_zone_follows_the_site_unless_set(tmp_path: Path) -> None:
    text = GOOD.replace("timezone: Asia/Shanghai", "timezone: Asia/Urumqi")
    assert (
        load_config(write(tmp_path, text), env={"TEST_MQTT_PASSWORD": "x"}).config.analytics.timezone
        == "Asia/Urumqi"
    )
    text += "analytics:\n  timezone: Asia/Shanghai\n  baseline:\n    period_end: 2026-07-01\n"
    analytics = load_config(write(tmp_path, text), env={"TEST_MQTT_PASSWORD": "x"}).config.analytics
    assert analytics.timezone == "Asia/Shanghai"
    assert str(analytics.baseline.period_end) == "2026-07-01"


def test_an_analytics_mistake_is_reported_at_its_line(tmp_path: Path) -> None:
    text = GOOD + "analytics:\n  interval_minutes: 0\n"
    found = issues_of(write(tmp_path, text))
    assert any(i.path == "analytics.interval_minutes" and i.line == 32 for i in found), [
        str(i) for i in found
    ]


def test_the_demo_factory_site_matches_what_the_simulator_serves() -> None:
    import yaml

    from agent.demo import demo_site_config, served_endpoints
    from simulators.scenario import load_scenario

    scenario = load_scenario("demo_factory")
    endpoints = served_endpoints(scenario, 15020)  # `energy-agent simulate demo_factory --port 15020`
    expected = demo_site_config(scenario, endpoints, 1883, 15.0)
    shipped = yaml.safe_load((REPO / "edge_configs/sites/demo_factory.yaml").read_text(encoding="utf-8"))
    assert shipped["buses"] == expected["buses"]
    assert shipped["devices"] == expected["devices"]
    # the compressors' data sheets (control kinds, VSD power-to-flow curves) and the base demand
    assert shipped["analytics"]["compressors"] == expected["analytics"]["compressors"]
    assert shipped["analytics"]["compressed_air"] == expected["analytics"]["compressed_air"]


COMPRESSOR_PROFILE = """\
id: acme/vsd37
vendor: Acme
model: VSD37
device_kind: compressor
datasheet:
  control: vsd
  flow_curve: [[0.4, 0.3], [0.7, 0.65], [1.0, 1.0]]
  curve_bar: 7.0
points:
  - {name: p_kw, function: input, address: 0, dtype: float32, unit: kW}
"""


def test_a_compressor_takes_control_and_curve_from_its_profile_datasheet(tmp_path: Path) -> None:
    (tmp_path / "profiles" / "acme").mkdir(parents=True)
    (tmp_path / "profiles" / "acme" / "vsd37.yaml").write_text(COMPRESSOR_PROFILE, encoding="utf-8")
    machines = "".join(
        f"  - {{name: air{u}, bus: tcp1, unit_id: {u + 4}, profile: acme/vsd37}}\n" for u in (1, 2)
    )
    text = GOOD.replace("    parent: main\n", "    parent: main\n" + machines)
    text = "profiles_dirs: [profiles]\n" + text + textwrap.dedent("""\
        analytics:
          compressors:
            - {device: air1, rated_power_kw: 40, rated_fad_m3_min: 6}
            - {device: air2, rated_power_kw: 40, rated_fad_m3_min: 6, control: modulating}
        """)  # fmt: skip
    specs = load_config(write(tmp_path, text), env={"TEST_MQTT_PASSWORD": "x"}).config.analytics.compressors
    assert specs[0].control == "vsd"
    assert specs[0].flow_curve is not None
    assert [list(p) for p in specs[0].flow_curve] == [
        pytest.approx(p) for p in ([16, 1.8], [28, 3.9], [40, 6])
    ]
    assert specs[0].flow_curve_bar == 7.0
    assert specs[1].control == "modulating"  # the entry's own kind wins, and the vsd curve is not its
    assert specs[1].flow_curve is None
