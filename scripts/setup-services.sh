#!/usr/bin/env bash
# Installs the real services the integration tests talk to (Debian packages). Idempotent: does
# nothing when every binary is already present. Needs root (or sudo) on a fresh machine.
set -euo pipefail
need=()
command -v mosquitto >/dev/null || need+=(mosquitto mosquitto-clients)
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
command -v mbpoll >/dev/null || need+=(mbpoll)
command -v socat >/dev/null || need+=(socat)
command -v chromium >/dev/null || need+=(chromium)
# a CJK font, or the 中文 dashboard pages and the PDF report print Chinese as boxes (5 MB)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei fontconfig)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
