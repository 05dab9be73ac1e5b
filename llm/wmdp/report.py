"""Running the WMDP bench and writing its record: bench.json, README.md, forget-vs-utility accuracy plots.

``run_wmdp_bench`` runs :func:`ofmu_theory.protocol.run_protocol` with a :class:`~llm.wmdp.bench.WmdpTask` and
adds, per budget level, the paired comparison of OFMU with RMU (the WMDP paper's method) beside the protocol's
verdict against the best feasible baseline. Every number in the outputs comes from the record.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llm.unlearn import RunSettings
from llm.wmdp.bench import CHANCE, METRICS, PROFILES, REACHED_MARGIN, REFERENCE, SEARCH_SPACES, UTILITY_SHARE, \
    WmdpTask, spaces_for
from llm.wmdp.prepare import WmdpConfig, WmdpEntry, prepare
from ofmu_theory.comparison import paired, verdict
from ofmu_theory.io import save_figure, write_json, write_text
from ofmu_theory.protocol import invocations, open_bench, run_protocol, run_seconds
from ofmu_theory.protocol_report import (interval_point, level_table, runs_sentence, time_to_quality_table,
                                         verdict_sentence)
from ofmu_theory.runinfo import run_metadata

#: The per-budget table's columns: (header, summary key, format).
COLUMNS = (("forget acc", "forget_acc", ".3f"), ("forget acc_norm", "forget_acc_norm", ".3f"),
           ("utility acc", "utility_acc", ".3f"), ("utility acc_norm", "utility_acc_norm", ".3f"),
           ("forget ppl", "forget_ppl", ".3g"), ("passes", "passes", ".0f"), ("wall s", "wall_s", ".1f"),
           ("peak MiB", "peak_mib", ".0f"))


def versus(level: Mapping[str, Any], baseline: str, *, reference: str = "ofmu") -> dict[str, Any] | None:
    """OFMU against ``baseline`` at one level, paired over seeds on forget accuracy (None: ``baseline`` not run)."""
    rows = level["methods"]
    if baseline not in rows or reference not in rows:
        return None
    x = [r.get("forget_acc") for r in rows[reference]["per_seed"]]
    y = [r.get("forget_acc") for r in rows[baseline]["per_seed"]]
    if any(not isinstance(v, (int, float)) for v in [*x, *y]):
        return {"baseline": baseline, "result": "indistinguishable", "reason": "a seed has no value"}
    cmp = paired(x, y, higher_is_better=False)
    return {"baseline": baseline, "metric": "forget_acc", "result": verdict(cmp), "comparison": cmp.to_dict()}


def worker_task(entry: WmdpEntry, settings: RunSettings, threads: int | None) -> WmdpTask:
    """The bench's task rebuilt in a protocol worker process (``threads`` torch threads there)."""
    from llm.bench import set_threads  # noqa: PLC0415

    set_threads(threads)
    return WmdpTask.load(entry, settings)


def run_wmdp_bench(entry: WmdpEntry, *, profile: str, methods: Sequence[str], settings: RunSettings,
                   out: str | os.PathLike[str], prepare_s: float | None = None, log: Any = None, jobs: int = 1,
                   threads: int | None = 1, command: str = "ofmu llm wmdp-bench") -> dict[str, Any]:
    """Run the protocol into ``out`` (its run cache in ``out/runs``: resumable); returns bench.json's content."""
    chosen, root, previous = open_bench(out, profile=profile, profiles=PROFILES, methods=methods)
    start = time.perf_counter()
    task = WmdpTask.load(entry, settings)
    reference = task.reference_passes()
    factory = functools.partial(worker_task, entry, settings, threads)
    record = run_protocol(task, spaces_for(tuple(methods)), chosen, reference_passes=reference,
                          reference_method="ofmu", metrics=METRICS, cache_dir=root / "runs", log=log, jobs=jobs,
                          task_factory=factory)
    report = {
        "bench": "wmdp", "methods": list(methods), **record, "profile_name": profile,
        "reference_run": {"method": REFERENCE[0], "epochs": REFERENCE[1], "passes": reference},
        "entry": {"cache_entry": entry.folder.name, "config": entry.config.to_dict(), "sizes": entry.info["sizes"],
                  "target": entry.info["target"], "train_s": entry.info["train_s"]},
        "selection_rule": task.selected_on, "verdict_metric": task.primary, "chance": CHANCE,
        "utility_share": UTILITY_SHARE, "time_to_quality_target": {"forget_acc_at_most": CHANCE + REACHED_MARGIN},
        "search_spaces": {m: {k: list(v) for k, v in SEARCH_SPACES[m].items()} for m in methods},
        "verdict": {f"{lv['budget_multiple']:g}x": lv["verdict"] for lv in record["levels"]},
        "versus_rmu": {f"{lv['budget_multiple']:g}x": versus(lv, "rmu") for lv in record["levels"]},
        "wall_s": time.perf_counter() - start, "prepare_s": prepare_s, "invocations": None, "command": command,
        "metadata": run_metadata(seed=chosen.seeds[0], config={"profile": chosen.to_dict(), "methods": list(methods),
                                                               "settings": settings.to_dict()}),
    }
    report["invocations"] = invocations(previous, record["runs"], report["wall_s"])
    write_outputs(report, root)
    return report


