"""The TOFU evaluation suite: run every metric on a model and write OpenUnlearning-layout logs.

Files written to ``output_dir`` (atomically, rewritten after each metric so an interrupted run
keeps what it finished):

- ``TOFU_EVAL.json``: ``{metric_name: {"agg_value": float, "value_by_index": {"0": {...}, ...}}}``,
  keys sorted, with OpenUnlearning's metric names and per-item fields (``prob``/``avg_loss``,
  ``score``, ROUGE fields; MIA entries also hold ``forget``, ``holdout`` and ``auc``; forget
  quality, model utility and privleak hold ``agg_value`` only). An OpenUnlearning run can read it
  as ``retain_logs_path`` and vice versa.
- ``TOFU_SUMMARY.json``: ``{metric_name: agg_value}`` for every computed metric (OpenUnlearning
  lists only its configured top-level metrics; we also list their pre-computes).
- ``TOFU_RUN.json``: :func:`ofmu_theory.runinfo.run_metadata` (seed, config, versions, devices,
  argv) plus split sizes and the metrics skipped for want of a reference log.

``TofuEvalConfig(ou_compat=True)`` reproduces OpenUnlearning where this suite deliberately differs
(docs/llm.md, "OpenUnlearning-compatible mode"): ``question_key`` also asks the retain-set metrics and
the forget side of the attacks; the attention mask is ``input_ids != pad_id`` with pad = EOS when the
tokenizer has none; generation stops on the model's generation-config EOS ids; an empty answer scores
ES 0 / EM None / Min-K 0 instead of raising; a NaN component gives model utility NaN instead of raising;
without a retain log forget quality is written as null and privleak is taken against an AUC of 0.5.
"""

from __future__ import annotations

import json
import logging
import os
import types
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from llm.data.generator import TofuCorpus
from llm.data.loaders import load_folder
from llm.data.schema import QAItem
from llm.metrics import METRICS, MODEL_UTILITY_COMPONENTS, MetricResult, ModelScorer
from llm.prompts import PROMPTS, PromptTemplate
from ofmu_theory.io import write_json
from ofmu_theory.runinfo import run_metadata

logger = logging.getLogger(__name__)
ROLES: tuple[str, ...] = ("forget", "holdout", "retain", "real_authors", "world_facts")


@dataclass(frozen=True, kw_only=True)
class TofuEvalConfig:
    """Settings of one TOFU evaluation (OpenUnlearning's defaults).

    Attributes:
        forget_split: forget split name (its ``_perturbed`` version is evaluated), e.g. ``"forget10"``.
        holdout_split: the MIA non-member split, e.g. ``"holdout10"``.
        batch_size: items per forward pass / generate call.
        max_length: longest tokenised sequence.
        overflow: ``"error"`` or ``"truncate"`` for over-long sequences.
        max_new_tokens: generation budget for ROUGE.
        mia_k: k of Min-K% and Min-K%++.
        question_key: ``"question"`` or ``"paraphrased_question"`` for the forget-set metrics (with
            ``ou_compat`` also the retain-set metrics and the attacks' forget side).
        metrics: the metric names to compute (with their dependencies); None for all of :data:`TOFU_METRICS`.
        privleak_ref_auc: retain-model Min-K% AUC to use when the retain log lacks ``mia_min_k``.
        seed: recorded in the run metadata (evaluation itself is deterministic: greedy decoding).
        show_progress: tqdm bars.
        ou_compat: reproduce OpenUnlearning's behaviour where ours deliberately differs (module docstring).
    """

    forget_split: str = "forget10"
    holdout_split: str = "holdout10"
    batch_size: int = 16
    max_length: int = 512
    overflow: Literal["error", "truncate"] = "error"
    max_new_tokens: int = 200
    mia_k: float = 0.4
    question_key: str = "question"
    metrics: tuple[str, ...] | None = None
    privleak_ref_auc: float | None = None
    seed: int = 0
    show_progress: bool = True
    ou_compat: bool = False


