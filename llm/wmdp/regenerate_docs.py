"""Regenerate docs/wmdp-bench/ (README, bench.json, plots) from a WMDP protocol bench run.

    python -m llm.wmdp.regenerate_docs                          # quick profile: run (or resume) it, write the docs
    python -m llm.wmdp.regenerate_docs --profile full --jobs 2  # the full profile
    python -m llm.wmdp.regenerate_docs --from runs/wmdp-bench   # re-render an existing bench folder

The run is ``ofmu llm wmdp-bench --profile P --out WORK`` with every other default (the tiny embedded GPT-2
trained on the generated fictional corpus). ``WORK`` (default ``runs/wmdp-bench-<profile>``) keeps the per-run
cache, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from llm.wmdp.report import write_outputs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "wmdp-bench"


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="python -m llm.wmdp.regenerate_docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default=None, help="an existing bench folder (holding bench.json)")
    parser.add_argument("--profile", default="quick", choices=["quick", "full"], help="the bench profile to run")
    parser.add_argument("--work", default=None, help="the bench's folder (default runs/wmdp-bench-<profile>)")
    parser.add_argument("--out", default=str(DOCS), help=f"where to write (default {DOCS})")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the bench's runs (default 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.source is None:
        from llm.cli import main as cli_main  # noqa: PLC0415

        work = args.work or f"runs/wmdp-bench-{args.profile}"
        code = cli_main(["llm", "wmdp-bench", "--out", work, "--quiet", "--overwrite", "--profile", args.profile,
                         "--jobs", str(args.jobs)])
        if code:
            return code
        args.source = work
    report = json.loads((Path(args.source) / "bench.json").read_text(encoding="utf-8"))
    if report.get("bench") != "wmdp":
        raise ValueError(f"{args.source}/bench.json is not a WMDP bench record")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("forget_vs_utility_*.png"):  # plots of budgets no longer in the report
        old.unlink()
    command = f"python -m llm.wmdp.regenerate_docs --profile {report['profile_name']}"
    for path in write_outputs(report, out, command=command):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
