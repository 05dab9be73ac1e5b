"""Regenerate docs/verify-report/ from the quick profile: ``python -m proofs_checks.regenerate_docs``.

The folder is this script's output and is never edited by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "verify-report"


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DOCS), help=f"destination (default {DOCS})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from proofs_checks.report import write_report
    from proofs_checks.runner import verify

    out = Path(args.out)
    for stale in out.glob("*.png") if out.exists() else []:
        stale.unlink()  # a claim that no longer draws a figure leaves none behind
    results = verify(profile="quick", seed=args.seed, progress=sys.stderr.isatty())
    paths = write_report(results, out)
    print(f"wrote {len(paths)} files to {out}: " + ", ".join(f"{r.claim['id']} {r.verdict.value}" for r in results.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