# OpenUnlearning's eval.tofu.question_key reaches these roles' item metrics (configs/eval/tofu_metrics/)
_QUESTION_KEY_ROLES = {False: ("forget",), True: ("forget", "retain")}
_NO_REFERENCE = "no retain-model reference (retain_logs) given"


@dataclass(frozen=True, kw_only=True)
class _Step:
    name: str
    metric: str
    data: Mapping[str, str] = field(default_factory=dict)
    logs: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    reference: Mapping[str, str] = field(default_factory=dict)
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def _prob(name: str, role: str, key: str) -> _Step:
    return _Step(name=name, metric="probability", data={"items": role}, kwargs={"answer_key": key})


def _tr(name: str, correct: str, wrong: str, aggregator: str) -> _Step:
    return _Step(name=name, metric="truth_ratio", logs={"correct": correct, "wrong": wrong},
                 kwargs={"aggregator": aggregator})


def _mia(name: str) -> _Step:
    return _Step(name=name, metric=name, data={"forget_items": "forget", "holdout_items": "holdout"})


_STEPS: tuple[_Step, ...] = (
    _prob("forget_Q_A_Prob", "forget", "answer"),
    _prob("forget_Q_A_PARA_Prob", "forget", "paraphrased_answer"),
    _prob("forget_Q_A_PERT_Prob", "forget", "perturbed_answer"),
    _tr("forget_truth_ratio", "forget_Q_A_PARA_Prob", "forget_Q_A_PERT_Prob", "closer_to_1_better"),
    _Step(name="forget_Q_A_ROUGE", metric="rouge", data={"items": "forget"}),
    _Step(name="forget_quality", metric="forget_quality", logs={"forget_truth_ratio": "forget_truth_ratio"},
          reference={"retain_truth_ratio": "forget_truth_ratio"}),
    _prob("retain_Q_A_Prob", "retain", "answer"),
    _prob("retain_Q_A_PARA_Prob", "retain", "paraphrased_answer"),
    _prob("retain_Q_A_PERT_Prob", "retain", "perturbed_answer"),
    _tr("retain_Truth_Ratio", "retain_Q_A_PARA_Prob", "retain_Q_A_PERT_Prob", "true_better"),
    _Step(name="retain_Q_A_ROUGE", metric="rouge", data={"items": "retain"}),
    *(step for prefix, role in (("ra", "real_authors"), ("wf", "world_facts")) for step in (
        _prob(f"{prefix}_Q_A_Prob", role, "answer"),
        _prob(f"{prefix}_Q_A_PERT_Prob", role, "perturbed_answer"),
        _Step(name=f"{prefix}_Q_A_Prob_normalised", metric="probability_w_options",
              logs={"correct": f"{prefix}_Q_A_Prob", "wrong": f"{prefix}_Q_A_PERT_Prob"}),
        _tr(f"{prefix}_Truth_Ratio", f"{prefix}_Q_A_Prob", f"{prefix}_Q_A_PERT_Prob", "true_better"),
        _Step(name=f"{prefix}_Q_A_ROUGE", metric="rouge", data={"items": role}),
        _Step(name=f"{prefix}_MC_accuracy", metric="mc_accuracy", data={"items": role}),
    )),
    _Step(name="model_utility", metric="hm_aggregate", logs={"components": MODEL_UTILITY_COMPONENTS}),
    _Step(name="extraction_strength", metric="extraction_strength", data={"items": "forget"}),
    _Step(name="exact_memorization", metric="exact_memorization", data={"items": "forget"}),
    _mia("mia_loss"), _mia("mia_zlib"), _mia("mia_min_k"), _mia("mia_min_k_plus_plus"),
    _Step(name="privleak", metric="privleak", logs={"forget_auc": "mia_min_k"}, reference={"retain_auc": "mia_min_k"}),
)
TOFU_METRICS: tuple[str, ...] = tuple(step.name for step in _STEPS)
_BY_NAME = {step.name: step for step in _STEPS}


