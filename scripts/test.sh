#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: installs the services and Python deps, then runs
# lint, type checks and pytest (the integration tests start their own services on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-services.sh
scripts/venv.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
