"""Regenerate docs/llm-bench/ (README, bench.json, plots) from a protocol bench run.

    python -m llm.regenerate_docs                          # quick profile: run (or resume) it, then write the docs
    python -m llm.regenerate_docs --profile full --jobs 2  # the full profile (2 workers on 2 cores; resumable)
    python -m llm.regenerate_docs --from runs/llm-bench    # re-render an existing bench folder (its bench.json)
    python -m llm.regenerate_docs --from runs/llm-bench-full --path-check-only   # only OFMU's estimator-path check

The run is ``ofmu llm bench --profile P --out WORK`` with every other default (the tiny embedded GPT-2;
evaluation on the generated 40-author corpus with the held-out question template, tuning on the corpus of
seed 1 with the other templates; forget10). ``WORK`` (default ``runs/llm-bench-<profile>``) keeps the
per-run cache, so an interrupted run continues where it stopped. The wall time the docs state is the
run's own (``bench.json``: ``wall_s``, ``prepare_s``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from llm.fairreport import write_outputs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "llm-bench"


def write_docs(report: dict[str, Any], folder: Path = DOCS) -> list[Path]:
    """README.md, bench.json and the per-budget plots in ``folder`` from a protocol bench report."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("fq_vs_mu*.png"):  # plots of budgets no longer in the report
        old.unlink()
    return write_outputs(report, folder, command=f"python -m llm.regenerate_docs --profile {report['profile_name']}")


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="python -m llm.regenerate_docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default=None, help="an existing bench folder (holding bench.json)")
    parser.add_argument("--profile", default="quick", choices=["quick", "full"], help="the bench profile to run")
    parser.add_argument("--work", default=None, help="the bench's folder (default runs/llm-bench-<profile>)")
    parser.add_argument("--out", default=None, help=f"where to write (default {DOCS}; with --path-check-only, "
                                                    "<--from>/path-check)")
    parser.add_argument("--no-hvp-check", dest="hvp_check", action="store_false",
                        help="skip the check of OFMU's estimator paths on its chosen configuration")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the bench's runs (default 1)")
    parser.add_argument("--path-check-only", action="store_true",
                        help="with --from: run only the check of OFMU's estimator paths on the bench's chosen "
                             "configuration (its runs cached in <--from>/runs) and write path_check.json and "
                             "path_check.md to --out; the bench's own files are left as they are")
    args = parser.parse_args(argv)
    if args.path_check_only:
        if args.source is None:
            parser.error("--path-check-only needs --from (a finished protocol bench folder)")
        return path_check_only(Path(args.source), Path(args.out or Path(args.source) / "path-check"))
    args.out = args.out or str(DOCS)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.source is None:
        from llm.cli import main as cli_main  # noqa: PLC0415

        work = args.work or f"runs/llm-bench-{args.profile}"
        # --overwrite: a rerun continues from the work folder's cached runs and replaces its report
        code = cli_main(["llm", "bench", "--out", work, "--quiet", "--overwrite", "--profile", args.profile,
                         "--jobs", str(args.jobs),
                         *([] if args.hvp_check else ["--no-hvp-check"])])
        if code:
            return code
        args.source = work
    report = json.loads((Path(args.source) / "bench.json").read_text(encoding="utf-8"))
    if "levels" not in report:
        raise ValueError(f"{args.source}/bench.json is not a protocol bench record (run with --profile quick or full)")
    for path in write_docs(report, Path(args.out)):
        print(f"wrote {path}")
    return 0


def path_check_only(source: Path, out: Path) -> int:
    """Run the estimator-path check of the bench in ``source`` alone; write its record and text to ``out``."""
    import time  # noqa: PLC0415

    from llm.fairreport import path_check_text, rerun_path_check  # noqa: PLC0415
    from ofmu_theory.io import write_json, write_text  # noqa: PLC0415

    report = json.loads((source / "bench.json").read_text(encoding="utf-8"))
    if "levels" not in report:
        raise ValueError(f"{source}/bench.json is not a protocol bench record (run with --profile quick or full)")
    start = time.perf_counter()
    check = rerun_path_check(report, cache_dir=source / "runs")
    check["wall_s"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "path_check.json", check)
    write_text(out / "path_check.md", f"Generated by `python -m llm.regenerate_docs --from {source} --path-check-only`"
               f" ({check['runs']['executed']} runs executed, {check['runs']['from_cache']} read from the run cache; "
               f"{check['wall_s']:.0f} s in all).\n\n{path_check_text(check)}\n")
    print(f"wrote {out / 'path_check.json'} and {out / 'path_check.md'}: selected {check['default']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
