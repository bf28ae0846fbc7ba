"""Container health check of energy-agent (Dockerfile HEALTHCHECK): exit 0 healthy, 1 unhealthy.

Healthy means: the site config the container runs ($ENERGY_AGENT_CONFIG) still loads and
validates, so the next restart will come up; and the agent itself says it is healthy: its `GET
/health` (served with the dashboard when the config has a `web:` section; asked on 127.0.0.1, where
no token is needed) answers 200 within the timeout. `degraded` (some devices offline) is still
healthy: restarting the container would not bring a meter back. $ENERGY_AGENT_HEALTH_URL overrides
the address (any HTTP endpoint that must answer 2xx). A dead agent needs no check: it is PID 1, so
the container exits and its restart policy applies.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from agent.config.loader import LoadedConfig, load_config
from agent.errors import ConfigError

__all__ = ["check", "health_url", "main"]

DEFAULT_CONFIG = "/etc/energy-agent/site.yaml"
TIMEOUT_S = 5.0


def _load(path: Path) -> tuple[LoadedConfig | None, str | None]:
    try:
        return load_config(path), None
    except ConfigError as exc:
        return None, f"{path}: {len(exc.issues)} problem(s), first: {exc.issues[0]}"
    except OSError as exc:
        return None, f"{path}: {exc}"


def health_url(loaded: LoadedConfig | None) -> str | None:
    """The agent's own /health on loopback, when the config serves the dashboard."""
    web = loaded.config.web if loaded is not None else None
    return None if web is None else f"http://127.0.0.1:{web.port}/health"


def _why(body: bytes) -> str:
    """The agent's own words from a /health answer: its status and problems."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(doc, dict) or "status" not in doc:
        return ""
    problems = doc.get("problems") or []
    return f" ({doc['status']}: {'; '.join(map(str, problems))})" if problems else f" ({doc['status']})"


def _url_problem(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code}{_why(exc.read())}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def check(config: Path, url: str | None) -> list[str]:
    """Every reason the container is unhealthy (empty: healthy); `url` None: the config's /health."""
    loaded, problem = _load(config)
    problems = [problem]
    url = url or health_url(loaded)
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