@dataclass(frozen=True, kw_only=True)
class TofuEvalResult:
    """The computed metrics, their aggregates, what was skipped and why, and the files written."""

    results: Mapping[str, MetricResult]
    summary: Mapping[str, float | None]
    skipped: Mapping[str, str]
    paths: tuple[Path, ...]


def read_eval_log(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``TOFU_EVAL.json`` (ours or OpenUnlearning's) as a plain dict."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"eval log {str(file)!r} does not exist")
    try:
        logs = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"eval log {str(file)!r} is not valid JSON ({err})") from None
    if not isinstance(logs, dict):
        raise ValueError(f"eval log {str(file)!r} must hold a JSON object of metrics")
    return logs


def log_entry(logs: Mapping[str, Any], name: str) -> MetricResult:
    """One metric of a read eval log (e.g. a retain model's ``forget_truth_ratio``) as a MetricResult."""
    if name not in logs:
        raise ValueError(f"metric {name!r} not in the eval log; it has: {sorted(logs)}")
    return MetricResult.from_dict(logs[name], name=name)


def tofu_eval_data(
    source: TofuCorpus | str | os.PathLike[str] | Mapping[str, Sequence[QAItem]], *, forget_split: str = "forget10",
    holdout_split: str = "holdout10",
) -> dict[str, list[QAItem]]:
    """The five evaluation sets by role, from a generated corpus, a folder of split files, or a mapping
    of TOFU split names: ``forgetXX_perturbed``, ``holdoutXX``, ``retain_perturbed``,
    ``real_authors_perturbed``, ``world_facts_perturbed``."""
    names = {"forget": f"{forget_split}_perturbed", "holdout": holdout_split, "retain": "retain_perturbed",
             "real_authors": "real_authors_perturbed", "world_facts": "world_facts_perturbed"}
    if isinstance(source, (str, os.PathLike)):
        splits: Mapping[str, Sequence[QAItem]] = load_folder(source, list(names.values()))
    else:
        splits = source.splits if isinstance(source, TofuCorpus) else source
    missing = [n for n in names.values() if n not in splits]
    if missing:
        raise ValueError(f"splits {missing} missing; have {sorted(splits)}")
    return {role: list(splits[name]) for role, name in names.items()}


def _plan(requested: Sequence[str]) -> list[_Step]:
    unknown = [n for n in requested if n not in _BY_NAME]
    if unknown:
        raise ValueError(f"unknown TOFU metrics {unknown}; valid: {', '.join(TOFU_METRICS)}")
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in wanted:
            wanted.add(name)
            for dep in _BY_NAME[name].logs.values():
                for d in (dep,) if isinstance(dep, str) else dep:
                    add(d)

    for name in requested:
        add(name)
    return [step for step in _STEPS if step.name in wanted]


def evaluate_tofu(
    *, model: Any, tokenizer: Any, template: PromptTemplate | str, data: Mapping[str, Sequence[QAItem]],
    output_dir: str | os.PathLike[str], config: TofuEvalConfig = TofuEvalConfig(),
    retain_logs: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> TofuEvalResult:
    """Run the TOFU metrics on ``model`` and write ``TOFU_EVAL.json``, ``TOFU_SUMMARY.json`` and ``TOFU_RUN.json``.

    Args:
        model: the causal LM (evaluated in eval mode, without gradients; any device / dtype).
        tokenizer: its tokenizer (EOS and pad tokens required).
        template: a :class:`PromptTemplate` or a name in :data:`llm.prompts.PROMPTS`.
        data: evaluation sets by role (see :func:`tofu_eval_data`); roles a requested metric needs must be present.
        output_dir: where the three files go.
        config: the settings.
        retain_logs: the retain model's ``TOFU_EVAL.json`` (path or read dict), for forget quality and privleak.

    Returns:
        A :class:`TofuEvalResult`. Forget quality / privleak are skipped (and listed in ``skipped``) when
        no reference is available and they were not asked for by name; asked for by name, that is an error.
        With ``config.ou_compat`` neither: forget quality is null and privleak uses an AUC of 0.5.
    """
    tpl = PROMPTS.get(template) if isinstance(template, str) else template
    requested = list(config.metrics) if config.metrics is not None else list(TOFU_METRICS)
    explicit = config.metrics is not None
    reference = read_eval_log(retain_logs) if isinstance(retain_logs, (str, os.PathLike)) else retain_logs
    scorer = ModelScorer(model=model, tokenizer=tokenizer, template=tpl, batch_size=config.batch_size,
                         max_length=config.max_length, overflow=config.overflow,
                         max_new_tokens=config.max_new_tokens, show_progress=config.show_progress,
                         ou_compat=config.ou_compat)
    out = Path(output_dir)
    paths = (out / "TOFU_EVAL.json", out / "TOFU_SUMMARY.json", out / "TOFU_RUN.json")
    results: dict[str, MetricResult] = {}
    skipped: dict[str, str] = {}
    meta = run_metadata(seed=config.seed, config={**asdict(config), "template": asdict(tpl)})
    meta["split_sizes"] = {role: len(items) for role, items in data.items()}
    write_json(paths[2], {**meta, "skipped": {}})
    for step in _plan(requested):
        inputs: dict[str, Any] = dict(step.kwargs)
        for arg, role in step.data.items():
            if not data.get(role):
                raise ValueError(f"metric {step.name!r} needs the {role!r} split; data has {sorted(data)}")
            inputs[arg] = data[role]
        for arg, ref_key in step.reference.items():
            if reference is not None and ref_key in reference:
                inputs[arg] = log_entry(reference, ref_key)
            elif step.name == "privleak" and config.privleak_ref_auc is not None:
                inputs[arg] = config.privleak_ref_auc
            elif step.name == "privleak" and config.ou_compat:  # OpenUnlearning's privleak ref_value
                inputs[arg] = 0.5
            elif config.ou_compat and reference is None:  # OpenUnlearning's ks_test without retain logs
                results[step.name] = MetricResult(agg_value=None)
            elif explicit and step.name in requested:
                raise ValueError(f"metric {step.name!r} needs the retain model's {ref_key!r}: pass retain_logs")
        if step.name in results:
            logger.info("%s = null: %s", step.name, _NO_REFERENCE)
            continue
        if any(arg not in inputs for arg in step.reference):
            skipped[step.name] = _NO_REFERENCE
            logger.info("skipping %s: %s", step.name, skipped[step.name])
            continue
        for arg, dep in step.logs.items():
            if isinstance(dep, str):
                inputs[arg] = results[dep]
            else:
                inputs[arg] = {d: results[d] for d in dep}
        if "items" in step.data or "forget_items" in step.data:
            inputs["scorer"] = scorer
        if step.data.get("items") in _QUESTION_KEY_ROLES[config.ou_compat] or (
                config.ou_compat and "forget_items" in step.data):
            inputs["question_key"] = config.question_key
        if step.metric in ("mia_min_k", "mia_min_k_plus_plus"):
            inputs["k"] = config.mia_k
        if step.metric == "hm_aggregate":
            inputs["ou_compat"] = config.ou_compat
        results[step.name] = METRICS.get(step.metric)(**inputs)
        logger.info("%s = %.6g", step.name, results[step.name].agg_value)
        _write(paths[:2], results)
    _write(paths[:2], results)
    write_json(paths[2], {**meta, "skipped": dict(skipped)})
    summary = {name: results[name].agg_value for name in sorted(results)}
    return TofuEvalResult(results=types.MappingProxyType(results), summary=types.MappingProxyType(summary),
                          skipped=types.MappingProxyType(skipped), paths=paths)


def _write(paths: tuple[Path, ...], results: Mapping[str, MetricResult]) -> None:
    write_json(paths[0], {name: results[name].to_dict() for name in sorted(results)}, indent=4)
    write_json(paths[1], {name: results[name].agg_value for name in sorted(results)}, indent=4)
