#!/usr/bin/env bash
# Rewrites constraints.txt from the active environment (after `scripts/setup.sh` and any upgrade):
# the exact versions the committed results are produced with. Commit it together with the regenerated
# results (python -m proofs_checks.regenerate_docs, llm.regenerate_docs, vision.regenerate_docs).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="constraints.txt.tmp.$$"
{
  echo "# Exact versions of the environment that produced the committed results (scripts/update-constraints.sh)."
  echo "# Used by scripts/setup.sh as a pip constraints file; torch==2.13.0 is the CPU build."
  python -m pip freeze --exclude-editable | grep -v '^#' | sed -E 's/^(torch==[0-9.]+)\+cpu$/\1/' | LC_ALL=C sort -f
} > "$tmp"
mv "$tmp" constraints.txt
