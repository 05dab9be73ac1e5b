#!/usr/bin/env bash
# Installs everything the toolkit and its tests need on a fresh Debian machine with Python >= 3.11, into the
# active Python environment (the README creates and activates a virtual environment first).
# torch==2.13.0 goes first (a CPU build); then the project with every extra, pinned by constraints.txt to the
# exact versions the committed results were produced with.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "setup: installing the Debian package dataset-fashion-mnist"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; }
fi
echo "setup: installing torch==2.13.0 (CPU build) into $(python -c 'import sys; print(sys.prefix)')"
python -m pip install -q torch==2.13.0
echo "setup: installing the project with all extras, pinned by constraints.txt (about a minute)"
python -m pip install -q -c constraints.txt -e ".[all]"
echo "setup: done"
