"""Run the LLM bench under the protocol and write its outputs: bench.json, README.md, one Pareto plot per budget.

``run_fair_bench`` loads the two roles (tune and eval entries), runs :func:`ofmu_theory.protocol.run_protocol`
with :class:`llm.fairbench.LlmTask`, then the estimator-path check on OFMU's chosen configuration at the largest
budget, and writes (atomically)::

    bench.json            the protocol record (levels, per-seed values, intervals, tuning records, verdicts,
                          time to quality), both entries, the path check, profile, wall time, run metadata
    README.md             tables per budget, verdicts, time to quality, path check (generated)
    fq_vs_mu_<m>x.png     FQ (log) against MU with 95 % intervals, one point per method, per budget
    runs/<key>.json       every run's record (the cache a rerun resumes from)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llm.fairbench import (FQ_TARGET, METRICS, MU_SHARE, PROFILES, REFERENCE, SEARCH_SPACES, SHARED, LlmTask,
                           Role, path_check, spaces_for)
from llm.unlearn import RunSettings
from ofmu_theory.io import save_figure, write_json, write_text
from ofmu_theory.protocol import invocations, open_bench, run_protocol, run_seconds
from ofmu_theory.protocol_report import format_config, format_interval
from ofmu_theory.protocol_report import level_table as protocol_level_table
from ofmu_theory.protocol_report import interval_point, runs_sentence, time_to_quality_table
from ofmu_theory.protocol_report import verdict_sentence as protocol_verdict
from ofmu_theory.runinfo import run_metadata



def run_fair_bench(eval_prepared: Any, tune_prepared: Any, *, profile: str, methods: Sequence[str],
                   settings: RunSettings, out: str | os.PathLike[str], prepare_s: float | None = None,
                   hvp: bool = True, log: Any = None, jobs: int = 1, threads: int | None = 1,
                   shared: Mapping[str, Any] = SHARED, bench: str = "llm") -> dict[str, Any]:
    """Run the protocol (see the module docstring) into ``out``; returns bench.json's content.

    ``jobs`` worker processes run the protocol's runs (each loads both entries and uses ``threads`` torch
    threads); the record is the same for any ``jobs``. ``shared``: the batch sizes every method runs with
    (:data:`llm.fairbench.SHARED` by default); ``bench``: the record's name (``llm``, ``smollm2``).
    """
    chosen, root, previous = open_bench(out, profile=profile, profiles=PROFILES, methods=methods)
    start = time.perf_counter()
    task = LlmTask(tune=Role.load(tune_prepared), eval=Role.load(eval_prepared), settings=settings, shared=dict(shared))
    reference = task.reference_passes()
    factory = functools.partial(worker_task, eval_prepared, tune_prepared, settings, threads, dict(shared))
    record = run_protocol(task, spaces_for(tuple(methods)), chosen, reference_passes=reference,
                          reference_method="ofmu", metrics=METRICS, cache_dir=root / "runs", log=log,
                          jobs=jobs, task_factory=factory)
    check = None
    if hvp:
        largest = record["levels"][-1]  # the longest horizon: where the paths' errors can accumulate
        ofmu = largest["methods"]["ofmu"]
        check = path_check(task, ofmu["tuning"]["chosen"], budget_passes=largest["budget_passes"],
                           seeds=chosen.seeds, cache_dir=root / "runs")
    report = {
        "bench": bench, "methods": list(methods), "shared": dict(shared), **record, "profile_name": profile,
        "hvp_check": check,
        "reference_run": {"method": REFERENCE[0], "epochs": REFERENCE[1], "passes": reference},
        "entries": {"tune": task.tune.describe(), "eval": task.eval.describe()},
        "selection_rule": task.selected_on, "verdict_metric": task.primary,
        "time_to_quality_target": {"forget_quality": FQ_TARGET, "model_utility_share": MU_SHARE},
        "search_spaces": {m: {k: list(v) for k, v in SEARCH_SPACES[m].items()} for m in methods},
        "verdict": {f"{lv['budget_multiple']:g}x": lv["verdict"] for lv in record["levels"]},
        "wall_s": time.perf_counter() - start, "prepare_s": prepare_s,
        "invocations": None,
        "metadata": run_metadata(seed=chosen.seeds[0], config={"profile": chosen.to_dict(), "methods": list(methods),
                                                               "settings": settings.to_dict()}),
    }
    report["invocations"] = invocations(previous, record["runs"], report["wall_s"])
    write_outputs(report, root)
    return report


def worker_task(eval_prepared: Any, tune_prepared: Any, settings: RunSettings, threads: int | None,
                shared: Mapping[str, Any] = SHARED) -> LlmTask:
    """The bench's task rebuilt in a protocol worker process (``threads`` torch threads there)."""
    from llm.bench import set_threads  # noqa: PLC0415

    set_threads(threads)
    return LlmTask(tune=Role.load(tune_prepared), eval=Role.load(eval_prepared), settings=settings,
                   shared=dict(shared))


