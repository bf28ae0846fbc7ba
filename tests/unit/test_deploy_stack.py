"""deploy/compose.yaml, the Grafana provisioning and dashboard, env.example and the stack's site config.

Docker cannot run here, so the files are parsed and cross-checked against each other and against the
code that produces the data: a mount that points nowhere, a secret missing from env.example or a
dashboard query on a field the agent never writes fails here, not on a gateway.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.cli import build_parser
from agent.config.loader import load_config
from agent.config.registry import ProfileRegistry
from agent.readings.derived import SPECIFIC_POWER_POINT
from agent.readings.model import PollResult, Reading
from agent.sinks.payloads import line_protocol

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DASHBOARD: dict[str, Any] = json.loads((DEPLOY / "grafana" / "dashboards" / "energy-agent.json").read_text())
DATASOURCES = yaml.safe_load(
    (DEPLOY / "grafana" / "provisioning" / "datasources" / "influxdb.yaml").read_text()
)
# Files the integrator creates during installation (docs/install.md says how), not shipped.
GENERATED = {"mosquitto/passwd", "mosquitto/certs", "mosquitto/certs/ca.crt"}
SECRET_ENV = {"MQTT_PASSWORD": "pw", "INFLUX_TOKEN": "tok"}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}")


def _mounts(service: str) -> list[tuple[str, str]]:
    out = []
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        out.append((source, target))
    return out


def _target_of(service: str, source: str) -> str:
    return dict(_mounts(service))[source]


def test_the_stack_has_agent_broker_database_and_grafana() -> None:
    assert set(SERVICES) == {"agent", "mosquitto", "influxdb", "grafana"}
    assert all(s.get("restart") == "unless-stopped" for s in SERVICES.values())


def test_bind_mounts_point_at_shipped_or_documented_files() -> None:
    install = (ROOT / "docs" / "install.md").read_text()
    for name in SERVICES:
        for source, _ in _mounts(name):
            if not source.startswith("./"):
                assert source in COMPOSE["volumes"], f"{name}: volume {source} is not declared"
                continue
            relative = source[2:]
            if relative in GENERATED:
                assert f"deploy/{relative.split('/')[0]}/{relative.split('/')[1]}" in install, relative
            else:
                assert (DEPLOY / relative).exists(), f"{name}: {source} does not exist in deploy/"


def test_the_agent_is_built_from_the_dockerfile_and_runs_a_cli_command() -> None:
    agent = SERVICES["agent"]
    assert (DEPLOY / agent["build"]["context"] / agent["build"]["dockerfile"]).exists()
    args = build_parser().parse_args(agent["command"])
    assert args.command == "run"
    assert _target_of("agent", "./config/site.yaml") == str(args.config)
    assert agent["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert "dialout" in agent["group_add"]


def test_mosquitto_mounts_are_the_paths_its_config_reads() -> None:
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    paths = re.findall(
        r"(?m)^(?:cafile|certfile|keyfile|password_file|acl_file|persistence_location) (\S+)", conf
    )
    mounted = [target for _, target in _mounts("mosquitto")]
    assert len(paths) == 6
    for path in paths:
        assert any(path == t or path.startswith(t.rstrip("/") + "/") for t in mounted), path
    assert "8883:8883" in SERVICES["mosquitto"]["ports"]


def _compose_vars() -> dict[str, str | None]:
    """Every ${VAR} in compose.yaml -> its default (None when required or without one)."""
    found: dict[str, str | None] = {}
    for name, kind, rest in _VAR.findall((DEPLOY / "compose.yaml").read_text()):
        found[name] = rest if kind in {":-", "-"} else found.get(name)
    return found


def _env_example() -> dict[str, str]:
    lines = (DEPLOY / "env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key: value for key, value in pairs}


def test_env_example_lists_every_required_secret_and_carries_no_value() -> None:
    example = _env_example()
    assert example, "env.example lists no variables"
    assert all(value == "" for value in example.values()), "env.example must not hold values"
    required = {name for name, default in _compose_vars().items() if default is None}
    assert required == set(example), "compose's required variables and env.example differ"
    site_vars = {
        name for name, kind, _ in _VAR.findall((DEPLOY / "config" / "site.yaml").read_text()) if not kind
    }
    assert site_vars <= set(example)


def test_defaults_agree_between_compose_and_the_site_config() -> None:
    site_text = (DEPLOY / "config" / "site.yaml").read_text()
    site_defaults = {name: rest for name, kind, rest in _VAR.findall(site_text) if kind == ":-"}
    compose = _compose_vars()
    for name, default in site_defaults.items():
        assert compose.get(name) == default, name


def test_the_stack_site_config_validates_and_points_at_the_stack() -> None:
    loaded = load_config(DEPLOY / "config" / "site.yaml", env=SECRET_ENV)
    sinks = loaded.config.sinks
    assert sinks.mqtt is not None
    assert sinks.influxdb is not None
    assert sinks.mqtt.host == "mosquitto"
    assert sinks.mqtt.port == 8883
    assert sinks.mqtt.tls is not None
    assert str(sinks.mqtt.tls.ca_file) == _target_of("agent", "./mosquitto/certs/ca.crt")
    assert sinks.mqtt.password is not None
    assert sinks.mqtt.password.get_secret_value() == "pw"
    assert sinks.influxdb.url == "http://influxdb:8086"
    assert str(sinks.local_store.path) == _target_of("agent", "agent-data")


def test_the_grafana_data_source_is_flux_on_the_stack_influxdb() -> None:
    (source,) = DATASOURCES["datasources"]
    assert source["type"] == "influxdb"
    assert source["jsonData"]["version"] == "Flux"
    assert source["url"] == "http://influxdb:8086"
    assert "127.0.0.1:8086:8086" in SERVICES["influxdb"]["ports"]
    grafana_env = SERVICES["grafana"]["environment"]
    for value in (
        source["jsonData"]["organization"],
        source["jsonData"]["defaultBucket"],
        source["secureJsonData"]["token"],
    ):
        variable = value.strip("${}")
        assert variable in grafana_env, f"{value}: not in the grafana container's environment"
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "energy-agent.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == _target_of("grafana", "./grafana/dashboards")


# --- the dashboard against what the agent writes -------------------------------------------------


def _written_fields() -> dict[str, set[str]]:
    """Fields per measurement (= device kind) the agent can write, from the shipped profiles."""
    registry = ProfileRegistry()
    fields: dict[str, set[str]] = {}
    for profile_id in registry.ids():
        profile = registry.get(profile_id)
        fields.setdefault(profile.device_kind, set()).update(p.name for p in profile.points)
    fields["compressor"].add(SPECIFIC_POWER_POINT)
    return fields


def _panels() -> list[dict[str, Any]]:
    return DASHBOARD["panels"]


def test_the_dashboard_has_the_four_views() -> None:
    titles = [p["title"] for p in _panels()]
    for wanted in ("Site power", "Energy per device", "Compressor specific power", "Device quality"):
        assert any(t.startswith(wanted) for t in titles), wanted


def test_every_panel_uses_the_provisioned_data_source() -> None:
    uid = DATASOURCES["datasources"][0]["uid"]
    for panel in _panels():
        assert panel["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"])


def test_queries_name_only_fields_and_tags_the_agent_writes() -> None:
    written = _written_fields()
    # One real line from the writer: the tag keys and the always-present bad_points field.
    line = line_protocol(
        PollResult(
            site="s", device="d", device_kind="power_meter", profile="p", ts=0.0, seq=1,
            readings=(Reading("active_power_total_kw", 1.0),), area="a",
        )
    )  # fmt: skip
    tags = {pair.split("=")[0] for pair in line.split(" ")[0].split(",")[1:]}
    extra_fields = {pair.split("=")[0] for pair in line.split(" ")[1].split(",")} - {"active_power_total_kw"}
    assert extra_fields == {"bad_points"}
    for panel in _panels():
        query = panel["targets"][0]["query"]
        measurements = set(re.findall(r'r\._measurement == "([^"]+)"', query))
        for field in re.findall(r'r\._field == "([^"]+)"', query):
            if field in extra_fields:
                continue
            kinds = measurements or set(written)
            assert any(field in written[kind] for kind in kinds), f"{panel['title']}: no {field} in {kinds}"
        for tag in re.findall(r"r\.(\w+)\b", query):
            if tag.startswith("_") or tag in {"fad_m3_min", "active_power_kw"}:  # pivoted columns
                continue
            assert tag in tags, f"{panel['title']}: tag {tag} is not written"


def test_every_dashboard_variable_used_is_defined() -> None:
    defined = {v["name"] for v in DASHBOARD["templating"]["list"]}
    for panel in _panels():
        used = set(re.findall(r"\$\{(\w+)(?::\w+)?\}", panel["targets"][0]["query"]))
        assert used <= defined, f"{panel['title']}: {used - defined} undefined"


@pytest.mark.parametrize("panel_id", [1, 2, 3, 4, 5])
def test_panels_do_not_overlap(panel_id: int) -> None:
    def cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
        g = panel["gridPos"]
        return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}

    panel = next(p for p in _panels() if p["id"] == panel_id)
    others = set().union(*(cells(p) for p in _panels() if p["id"] != panel_id))
    assert not cells(panel) & others
    assert max(x for x, _ in cells(panel)) < 24