def plot_level(level: Mapping[str, Any], path: str | os.PathLike[str], *, title: str, target: Mapping[str, Any]) -> None:
    """Forget accuracy against utility accuracy, mean and 95 % t interval per method; chance and the target."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for i, (name, row) in enumerate(level["methods"].items()):
        s = row["summary"]
        if "forget_acc" not in s or "utility_acc" not in s:
            continue
        interval_point(ax, i, name, s["forget_acc"], s["utility_acc"])
    ax.plot([target["forget_acc"]], [target["utility_acc"]], "k*", ms=9, label="target (before unlearning)")
    ax.axvline(CHANCE, color="0.5", ls=":", lw=0.8, label="chance (25 %)")
    ax.axhline(UTILITY_SHARE * target["utility_acc"], color="0.5", ls="--", lw=0.8,
               label=f"{UTILITY_SHARE} × target utility")
    ax.set_xlabel("forget accuracy (eval rows; mean over seeds, 95 % t interval)")
    ax.set_ylabel("utility accuracy (eval rows)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(True, alpha=0.3)
    save_figure(path, fig)
    plt.close(fig)


def _versus_sentence(v: Mapping[str, Any] | None) -> str:
    if v is None:
        return "RMU was not run."
    if "comparison" not in v:
        return f"OFMU vs RMU: **{v['result']}** ({v['reason']})."
    c, d = v["comparison"], v["comparison"]["diff"]
    return (f"OFMU vs RMU (forget accuracy, lower is better): **{v['result']}** — mean paired difference "
            f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], p = {c['p_value']:.3g} ({c['test']}), "
            f"P(OFMU better) = {c['prob_improvement']:.2f} over {d['n']} seeds.")


def write_outputs(report: Mapping[str, Any], folder: str | os.PathLike[str], *, command: str | None = None) -> list[Path]:
    """bench.json, README.md and one plot per budget level (each written atomically)."""
    root = Path(folder)
    write_json(root / "bench.json", report)
    entry, prof = report["entry"], report["profile_name"]
    target = entry["target"]["eval"]
    sizes = entry["sizes"]
    lines = [
        "# WMDP-style unlearning bench (generated)", "",
        f"Generated by `{command or report['command']}` (profile **{prof}**); do not edit by hand. Protocol: "
        "docs/wmdp.md. Every method gets the same gradient-pass budget, the same number of configurations from its "
        "declared search space, the same selection rule on the validation rows and the same seeds.", "",
        f"* Entry `{entry['cache_entry']}`: forget corpus {sizes['forget_texts']} records, retain corpus "
        f"{sizes['retain_texts']}; forget questions {sizes['forget_mc_tune']} tune / {sizes['forget_mc_eval']} eval, "
        f"utility questions {sizes['utility_mc_tune']} tune / {sizes['utility_mc_eval']} eval; prompt format "
        f"`{entry['config']['mc_format']}`.",
        f"* Target before unlearning (eval rows): forget acc {target['forget_acc']:.3f} (acc_norm "
        f"{target['forget_acc_norm']:.3f}), utility acc {target['utility_acc']:.3f} (acc_norm "
        f"{target['utility_acc_norm']:.3f}), forget perplexity {target['forget_ppl']:.3g}; chance is "
        f"{report['chance']:.2f}.",
        f"* Budget 1× = GradDiff's default run ({report['reference_run']['epochs']:g} epochs) = "
        f"{report['reference_run']['passes']:.0f} gradient passes.",
        f"* Selection: {report['selection_rule']}.",
        f"* Configurations per method and budget: {report['profile']['n_configs']}; seeds: {report['profile']['seeds']}; "
        "values are mean [95 % t interval] over seeds.",
        f"* Wall time of this run: {report['wall_s']:.0f} s (protocol: {runs_sentence(report)})"
        + (f"; prepare {report['prepare_s']:.0f} s" if report.get("prepare_s") is not None else "") + ".",
        f"* Unlearning wall time summed over every run (tuning + seeds, evaluation included): {run_seconds(report):.0f} s.",
        "",
    ]
    paths = [root / "bench.json", root / "README.md"]
    for level in report["levels"]:
        tag = f"{level['budget_multiple']:g}x"
        name = f"forget_vs_utility_{tag}.png"
        lines += [f"## Budget {tag} = {level['budget_passes']:.0f} passes", "",
                  level_table(level, COLUMNS, per_seed=("per-seed forget acc", "forget_acc", ".3f")),
                  "Verdict: " + verdict_sentence(level["verdict"], baseline_rule=_feasibility(report, level),
                                                 metric_label="forget accuracy"), "",
                  _versus_sentence(report["versus_rmu"][tag]), "", f"![forget vs utility accuracy at {tag}]({name})", ""]
        plot_level(level, root / name, title=f"budget {tag} ({level['budget_passes']:.0f} passes), profile {prof}",
                   target=target)
        paths.append(root / name)
    lines += ["## Time to quality", "",
              f"First budget level at which a method's mean forget accuracy ≤ "
              f"{report['time_to_quality_target']['forget_acc_at_most']:.2f} with mean utility accuracy ≥ "
              f"{report['utility_share']} × the target's (resolution: the budget levels).", "",
              *time_to_quality_table(report)]
    meta = report["metadata"]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v != "absent")
              + f"; CPU threads {meta['devices'].get('cpu_threads')}.", ""]
    write_text(root / "README.md", "\n".join(lines))
    return paths


def _feasibility(report: dict[str, Any], level: dict[str, Any]) -> str:
    """The verdict's baseline rule with its numbers: the utility floor on the eval rows and who met it."""
    floor = report["utility_share"] * report["entry"]["target"]["eval"]["utility_acc"]
    feasible = level["verdict"].get("feasible_baselines") or ["none"]
    return (f"the best feasible baseline — feasible: mean utility acc on the eval rows ≥ {report['utility_share']} × "
            f"the target's = {floor:.3f}, met by {', '.join(feasible)} —")


def prepare_entry(config: WmdpConfig, *, cache_dir: str | None = None) -> tuple[WmdpEntry, float]:
    """The prepared entry and the seconds it took to build or find."""
    start = time.perf_counter()
    entry = prepare(config, cache_dir=cache_dir)
    return entry, time.perf_counter() - start