def _iv(summary: Mapping[str, Any], key: str, digits: str = ".3f") -> str:
    return format_interval(summary, key, digits)


#: The per-budget table's columns: (header, summary key, format).
COLUMNS = (("FQ", "forget_quality", ".3g"), ("KS stat", "ks_statistic", ".3f"), ("MU", "model_utility", ".3f"),
           ("forget TR", "forget_truth_ratio", ".3f"), ("privleak", "privleak", ".1f"), ("passes", "passes", ".0f"),
           ("wall s", "wall_s", ".1f"))


def level_table(level: Mapping[str, Any]) -> str:
    """One budget's Markdown table: per method mean [95 % interval] over seeds, passes, time, chosen config."""
    return protocol_level_table(level, COLUMNS, per_seed=("per-seed FQ", "forget_quality", ".3g"))


def verdict_sentence(level: Mapping[str, Any]) -> str:
    return protocol_verdict(level["verdict"], baseline_rule="the best feasible baseline")

def plot_level(level: Mapping[str, Any], path: str | os.PathLike[str], *, title: str, target_mu: float) -> None:
    """FQ (log x) against MU with 95 % intervals (error bars), one point per method."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for i, (name, row) in enumerate(level["methods"].items()):
        s = row["summary"]
        if "forget_quality" not in s or "model_utility" not in s:
            continue
        interval_point(ax, i, name, s["forget_quality"], s["model_utility"], x_floor=1e-12)
    ax.axhline(MU_SHARE * target_mu, color="0.5", ls="--", lw=0.8, label=f"{MU_SHARE} × target MU")
    ax.set_xscale("log")
    ax.set_xlabel("forget quality (mean over seeds, 95 % t interval; log)")
    ax.set_ylabel("model utility (mean, 95 % t interval)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(True, which="both", alpha=0.3)
    save_figure(path, fig)
    plt.close(fig)


def write_outputs(report: Mapping[str, Any], folder: str | os.PathLike[str], *, command: str = "ofmu llm bench",
                  title: str = "LLM unlearning bench (generated)", intro: Sequence[str] = (),
                  closing: Sequence[str] = ()) -> list[Path]:
    """bench.json, README.md and the per-budget plots from a bench report (atomically); ``intro`` lines go after
    the protocol's bullets, ``closing`` lines before the versions."""
    root = Path(folder)
    report = portable_entries(report)
    write_json(root / "bench.json", report)
    target_mu = report["entries"]["eval"]["target_model_utility"]
    paths = [root / "bench.json", root / "README.md"]
    prof = report["profile_name"]
    lines = [
        f"# {title}", "",
        f"Generated by `{command}` (profile **{prof}**); do not edit by hand. Protocol: docs/llm.md "
        "(\"The bench\"). Every method gets the same gradient-pass budget, the same number of configurations "
        "from its declared search space (seeded search), the same selection rule on the tuning entry, and "
        "the same seeds on the evaluation entry.", "",
        f"* Evaluation entry `{report['entries']['eval']['cache_entry']}` (target MU "
        f"{target_mu:.3f}); tuning entry `{report['entries']['tune']['cache_entry']}` (target MU "
        f"{report['entries']['tune']['target_model_utility']:.3f}).",
        f"* Budget 1× = GradDiff's default run ({report['reference_run']['epochs']:g} epochs) = "
        f"{report['reference_run']['passes']:.0f} gradient passes.",
        f"* Selection: {report['selection_rule']}.",
        f"* Configurations per method and budget: {report['profile']['n_configs']}; seeds: "
        f"{report['profile']['seeds']}; values are mean [95 % t interval] over seeds.",
        f"* Wall time of this run: {report['wall_s']:.0f} s (protocol: {runs_sentence(report)})"
        + (f"; prepare {report['prepare_s']:.0f} s" if report.get("prepare_s") is not None else "") + ".",
        f"* Unlearning wall time summed over every run of the record (tuning + seeds, evaluation excluded): "
        f"{run_seconds(report):.0f} s.",
        "", *intro,
    ]
    for level in report["levels"]:
        tag = f"{level['budget_multiple']:g}x"
        name = f"fq_vs_mu_{tag}.png"
        lines += [f"## Budget {tag} = {level['budget_passes']:.0f} passes", "", level_table(level),
                  "Verdict: " + verdict_sentence(level), "", f"![FQ vs MU at {tag}]({name})", ""]
        plot_level(level, root / name, title=f"budget {tag} ({level['budget_passes']:.0f} passes), profile {prof}",
                   target_mu=target_mu)
        paths.append(root / name)
    lines += ["## Time to quality", "",
              f"First budget level at which a method's mean FQ ≥ {report['time_to_quality_target']['forget_quality']} "
              f"with mean MU ≥ {MU_SHARE} × the target's (resolution: the budget levels).", "",
              *time_to_quality_table(report)]
    check = report.get("hvp_check")
    if check:
        lines += ["", "## OFMU's estimator path", "", path_check_text(check)]
    lines += list(closing)
    meta = report["metadata"]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v != "absent")
              + f"; CPU threads {meta['devices'].get('cpu_threads')}.", ""]
    write_text(root / "README.md", "\n".join(lines))
    return paths


