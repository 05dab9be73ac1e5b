"""Run the vision bench under the protocol and write bench.json, bench.md and one Avg. Gap-vs-time plot per budget.

Random forgetting only (the benchmark's target is stated there). Files (atomically)::

    bench.json              the protocol record (levels, per-seed values, intervals, tuning records, verdicts,
                            time to quality), Original / Retrain rows, OFMU against the target, run metadata
    bench.md                tables per budget, verdicts, the target, time to quality (generated)
    gap_vs_time_<m>x.png    Avg. Gap against time / Retrain with 95 % intervals, per budget
    runs/<key>.json         every run's record (the cache a rerun resumes from)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ofmu_theory.comparison import interval
from ofmu_theory.io import save_figure, write_json, write_text
from ofmu_theory.protocol import invocations, open_bench, run_protocol, run_seconds
from ofmu_theory.protocol_report import level_table as protocol_level_table
from ofmu_theory.protocol_report import interval_point, runs_sentence, time_to_quality_table
from ofmu_theory.protocol_report import verdict_sentence as protocol_verdict
from ofmu_theory.runinfo import run_metadata, torch_threads
from vision.bench import BenchConfig, _check_trained, bench_split, load_bench_data
from vision.evaluate import evaluate
from vision.fairbench import (METRICS, PROFILES, QUICK_METHODS, SEARCH_SPACES, TARGET_GAP, TARGET_TIME_RATIO,
                              VisionTask, identity_of, spaces_for)
from vision.train import load_or_train


def run_fair_bench(config: BenchConfig, *, profile: str = "quick", methods: tuple[str, ...] = QUICK_METHODS,
                   out: str | os.PathLike[str], progress: bool = False, log: Any = None,
                   jobs: int = 1) -> dict[str, Any]:
    """Run the protocol on random forgetting (module docstring) into ``out``; returns bench.json's content.

    ``jobs`` worker processes run the protocol's runs (each gets a copy of the task and ``config.threads``
    torch threads); the metrics are the same for any ``jobs``, the wall times are not (see the report).
    """
    chosen, root, previous = open_bench(out, profile=profile, profiles=PROFILES, methods=methods)
    with torch_threads(config.threads):
        start = time.perf_counter()
        data, fallback = load_bench_data(config)
        split = bench_split(data, config, "random")
        original = load_or_train(data, split.train, config=config.train, seed=config.seed, name="D",
                                 cache=config.cache, progress=progress)
        _check_trained(original, "Original")
        retrain = load_or_train(data, split.retain, config=config.train, seed=config.seed, name="D_r[random]",
                                cache=config.cache and not config.fresh_retrain, progress=progress)
        _check_trained(retrain, "Retrain (random)")
        reference = evaluate(retrain.model, data, split, wall_s=retrain.wall_s)
        ev0 = evaluate(original.model, data, split)
        task = VisionTask(original=original.model, data=data, split=split, retrain=reference,
                          retrain_s=retrain.wall_s, identity=identity_of(config, data, split))
        reference_passes = task.reference_passes()
        record = run_protocol(task, spaces_for(methods), chosen, reference_passes=reference_passes,
                              reference_method="ofmu", metrics=METRICS, cache_dir=root / "runs", log=log,
                              jobs=jobs, task_factory=functools.partial(worker_task, task, config.threads))
        _time_ratios(record, retrain.wall_s)
        report = {
            "bench": "vision", "methods": list(methods), **record, "profile_name": profile,
            "reference_run": {"method": "graddiff", "passes": reference_passes},
            "dataset": data.to_dict(), "fallback": fallback, "split": split.to_dict(), "config": config.to_dict(),
            "original": {**ev0.to_dict(), "avg_gap": ev0.avg_gap(reference)},
            "retrain": {**reference.to_dict(), "wall_s": retrain.wall_s, "cached": retrain.cached},
            "search_spaces": {m: {k: list(v) for k, v in SEARCH_SPACES[m].items()} for m in methods},
            "verdict": {f"{lv['budget_multiple']:g}x": lv["verdict"] for lv in record["levels"]},
            "target": target_record(record),
            "wall_s": time.perf_counter() - start,
            "invocations": None,
            "metadata": run_metadata(seed=config.seed, config={"profile": chosen.to_dict(), "bench": config.to_dict()}),
        }
    report["invocations"] = invocations(previous, record["runs"], report["wall_s"])
    write_outputs(report, root)
    return report


def worker_task(task: VisionTask, threads: int | None) -> VisionTask:
    """The bench's task in a protocol worker process (passed whole: models and images are small), with
    ``threads`` torch threads there (None: torch's default)."""
    import torch  # noqa: PLC0415

    if threads is not None:
        torch.set_num_threads(threads)
    return task


def _time_ratios(record: dict[str, Any], retrain_s: float) -> None:
    """Time / Retrain from each run's wall time and this run's Retrain time (cached runs included)."""
    for level in record["levels"]:
        for row in level["methods"].values():
            for r in row["per_seed"]:
                r["time_ratio"] = r["wall_s"] / retrain_s
            row["summary"]["time_ratio"] = interval([r["time_ratio"] for r in row["per_seed"]]).to_dict()


def target_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """OFMU against the target at each budget, and the best mean Avg. Gap each method reaches."""
    per_level, best = [], {}
    for level in record["levels"]:
        for name, row in level["methods"].items():
            s = row["summary"]
            if "avg_gap" not in s:
                continue
            gap, ratio = s["avg_gap"]["mean"], s["time_ratio"]["mean"]
            if name not in best or gap < best[name]["avg_gap"]:
                best[name] = {"avg_gap": gap, "time_ratio": ratio, "budget_multiple": level["budget_multiple"]}
            if name == "ofmu":
                per_level.append({"budget_multiple": level["budget_multiple"], "avg_gap": gap, "time_ratio": ratio,
                                  "met": gap <= TARGET_GAP and ratio <= TARGET_TIME_RATIO})
    return {"gap": TARGET_GAP, "time_ratio": TARGET_TIME_RATIO, "ofmu": per_level,
            "met": any(p["met"] for p in per_level), "best_per_method": best}


#: The per-budget table's columns: (header, summary key, format).
COLUMNS = (("Avg. Gap", "avg_gap", ".2f"), ("UA", "ua", ".2f"), ("RA", "ra", ".2f"), ("TA", "ta", ".2f"),
           ("MIA-Eff.", "mia_efficacy", ".2f"), ("val. gap (tuning)", "val_gap", ".2f"), ("passes", "passes", ".0f"),
           ("time / Retrain", "time_ratio", ".3f"))


def level_table(level: Mapping[str, Any]) -> str:
    return protocol_level_table(level, COLUMNS, per_seed=("per-seed Avg. Gap", "avg_gap", ".2f"))


def verdict_sentence(level: Mapping[str, Any]) -> str:
    return protocol_verdict(level["verdict"], baseline_rule="the best baseline", metric_label="Avg. Gap",
                            digits=".2f", with_reason=False)

def plot_level(level: Mapping[str, Any], path: Path, *, title: str) -> None:
    """Avg. Gap against time / Retrain (log x) with 95 % intervals, one point per method; the target's box."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for i, (name, row) in enumerate(level["methods"].items()):
        s = row["summary"]
        if "avg_gap" not in s:
            continue
        interval_point(ax, i, name, s["time_ratio"], s["avg_gap"], x_floor=1e-4)
    ax.axhline(TARGET_GAP, color="0.5", ls="--", lw=0.8)
    ax.axvline(TARGET_TIME_RATIO, color="0.5", ls="--", lw=0.8, label=f"target: gap ≤ {TARGET_GAP}, time ≤ "
                                                                       f"{TARGET_TIME_RATIO} × Retrain")
    ax.set_xscale("log")
    ax.set_xlabel("time / Retrain's training time (mean, 95 % t interval; log)")
    ax.set_yscale("log")  # a collapsed model's gap (tens of points) beside the others' (one or two)
    ax.set_ylabel("Avg. Gap to Retrain (mean, 95 % t interval; log; lower is better)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(True, which="both", alpha=0.3)
    save_figure(path, fig)
    plt.close(fig)


def write_outputs(report: Mapping[str, Any], folder: str | os.PathLike[str], *,
                  command: str = "ofmu vision bench") -> list[Path]:
    """bench.json, bench.md and the per-budget plots (atomically)."""
    root = Path(folder)
    write_json(root / "bench.json", report)
    ds, sp, rt = report["dataset"], report["split"], report["retrain"]
    prof = report["profile_name"]
    lines = [
        "# Vision unlearning bench (generated)", "",
        f"Generated by `{command}` (profile **{prof}**); do not edit by hand. Protocol: docs/vision.md. Random "
        f"forgetting on **{ds.get('name')}**; every method gets the same gradient-pass budget, the same number of "
        "configurations from its declared search space (seeded search), the same selection rule on the validation "
        "images, and the same unlearning seeds for the reported runs.", "",
        f"* Budget 1× = GradDiff's default run = {report['reference_run']['passes']:.0f} gradient passes.",
        f"* Selection: {report['levels'][0]['methods']['ofmu']['tuning']['selected_on']}.",
        f"* Configurations per method and budget: {report['profile']['n_configs']}; seeds: "
        f"{report['profile']['seeds']}; values are mean [95 % t interval] over seeds.",
        f"* Retrain: UA {rt['ua']:.2f}, RA {rt['ra']:.2f}, TA {rt['ta']:.2f}, MIA-Eff. {rt['mia_efficacy']:.2f}, "
        f"trained in {rt['wall_s']:.1f} s ({'cached' if rt['cached'] else 'in this run'}); Original Avg. Gap "
        f"{report['original']['avg_gap']:.2f}. |D_f| = {sp.get('n_forget', '?')}.",
        f"* Wall time of this run: {report['wall_s']:.0f} s ({runs_sentence(report)}; "
        f"{report['config'].get('threads')} CPU thread(s) per process).",
        f"* Unlearning wall time summed over every run of the record (tuning + seeds, evaluation excluded): "
        f"{run_seconds(report):.0f} s.", "",
    ]
    paths = [root / "bench.json", root / "bench.md"]
    for level in report["levels"]:
        tag = f"{level['budget_multiple']:g}x"
        name = f"gap_vs_time_{tag}.png"
        lines += [f"## Budget {tag} = {level['budget_passes']:.0f} passes", "", level_table(level),
                  "Verdict: " + verdict_sentence(level), "", f"![Avg. Gap vs time at {tag}]({name})", ""]
        plot_level(level, root / name, title=f"budget {tag} ({level['budget_passes']:.0f} passes), profile {prof}")
        paths.append(root / name)
    t = report["target"]
    lines += ["## The target (OFMU: Avg. Gap ≤ 1.5 in ≤ 0.2 × Retrain's time)", "",
              ("**Met**" if t["met"] else "**Not met**") + " under this protocol. OFMU per budget: "
              + "; ".join(f"{p['budget_multiple']:g}x: gap {p['avg_gap']:.2f}, time {p['time_ratio']:.3f} × Retrain"
                          for p in t["ofmu"]) + ".", "",
              "Best mean Avg. Gap each method reaches over the budgets: "
              + "; ".join(f"{n} {b['avg_gap']:.2f} ({b['budget_multiple']:g}x, {b['time_ratio']:.3f} × Retrain)"
                          for n, b in sorted(t["best_per_method"].items(), key=lambda kv: kv[1]["avg_gap"])) + ".", "",
              "## Time to quality", "", f"First budget at which a method's mean Avg. Gap ≤ {TARGET_GAP} "
              "(resolution: the budget levels).", "", *time_to_quality_table(report)]
    meta = report["metadata"]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v != "absent") + ".", ""]
    write_text(root / "bench.md", "\n".join(lines))
    return paths


def run_from_args(args: Any, config: BenchConfig) -> int:
    """``ofmu vision bench --profile quick|full|smoke``: run the protocol into ``--out`` and print the verdicts."""
    from ofmu_theory.io import work_dir  # noqa: PLC0415
    from vision.fairbench import FULL_METHODS  # noqa: PLC0415

    if config.overrides:
        raise ValueError("--set applies to --profile single only: the protocol tunes every method from its "
                         "declared search space")
    if "random" not in config.modes:
        raise ValueError(f"the protocol runs random forgetting only (class-wise: --profile single), got "
                         f"--modes {','.join(config.modes)}")
    default = FULL_METHODS if args.profile == "full" else QUICK_METHODS
    methods = tuple(config.methods) if args.methods else default
    with work_dir(args.out, finished="bench.json", overwrite=args.overwrite):  # claimed before any work
        report = run_fair_bench(config, profile=args.profile, methods=methods, out=args.out,
                                progress=not args.quiet, log=None if args.quiet else print, jobs=args.jobs)
    for tag, v in report["verdict"].items():
        print(f"{tag}: OFMU vs {v.get('best_baseline')}: {v['result']} ({v['reason']})")
    print(f"target met: {report['target']['met']}; wrote {args.out}/bench.json, bench.md and the plots "
          f"({report['wall_s']:.1f} s)")
    return 0


def config_from_record(record: Mapping[str, Any]) -> BenchConfig:
    """The :class:`BenchConfig` a bench.json was made with (its ``config``)."""
    from vision.train import TrainConfig  # noqa: PLC0415

    cfg = dict(record["config"])
    cfg["train"] = TrainConfig(**cfg["train"])
    cfg["modes"], cfg["methods"] = tuple(cfg["modes"]), tuple(cfg["methods"])
    return BenchConfig(**cfg)


def rerun_row(record: Mapping[str, Any], *, method: str, level: int = 0, seed_index: int = 0) -> tuple[dict, dict]:
    """Re-run one committed eval run of a protocol bench.json (one method, one budget, one seed) from scratch
    (Original and Retrain from the cache or trained again with the recorded recipe and seed); returns
    (committed record, new record)."""
    config = config_from_record(record)
    row = record["levels"][level]["methods"][method]
    committed = row["per_seed"][seed_index]
    with torch_threads(config.threads):
        data, _ = load_bench_data(config)
        split = bench_split(data, config, "random")
        original = load_or_train(data, split.train, config=config.train, seed=config.seed, name="D", cache=config.cache)
        retrain = load_or_train(data, split.retain, config=config.train, seed=config.seed, name="D_r[random]",
                                cache=config.cache)
        reference = evaluate(retrain.model, data, split, wall_s=retrain.wall_s)
        task = VisionTask(original=original.model, data=data, split=split, retrain=reference,
                          retrain_s=retrain.wall_s, identity=identity_of(config, data, split))
        new = task.run(method, row["tuning"]["chosen"], budget_passes=row["budget_passes"], seed=committed["seed"],
                       role="eval")
    return committed, new
