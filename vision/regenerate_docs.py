"""Regenerate docs/vision-bench/ (bench.md, bench.json, plots): ``python -m vision.regenerate_docs``.

Runs the bench under the fair-comparison protocol (``vision.fairreport.run_fair_bench``, profile
``quick`` by default, ``--profile full`` for the full one) on the default data and model, random
forgetting, with Retrain trained in the same run (``fresh_retrain=True``, so the time ratios are measured
side by side; the Original comes from the cache when present). The bench's own folder (``--work``,
default ``runs/vision-bench-<profile>``) keeps the per-run cache, so an interrupted run continues; the
report is then written into ``--out``. ``--from-json PATH`` re-renders a saved ``bench.json`` (a protocol
record, or a ``--profile single`` record) without running anything.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from vision.bench import BenchConfig, BenchResult
from vision.report import result_from_record, write_report

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "vision-bench"


def regenerate_docs(out_dir: str | Path = DOCS_DIR, *, profile: str = "quick", work: str | Path | None = None,
                    config: BenchConfig | None = None, progress: bool = True,
                    cached_retrain: bool = False, methods: tuple[str, ...] | None = None,
                    jobs: int = 1) -> dict[str, Any]:
    """Run the protocol bench (default config; Retrain trained in the run unless ``cached_retrain``) and write
    its report into ``out_dir``."""
    from vision.fairbench import FULL_METHODS, QUICK_METHODS  # noqa: PLC0415
    from vision.fairreport import run_fair_bench, write_outputs  # noqa: PLC0415

    config = replace(config or BenchConfig(), fresh_retrain=not cached_retrain)
    methods = methods or (FULL_METHODS if profile == "full" else QUICK_METHODS)
    report = run_fair_bench(config, profile=profile, methods=methods, out=work or f"runs/vision-bench-{profile}",
                            progress=progress, jobs=jobs)
    _write(report, Path(out_dir), write_outputs)
    return report


def _write(report: dict[str, Any], out: Path, write_outputs: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):  # plots of budgets (or of the single-pass bench) no longer in the report
        old.unlink()
    write_outputs(report, out, command=f"python -m vision.regenerate_docs --profile {report['profile_name']}")


def rerender_docs(record_path: str | Path, out_dir: str | Path = DOCS_DIR) -> BenchResult | dict[str, Any]:
    """Rewrite the report in ``out_dir`` from the saved ``bench.json`` at ``record_path``."""
    rec = json.loads(Path(record_path).read_text(encoding="utf-8"))
    if "levels" in rec:  # a protocol record
        from vision.fairreport import write_outputs  # noqa: PLC0415

        _write(rec, Path(out_dir), write_outputs)
        return rec
    result = result_from_record(rec)
    write_report(result, out_dir, rec=rec)
    return result


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="python -m vision.regenerate_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DOCS_DIR), help=f"output folder (default {DOCS_DIR})")
    parser.add_argument("--profile", default="quick", choices=["quick", "full"], help="the bench profile")
    parser.add_argument("--work", default=None, help="the bench's folder (default runs/vision-bench-<profile>)")
    parser.add_argument("--from-json", default=None, help="re-render this saved bench.json instead of running")
    parser.add_argument("--cached-retrain", action="store_true",
                        help="take Retrain from the cache (its recorded training time) instead of training it again")
    parser.add_argument("--methods", default=None, help="comma-separated methods (default: the profile's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the bench's runs (default 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.from_json:
        rerender_docs(args.from_json, args.out)
        print(f"wrote {args.out}")
        return 0
    report = regenerate_docs(args.out, profile=args.profile, work=args.work, progress=not args.quiet,
                             cached_retrain=args.cached_retrain,
                             methods=None if args.methods is None else tuple(args.methods.split(",")),
                             jobs=args.jobs)
    print(f"wrote {args.out} ({report['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