def _path_table(at: Mapping[str, Any], paths: Mapping[str, Any]) -> list[str]:
    from llm.fairbench import NO_SIM  # noqa: PLC0415

    lines = ["| path | settings | KS stat | MU | FQ | passes / step | wall s | inside the exact path's intervals |",
             "|---|---|---|---|---|---|---|---|"]
    inside = at["inside_exact_intervals"]
    for name, s in at["summary"].items():
        settings = format_config(paths[name]) if name in paths else "hvp=exact, beta=0 (reference: no similarity term)"
        flag = ("yes" if inside[name] else "no") if name in inside else "–"
        lines.append(f"| {name} | {settings} | {_iv(s, 'ks_statistic')} | {_iv(s, 'model_utility')} | "
                     f"{_iv(s, 'forget_quality')} | {_iv(s, 'passes_per_step', '.2f')} | {_iv(s, 'wall_s', '.1f')} | "
                     f"{flag} |")
    if NO_SIM in at["summary"]:
        beta = at["config"]["beta"]
        lines += ["", (f"At beta={beta:g} the similarity term matters here: the exact path at beta=0 lies outside the "
                       "exact path's intervals on KS statistic or MU." if at.get("beta_matters") else
                       f"At beta={beta:g} the similarity term is negligible at this configuration: the exact path at "
                       "beta=0 lies inside the exact path's intervals on KS statistic and MU, so dropping the term "
                       "stays within the seeds' spread; a path inside the intervals is no worse than the exact one "
                       "here, not shown to estimate the term well" + _outside_sentence(at) + ".")]
    return lines


def _outside_sentence(at: Mapping[str, Any]) -> str:
    outside = [name for name, inside in at.get("inside_exact_intervals", {}).items() if inside is False]
    return f" (even so, {', '.join(outside)} fell outside)" if outside else ""


