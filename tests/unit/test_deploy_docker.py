"""deploy/Dockerfile (parsed: Docker is not needed) and the container health check (run for real)."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
IGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        word, _, rest = pending.partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


STEPS = instructions(DOCKERFILE.read_text())


def _all(word: str) -> list[str]:
    return [rest for name, rest in STEPS if name == word]


def _final_stage() -> list[tuple[str, str]]:
    last_from = max(i for i, (name, _) in enumerate(STEPS) if name == "FROM")
    return STEPS[last_from:]


def _excluded(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; '!' re-includes (a directory covers its files)."""
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
            excluded = not negate
    return excluded


def test_multi_stage_on_python_311_slim() -> None:
    arg = next(rest for name, rest in STEPS if name == "ARG" and rest.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", arg)
    froms = _all("FROM")
    assert len(froms) >= 2
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms)
    assert any("--from=build" in c for c in _all("COPY"))


def test_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    users = [rest for name, rest in _final_stage() if name == "USER"]
    assert users, "the final stage must set USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    health = [rest for name, rest in _final_stage() if name == "HEALTHCHECK"]
    assert len(health) == 1
    assert "CMD" in health[0]


def test_nothing_depends_on_the_build_architecture() -> None:
    code = " ".join(rest for _, rest in STEPS)
    for token in ("amd64", "x86_64", "aarch64", "arm64", "uname", "TARGETARCH", "curl", "wget"):
        assert token not in code, f"{token!r}: an architecture-specific step"


def test_every_copied_source_exists_and_is_in_the_build_context() -> None:
    patterns = [line.strip() for line in IGNORE.read_text().splitlines() if line.strip() and line[0] != "#"]
    for args in _all("COPY"):
        parts = [p for p in args.split() if not p.startswith("--")]
        if "--from=" in args:
            continue
        for source in parts[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repo"
            assert not _excluded(source, patterns), f"COPY {source}: excluded by {IGNORE.name}"
    assert _excluded(".venv/bin/python", patterns)
    assert _excluded("var/outbox.db", patterns)


def test_entrypoint_and_cmd_form_a_command_the_cli_knows() -> None:
    entrypoint = json.loads(_all("ENTRYPOINT")[-1])
    cmd = json.loads(_all("CMD")[-1])
    assert entrypoint == ["energy-agent"]
    args = build_parser().parse_args(cmd)
    assert args.command == "run"
    assert args.config == Path("/etc/energy-agent/site.yaml")


def test_profiles_and_healthcheck_are_where_the_image_says() -> None:
    copies = {args.split()[-1]: args.split()[-2] for args in _all("COPY") if "--from=" not in args}
    env = " ".join(_all("ENV"))
    assert "ENERGY_AGENT_PROFILES=/opt/energy-agent/profiles" in env
    assert copies["/opt/energy-agent/profiles"] == "edge_configs/profiles"
    health = json.loads(_all("HEALTHCHECK")[-1].split("CMD", 1)[1])
    assert health == ["python", "/opt/energy-agent/healthcheck.py"]
    assert copies[health[-1]] == "deploy/docker/healthcheck.py"


# --- the health check script, run as a process -------------------------------------------------


class _Status(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def http_status() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Status)
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def run_healthcheck(config: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENERGY_AGENT_CONFIG": str(config), "MQTT_PASSWORD": "x", "INFLUX_TOKEN": "y"}
    env.pop("ENERGY_AGENT_HEALTH_URL", None)
    if url:
        env["ENERGY_AGENT_HEALTH_URL"] = url
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, text=True, check=False, timeout=60
    )


COMPOSE_SITE = ROOT / "deploy" / "config" / "site.yaml"


def test_healthy_with_a_valid_config() -> None:
    done = run_healthcheck(COMPOSE_SITE)
    assert done.returncode == 0, done.stderr


def test_unhealthy_when_the_config_on_disk_became_invalid(tmp_path: Path) -> None:
    broken = tmp_path / "site.yaml"
    broken.write_text(COMPOSE_SITE.read_text().replace("unit_id: 1\n", "unit_id: 1\n    unit_idd: 2\n"))
    done = run_healthcheck(broken)
    assert done.returncode == 1
    assert f"{broken}:" in done.stderr
    assert "unit_idd" in done.stderr


def test_unhealthy_when_the_health_url_fails(http_status: http.server.HTTPServer) -> None:
    url = f"http://127.0.0.1:{http_status.server_address[1]}/metrics"
    assert run_healthcheck(COMPOSE_SITE, url).returncode == 0
    http_status.status = 503  # type: ignore[attr-defined]
    done = run_healthcheck(COMPOSE_SITE, url)
    assert done.returncode == 1
    assert "503" in done.stderr


def test_a_config_with_a_dashboard_is_checked_through_the_agents_own_health(tmp_path: Path) -> None:
    """Issue 20: the check asks /health on loopback (no token): 200 ok/degraded healthy, 503 unhealthy."""
    from dataclasses import replace

    from agent.runtime.health import HealthSnapshot, OutboxHealth, health_report
    from agent.web import HistorySource, create_app
    from tests.e2e.harness import free_port, serve_in_thread
    from tests.e2e.synthetic import NOW, build_site

    site = build_site(tmp_path / "history.sqlite")
    online = HealthSnapshot("meter_1", "online", 10, 0, 0, 1.0, 1.0, 3.0, 3.0, 0, None, None)
    writing = OutboxHealth(False, 0.0, 0, 0, None, 120, 4096, 1 << 30, {"mqtt": 0})
    devices = [online, replace(online, device="meter_2")]

    def report() -> dict[str, object]:
        return health_report("plant", devices, writing, 2.0)

    app = create_app(
        HistorySource(site.path, site.settings, clock=lambda: NOW), token="s3cret", health=report
    )
    port = free_port()
    config = tmp_path / "site.yaml"
    config.write_text(COMPOSE_SITE.read_text() + f"web: {{port: {port}}}\n")
    with serve_in_thread(app, "s3cret", port) as url:
        assert url.endswith(f":{port}")
        done = run_healthcheck(config)
        assert (done.returncode, done.stdout.strip()) == (0, "healthy"), done.stderr
        devices[0] = replace(online, state="offline")  # one of two: degraded, still healthy
        assert run_healthcheck(config).returncode == 0
        devices[1] = replace(online, device="meter_2", state="offline")
        done = run_healthcheck(config)
    assert done.returncode == 1
    assert f"http://127.0.0.1:{port}/health: HTTP 503 (unhealthy: " in done.stderr
    assert "offline" in done.stderr
