"""Container health check of energy-agent (Dockerfile HEALTHCHECK): exit 0 healthy, 1 unhealthy.

Healthy means: the site config the container runs ($ENERGY_AGENT_CONFIG) still loads and
validates, so the next restart will come up; and, when $ENERGY_AGENT_HEALTH_URL is set (an HTTP
endpoint the agent serves, e.g. the dashboard's /metrics), that it answers 2xx within the timeout.
A dead agent needs no check: it is PID 1, so the container exits and its restart policy applies.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from agent.config.loader import load_config
from agent.errors import ConfigError

__all__ = ["check", "main"]

DEFAULT_CONFIG = "/etc/energy-agent/site.yaml"
TIMEOUT_S = 5.0


def _config_problem(path: Path) -> str | None:
    try:
        load_config(path)
    except ConfigError as exc:
        return f"{path}: {len(exc.issues)} problem(s), first: {exc.issues[0]}"
    except OSError as exc:
        return f"{path}: {exc}"
    return None


def _url_problem(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def check(config: Path, url: str | None) -> list[str]:
    """Every reason the container is unhealthy (empty: healthy)."""
    problems = [_config_problem(config)]
    if url:
        problems.append(_url_problem(url))
    return [p for p in problems if p is not None]


def main() -> int:
    config = Path(os.environ.get("ENERGY_AGENT_CONFIG", DEFAULT_CONFIG))
    problems = check(config, os.environ.get("ENERGY_AGENT_HEALTH_URL"))
    for problem in problems:
        print(f"unhealthy: {problem}", file=sys.stderr)
    if not problems:
        print("healthy")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