def path_check_text(check: Mapping[str, Any]) -> str:
    """The path check (:func:`llm.fairbench.path_check`) as a table and its conclusion."""
    lines = [f"OFMU's chosen configuration at the largest budget ({format_config(check['config'])}), "
             f"{check['steps']} outer steps on every path (as many as the exact path's fit in the budget), seeds "
             f"{check['seeds']}, the paths run one after the other in one process; passes / step = counted gradient "
             "passes per outer step (GradDiff: 2):", "", *_path_table(check, check["paths"])]
    again = check.get("at_check_beta")
    if again:
        lines += ["", f"The same check at beta={again['config']['beta']:g} (CHECK_BETA), where the selection is "
                      "made:" if again.get("beta_matters") else
                      f"The same check at beta={again['config']['beta']:g} (CHECK_BETA):", "",
                  *_path_table(again, check["paths"])]
    agree = ("the path this bench's OFMU rows ran" if check["bench_path_is_default"] else
             f"this bench's OFMU rows ran **{check['bench_path']}**: set `OFMU_FIXED` in llm/fairbench.py to the "
             "selected path and rerun (OFMU's runs alone are keyed by it)")
    lines += ["", f"Rule: {check['rule']} → **{check['default']}**; {agree}."]
    return "\n".join(lines)


