#!/usr/bin/env bash
# The main job on a fresh machine: installs the agent (and the embedded MQTT broker) into .venv,
# then runs the demo factory: simulated devices on Modbus, the agent, MQTT, history and dashboard.
# Extra arguments go to `energy-agent demo` (e.g. --port 8080 --mqtt-port 1883 --days 365).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh demo
exec .venv/bin/energy-agent demo "$@"
