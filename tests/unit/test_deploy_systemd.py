"""deploy/systemd/energy-agent.service: verified by systemd itself, hardened, and runs our CLI."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from agent.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "energy-agent.service"
RELEASE_VENV = "/opt/energy-agent/current/venv"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        sections[current][key.strip()].append(value.strip())
    return sections


UNIT_TEXT = UNIT.read_text()
SECTIONS = parse_unit(UNIT_TEXT)
SERVICE = SECTIONS["Service"]


def _one(section: str, key: str) -> str:
    values = SECTIONS[section][key]
    assert len(values) == 1, f"[{section}] {key}: expected one value, got {values}"
    return values[0]


def _local_copy(tmp_path: Path) -> Path:
    """The unit with the release venv replaced by the test venv, so every Exec path exists."""
    copy = tmp_path / "energy-agent.service"
    copy.write_text(UNIT_TEXT.replace(RELEASE_VENV, sys.prefix))
    return copy


@pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed (the parse tests still run)"
)
def test_systemd_analyze_verify_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(_local_copy(tmp_path))], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # an unknown or misspelt key is only a warning: refuse it too


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
def test_the_exposure_score_of_systemd_analyze_security_stays_low(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE is not None
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", str(_local_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout + done.stderr)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 3.0  # 2.2 when written; 10 = unprotected, below 4 = "OK"


def test_start_and_reload_run_commands_the_cli_knows() -> None:
    for key in ("ExecStartPre", "ExecStart"):
        argv = shlex.split(_one("Service", key))
        assert argv[0] == f"{RELEASE_VENV}/bin/energy-agent"
        args = build_parser().parse_args(argv[1:])
        assert args.config == Path("/etc/energy-agent/site.yaml")
    assert build_parser().parse_args(shlex.split(_one("Service", "ExecStart"))[1:]).command == "run"
    assert shlex.split(_one("Service", "ExecReload")) == ["/bin/kill", "-HUP", "$MAINPID"]


def test_restarts_on_failure_with_a_delay_and_gives_up_on_a_crash_loop() -> None:
    assert _one("Service", "Type") == "exec"  # the agent sends no sd_notify READY=1
    assert _one("Service", "Restart") == "on-failure"
    assert float(_one("Service", "RestartSec")) >= 5
    assert int(_one("Unit", "StartLimitBurst")) >= 3
    assert int(_one("Unit", "StartLimitIntervalSec")) >= 5 * float(_one("Service", "RestartSec"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/energy-agent"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("SupplementaryGroups", "dialout"),
        ("EnvironmentFile", "/etc/energy-agent/env"),
        ("StateDirectory", "energy-agent"),
        ("WorkingDirectory", "/var/lib/energy-agent"),
        ("User", "energy-agent"),
    ],
)
def test_hardening_and_paths(key: str, value: str) -> None:
    assert _one("Service", key) == value


def test_serial_ports_stay_reachable() -> None:
    """PrivateDevices hides /dev/tty*; ProtectClock and DeviceAllow imply a closed device policy."""
    for key in ("PrivateDevices", "ProtectClock", "DeviceAllow", "DevicePolicy"):
        assert key not in SERVICE, f"{key} would block the RS-485 ports"


def test_profiles_come_from_the_current_release() -> None:
    assert "ENERGY_AGENT_PROFILES=/opt/energy-agent/current/edge_configs/profiles" in SERVICE["Environment"]
    assert "time-sync.target" in _one("Unit", "After")