def rerun_path_check(report: Mapping[str, Any], *, cache_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Run only the path check of a protocol bench.json (OFMU's chosen configuration at its largest budget, the
    profile's seeds), rebuilding both entries from their recorded configs; its runs go through ``cache_dir``."""
    from llm.bench import set_threads  # noqa: PLC0415
    from llm.prepare import prepare  # noqa: PLC0415

    set_threads(report["metadata"]["devices"].get("cpu_threads") or 1)
    settings = dict(report["metadata"]["config"]["settings"])
    task = LlmTask(tune=Role.load(prepare(prepare_config_from(report["entries"]["tune"]["config"]))),
                   eval=Role.load(prepare(prepare_config_from(report["entries"]["eval"]["config"]))),
                   settings=RunSettings(**settings), shared=dict(report.get("shared", SHARED)))
    largest = report["levels"][-1]
    return path_check(task, largest["methods"]["ofmu"]["tuning"]["chosen"], budget_passes=largest["budget_passes"],
                      seeds=PROFILES[report["profile_name"]].seeds, cache_dir=cache_dir)


def role_configs(config: Any, tune_data: str | None) -> tuple[Any, Any]:
    """(eval, tune) prepare configs: generated data → the eval corpus keeps question template 2 and the tune
    corpus (seed + 1) templates 0 and 1; a folder or the hub → ``tune_data`` must name the tuning folder."""
    from dataclasses import replace  # noqa: PLC0415

    eval_cfg = replace(config, question_templates=(2,)) if config.data == "generated" else config
    if tune_data is not None:
        return eval_cfg, replace(config, data=tune_data, question_templates=None)
    if config.data != "generated":
        raise ValueError("--tune-data is needed when --data is a folder or 'hub': the tuning must not see the "
                         "evaluation data")
    return eval_cfg, replace(config, seed=config.seed + 1, question_templates=(0, 1))


def run_from_args(args: Any, config: Any, run_settings: Any) -> int:
    """``ofmu llm bench --profile quick|full``: prepare both entries, run the protocol, print the verdicts."""
    from llm.bench import set_threads  # noqa: PLC0415
    from llm.fairbench import FULL_METHODS, QUICK_METHODS  # noqa: PLC0415
    from llm.prepare import prepare  # noqa: PLC0415
    from ofmu_theory.io import work_dir  # noqa: PLC0415

    given = [f"--{n.replace('_', '-')}" for n in ("epochs", "batch_size", "retain_batch_size", "preset")
             if getattr(args, n) is not None] + (["--set"] if args.set else []) + \
        (["--save-models"] if args.save_models else []) + (["--max-retain-nll"] if args.max_retain_nll else [])
    if given:
        raise ValueError(f"{', '.join(given)} apply to --profile single only: the protocol sizes every run by its "
                         "pass budget and tunes every method from its declared search space")
    threads = args.threads if args.threads is not None else (1 if args.model == "embedded" else None)
    set_threads(threads)
    eval_cfg, tune_cfg = role_configs(config, args.tune_data)
    with work_dir(args.out, finished="bench.json", overwrite=args.overwrite):  # claimed before any work
        start = time.perf_counter()
        tune_dir = None if args.cache_dir is None else f"{args.cache_dir.rstrip('/')}-tune"
        eval_p = prepare(eval_cfg, cache_dir=args.cache_dir, progress=not args.quiet)
        tune_p = prepare(tune_cfg, cache_dir=tune_dir, progress=not args.quiet)
        prepare_s = time.perf_counter() - start
        methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else (
            FULL_METHODS if args.profile == "full" else QUICK_METHODS)
        report = run_fair_bench(eval_p, tune_p, profile=args.profile, methods=methods,
                                settings=run_settings(args, eval_p), out=args.out, prepare_s=prepare_s,
                                hvp=args.hvp_check, log=None if args.quiet else print, jobs=args.jobs,
                                threads=threads)
    for tag, v in report["verdict"].items():
        print(f"{tag}: OFMU vs {v.get('best_baseline')}: {v['result']} ({v['reason']})")
    print(f"wrote {args.out}/bench.json, README.md and the plots (prepare {prepare_s:.1f} s, "
          f"bench {report['wall_s']:.1f} s)")
    return 0


#: The entry-config fields that may name a file or folder (written portably into a record).
PATH_FIELDS = ("model", "data")


def portable_entries(report: Mapping[str, Any]) -> dict[str, Any]:
    """``report`` with its entries' model and data paths inside the cache written as ``$OFMU_CACHE/...``
    (:func:`llm.prepare.portable_path`): a committed record names no machine's folders."""
    from llm.prepare import portable_path  # noqa: PLC0415

    entries = {role: {**entry, "config": {**entry["config"], **{k: portable_path(entry["config"][k])
                                                                 for k in PATH_FIELDS if k in entry["config"]}}}
               for role, entry in report.get("entries", {}).items()}
    return {**report, "entries": entries} if entries else dict(report)


def prepare_config_from(record: Mapping[str, Any]) -> Any:
    """The :class:`~llm.entry.PrepareConfig` of an entry record (``entries.eval.config`` of a bench.json; a
    ``$OFMU_CACHE/...`` path resolved against this machine's cache folder)."""
    from dataclasses import fields  # noqa: PLC0415

    from llm.entry import EvalSettings, PrepareConfig  # noqa: PLC0415
    from llm.prepare import local_path  # noqa: PLC0415
    from llm.train import TrainRecipe  # noqa: PLC0415

    cfg = {k: v for k, v in record.items() if k in {f.name for f in fields(PrepareConfig)}}
    cfg.update({k: local_path(cfg[k]) for k in PATH_FIELDS if k in cfg})
    cfg["recipe"] = None if cfg.get("recipe") is None else TrainRecipe(**cfg["recipe"])
    cfg["eval"] = EvalSettings(**cfg["eval"])
    if cfg.get("question_templates") is not None:
        cfg["question_templates"] = tuple(cfg["question_templates"])
    return PrepareConfig(**cfg)


def rerun_row(report: Mapping[str, Any], *, method: str, level: int = 0, seed_index: int = 0) -> tuple[dict, dict]:
    """Re-run one committed eval run of a protocol bench.json (one method, one budget, one seed): the two
    entries are prepared again (or found in the cache) from their recorded configs; returns
    (committed record, new record)."""
    from llm.bench import set_threads  # noqa: PLC0415
    from llm.prepare import prepare  # noqa: PLC0415

    set_threads(report["metadata"]["devices"].get("cpu_threads") or 1)
    settings = dict(report["metadata"]["config"]["settings"])
    if settings.get("lora") is not None:
        raise ValueError("re-running a LoRA bench row is not supported here")
    task = LlmTask(tune=Role.load(prepare(prepare_config_from(report["entries"]["tune"]["config"]))),
                   eval=Role.load(prepare(prepare_config_from(report["entries"]["eval"]["config"]))),
                   settings=RunSettings(**settings), shared=dict(report.get("shared", SHARED)))
    row = report["levels"][level]["methods"][method]
    committed = row["per_seed"][seed_index]
    new = task.run(method, row["tuning"]["chosen"], budget_passes=row["budget_passes"], seed=committed["seed"],
                   role="eval")
    return committed, new
