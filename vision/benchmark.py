"""OFMU against the target on Fashion-MNIST random 10 % forgetting: ``python -m vision.benchmark``.

Runs, side by side in one process, a freshly trained Retrain (the Original comes from the cache when
present) and every method of the bench on the default bench data (Fashion-MNIST, or digits when it
is absent — the output says so), and prints each method's Avg. Gap to Retrain and its wall time as
a share of Retrain's. It then checks the target: OFMU's Avg. Gap ≤ 1.5 points in ≤ 1/5 of Retrain's
time, and says by how much it misses when it does. ``--set ofmu.rho=0.02`` tries other
hyper-parameters; ``--json PATH`` keeps every number. Timings use one CPU thread by default
(``--threads``): on a shared machine two threads make time ratios swing by an order of magnitude.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ofmu_theory.io import write_json
from vision.bench import BenchConfig, BenchResult, run_bench
from vision.report import Verdict, record, verdict  # noqa: F401 (Verdict re-exported)

logger = logging.getLogger(__name__)


def summary(result: BenchResult) -> str:
    """The printed table (method, status, Avg. Gap, time ratio, wall time) and the verdict."""
    mode = result.mode("random")
    lines = [f"{result.dataset['name']} random {result.config.forget_fraction:.0%} forgetting "
             f"(|D_f| = {mode.split['n_forget']}, |D_r| = {mode.split['n_retain']}), seed {result.config.seed}"]
    if result.fallback:
        lines.append(f"NOTE: {result.fallback}")
    lines.append(f"{'method':10s} {'status':9s} {'Avg. Gap':>9s} {'time/Retrain':>13s} {'wall (s)':>9s}")
    for r in mode.rows:
        gap = "" if r.avg_gap is None else f"{r.avg_gap:9.2f}"
        ratio = "" if r.time_ratio is None else f"{r.time_ratio:13.3f}"
        wall = "" if r.wall_s is None else f"{r.wall_s:9.1f}"
        lines.append(f"{r.method:10s} {r.status.lower():9s} {gap:>9s} {ratio:>13s} {wall:>9s}")
    lines.append(verdict(mode).sentence())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    from vision.cli import parse_overrides

    parser = argparse.ArgumentParser(prog="python -m vision.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="method hyper-parameter, e.g. ofmu.rho=0.02 or rho=0.02 (repeatable)")
    parser.add_argument("--methods", default=None, help="comma-separated methods (default: all; ofmu is always run)")
    parser.add_argument("--json", default=None, help="also write every number here")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: steady time ratios on a shared machine; 0 = torch's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    extra = {}
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        extra["methods"] = tuple(dict.fromkeys([*methods, "ofmu"]))
    try:
        config = BenchConfig(modes=("random",), fresh_retrain=True, threads=args.threads or None,
                             overrides=parse_overrides(args.set, extra.get("methods")), **extra)
        result = run_bench(config, progress=not args.quiet)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"benchmark: error: {err}", file=sys.stderr)
        return 2
    print(summary(result))
    if args.json:
        write_json(args.json, {"verdict": verdict(result.mode("random")).__dict__, **record(result)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
