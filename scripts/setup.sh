#!/usr/bin/env bash
# Installs everything the toolkit and its tests need on a fresh Debian machine with Python >= 3.11.
# torch==2.13.0 goes first (a CPU build); the project's torch range is satisfied by it, so pip keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; }
fi
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[all]"
