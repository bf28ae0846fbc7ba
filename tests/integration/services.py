"""Real Mosquitto and VictoriaMetrics processes for integration tests (fixtures + handles).

Each service runs on a free 127.0.0.1 port with its own temporary directory, is polled for
readiness (Mosquitto: a TCP connect succeeds; VictoriaMetrics: GET /health is 200) and is stopped by
its PID. A missing binary fails the test: the test command installs the services, it does not skip.

Test modules import the fixtures they use by name (and list them in `__all__` so linters see the use).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Mosquitto", "VictoriaMetrics", "free_port", "mosquitto", "victoria"]

MOSQUITTO = "/usr/sbin/mosquitto"
VICTORIA = "/usr/bin/victoria-metrics"
READY_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: Any, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if check():
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} not ready after {READY_TIMEOUT_S} s: {log.read_text()[-2000:]}")


class _Process:
    name = "service"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"{self.name}.log"
        workdir.mkdir(parents=True, exist_ok=True)

    def _spawn(self, argv: list[str]) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop by PID (SIGKILL by default: an abrupt failure) and reap the process."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            if sig == signal.SIGTERM:
                os.kill(self.proc.pid, signal.SIGCONT)  # a frozen process must run to exit cleanly
            self.proc.wait(timeout=30)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the port stays open but nothing answers, like a silently dead uplink."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)


class Mosquitto(_Process):
    name = "mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, users: dict[str, str] | None = None) -> None:
        super().__init__(workdir, port)
        self.users = users
        self.config = workdir / "mosquitto.conf"
        self.passwords = workdir / "passwords"

    def write_users(self, users: dict[str, str]) -> None:
        """Rewrite the password file; call `reload()` for a running broker to read it."""
        self.passwords.write_text("")
        for user, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(self.passwords), user, password], check=True)
        self.passwords.chmod(0o644)  # mosquitto drops to user mosquitto and must read it

    def reload(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGHUP)

    def start(self) -> Mosquitto:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            "max_queued_messages 0",  # the default 1000 drops QoS 1 messages to a slow subscriber
            "max_inflight_messages 0",
        ]
        if os.geteuid() == 0:
            # Mosquitto started as root drops to user `mosquitto`, which cannot enter pytest's 0700
            # temporary directories (nor read a password file there).
            lines.append("user root")
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            self.write_users(self.users)
            lines += ["allow_anonymous false", f"password_file {self.passwords}"]
        self.config.write_text("\n".join(lines) + "\n")
        self._spawn([MOSQUITTO, "-c", str(self.config)])
        assert self.proc is not None
        _wait_until(self._accepts, "mosquitto", self.proc, self.log)
        return self

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


class VictoriaMetrics(_Process):
    name = "victoria-metrics"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaMetrics:
        self._spawn(
            [
                VICTORIA,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.workdir / 'data'}",
                "-retentionPeriod=100y",  # the default month rejects older test timestamps
                "-search.latencyOffset=0s",
                "-http.maxGracefulShutdownDuration=1s",  # a stopped test server must not hold 7 s
            ]
        )
        assert self.proc is not None
        _wait_until(self._healthy, "victoria-metrics", self.proc, self.log)
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=0.5) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def export(self, match: str) -> list[dict[str, Any]]:
        """Flush, then every series matching `match` as {metric, values, timestamps} (ms)."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass
        query = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30) as resp:
            return [json.loads(line) for line in resp.read().decode().splitlines() if line]


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.kill(signal.SIGTERM)


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    vm = VictoriaMetrics(tmp_path_factory.mktemp("victoria")).start()
    yield vm
    vm.kill(signal.SIGTERM)
