#!/usr/bin/env bash
# The main job on a fresh machine: installs the agent (and the embedded MQTT broker) into .venv,
# then runs the demo factory: simulated devices on Modbus, the agent, MQTT, history and dashboard.
# Extra arguments go to `energy-agent demo` (e.g. --port 8080 --mqtt-port 1883 --days 365).
# The install runs again only when pyproject.toml changed since the last one (the package is
# installed editable: code changes need none), so a second start answers at once.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.demo-installed
if [ ! -x .venv/bin/energy-agent ] || [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  scripts/venv.sh demo
  touch "$stamp"
fi
exec .venv/bin/energy-agent demo "$@"
