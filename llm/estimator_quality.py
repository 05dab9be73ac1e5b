"""OFMU's estimator variants under the bench's protocol: forget quality and model utility over seeds.

Each variant runs the bench (:func:`llm.bench.run_bench`: the embedded model's prepared entry, the bench's
budget and OFMU's embedded preset) once per seed with only its estimator options changed; the seed is the
unlearning run's (sampler, randomised picks), on the same prepared target. :func:`quality_table` renders
FQ / MU per seed and the verdict against the reference variant: within one FQ step (the KS p-value over
the forget set moves in steps) and 0.01 MU of the reference's range over the seeds.

Usage (writes JSON for ``python -m llm.benchmark --quality PATH``)::

    python -m llm.estimator_quality --out runs/estimator-quality.json
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from ofmu_theory.io import write_json

logger = logging.getLogger("llm.estimator_quality")

#: (label, OFMU overrides); the first is the reference (the bench's OFMU as it stands: exact HVPs).
QUALITY_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("exact", {"hvp": "exact"}),
    ("fd forward", {"hvp": "fd", "fd_scheme": "forward"}),
    ("fd forward, lag 2", {"hvp": "fd", "fd_scheme": "forward", "sim_lag": 2}),
    ("fd forward, random + frozen", {"hvp": "fd", "fd_scheme": "forward", "sim_pick": "random",
                                     "sim_curvature": "frozen"}),
    ("fd forward, lag 2 + random", {"hvp": "fd", "fd_scheme": "forward", "sim_lag": 2, "sim_pick": "random"}),
)
#: Forget quality's steps on the bench's 40-item forget set (docs/llm.md), for "within one FQ step".
FQ_STEPS: tuple[float, ...] = (1.9e-4, 1.3e-3, 6.8e-3, 0.014, 0.029, 0.054, 0.097, 0.165, 0.27, 0.41, 0.58, 0.77, 1.0)


def fq_step(fq: float) -> int:
    """Index of the nearest forget-quality step (on a log scale)."""
    import math  # noqa: PLC0415

    return min(range(len(FQ_STEPS)), key=lambda i: abs(math.log(max(fq, 1e-300)) - math.log(FQ_STEPS[i])))


def run(seeds: Sequence[int], variants: Sequence[tuple[str, dict[str, Any]]] = QUALITY_VARIANTS) -> dict[str, Any]:
    """Run every variant for every seed on the embedded bench entry; returns the rows (label, seed, FQ, MU, wall)."""
    from llm.bench import BenchConfig, run_bench, set_threads  # noqa: PLC0415
    from llm.cli import add_prepare_options, prepare_config  # noqa: PLC0415
    from llm.prepare import prepare  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    add_prepare_options(parser)
    set_threads(1)
    prepared = prepare(prepare_config(parser.parse_args([])), progress=False)
    rows = []
    start = time.perf_counter()
    for seed in seeds:
        for label, overrides in variants:
            with tempfile.TemporaryDirectory() as tmp:
                report = run_bench(prepared, BenchConfig(methods=("ofmu",), overrides={"ofmu": dict(overrides)},
                                                         seed=seed), tmp)
            row = next(r for r in report["rows"] if r["name"] == "ofmu")
            rows.append({"label": label, "overrides": dict(overrides), "seed": seed,
                         "forget_quality": row.get("forget_quality"), "model_utility": row.get("model_utility"),
                         "wall_s": row.get("wall_s"), "peak_mib": row.get("peak_mib"), "status": row.get("status")})
            logger.info("%s seed %d: FQ %.3g MU %.3f (%.1f s)", label, seed, rows[-1]["forget_quality"] or float("nan"),
                        rows[-1]["model_utility"] or float("nan"), rows[-1]["wall_s"] or float("nan"))
    return {"seeds": list(seeds), "rows": rows, "wall_s": time.perf_counter() - start,
            "cache_entry": prepared.folder.name}


def verdicts(report: dict[str, Any]) -> dict[str, bool]:
    """Per variant: every seed within one FQ step and 0.01 MU of the reference's range over the seeds."""
    rows = report["rows"]
    reference = rows[0]["label"]
    ref = [r for r in rows if r["label"] == reference]
    steps = [fq_step(r["forget_quality"]) for r in ref]
    mus = [r["model_utility"] for r in ref]
    out = {}
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = [r for r in rows if r["label"] == label]
        out[label] = all(r["forget_quality"] is not None and min(steps) - 1 <= fq_step(r["forget_quality"]) <= max(steps) + 1
                         and min(mus) - 0.01 <= r["model_utility"] <= max(mus) + 0.01 for r in mine)
    return out


def quality_table(report: dict[str, Any]) -> str:
    """Markdown: FQ / MU per seed, mean wall time and the verdict per variant."""
    seeds = report["seeds"]
    ok = verdicts(report)
    lines = ["| OFMU variant | " + " | ".join(f"seed {s}: FQ / MU" for s in seeds) + " | mean wall s | within the "
             "reference's range |", "|" + "---|" * (len(seeds) + 3)]
    for label in dict.fromkeys(r["label"] for r in report["rows"]):
        mine = {r["seed"]: r for r in report["rows"] if r["label"] == label}
        cells = [f"{mine[s]['forget_quality']:.2g} / {mine[s]['model_utility']:.3f}" if s in mine and
                 mine[s]["forget_quality"] is not None else "–" for s in seeds]
        walls = [r["wall_s"] for r in mine.values() if r["wall_s"] is not None]
        verdict = "reference" if label == report["rows"][0]["label"] else ("yes" if ok[label] else "NO")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {sum(walls) / max(1, len(walls)):.1f} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="python -m llm.estimator_quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2", help="unlearning seeds (default 0,1,2)")
    parser.add_argument("--out", required=True, help="JSON output (read by llm.benchmark --quality)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if not seeds:
        parser.error("--seeds must name at least one seed")
    report = run(seeds)
    write_json(args.out, report)
    print(quality_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
