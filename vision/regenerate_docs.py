"""Regenerate docs/vision-bench/ (the committed bench table, JSON and plot): ``python -m vision.regenerate_docs``.

Runs the default bench (``vision.bench.BenchConfig()``: Fashion-MNIST, both forgetting modes, every
method) with Retrain trained in the same run (``fresh_retrain=True``, so the time ratios are measured
side by side; the Original comes from the cache when present) and writes ``bench.md``,
``bench.json`` and ``bench.png`` into the folder, atomically. ``--out`` writes elsewhere;
``--from-json PATH`` re-renders the table and plot of a saved ``bench.json`` without running anything.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from vision.bench import BenchConfig, BenchResult, run_bench
from vision.report import result_from_record, write_report

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "vision-bench"


def regenerate_docs(out_dir: str | Path = DOCS_DIR, *, config: BenchConfig | None = None,
                    progress: bool = True) -> BenchResult:
    """Run the bench (default: ``BenchConfig(fresh_retrain=True)``) and write its report into ``out_dir``."""
    config = replace(config or BenchConfig(), fresh_retrain=True)
    result = run_bench(config, progress=progress)
    write_report(result, out_dir)
    return result


def rerender_docs(record_path: str | Path, out_dir: str | Path = DOCS_DIR) -> BenchResult:
    """Rewrite the table, plot and JSON in ``out_dir`` from the saved ``bench.json`` at ``record_path``."""
    rec = json.loads(Path(record_path).read_text(encoding="utf-8"))
    result = result_from_record(rec)
    write_report(result, out_dir, rec=rec)
    return result


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="python -m vision.regenerate_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DOCS_DIR), help=f"output folder (default {DOCS_DIR})")
    parser.add_argument("--from-json", default=None, help="re-render this saved bench.json instead of running")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.from_json:
        result = rerender_docs(args.from_json, args.out)
    else:
        result = regenerate_docs(args.out, progress=not args.quiet)
    print(f"wrote {args.out} ({result.wall_s:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
