"""Probability, truth ratio, exact memorisation and extraction strength (OpenUnlearning's memorization.py).

Symbols: for an item with answer y, ``avg_loss(y)`` is the mean token NLL over y's scored tokens
(EOS included) and ``prob(y) = exp(-avg_loss(y))``.

- Prob: mean over items of prob(y). With several answers per item (``perturbed_answer``) the
  per-item value is the mean over its answers.
- Prob with options (real_authors / world_facts): p_c / (p_c + sum_j p_w,j + 1e-10).
- Truth ratio: R = P_wrong / (P_correct + 1e-10) with P_correct = exp(-avg_loss(correct)) and
  P_wrong = exp(-mean_j avg_loss(wrong_j)) (a geometric mean of the wrong answers' probs).
  Aggregates: ``closer_to_1_better`` mean(min(R, 1/(R + 1e-10))) (forget), ``true_better``
  mean(max(0, 1 - R)) (retain, real_authors, world_facts).
- Exact memorisation: EM = mean over scored tokens (EOS excluded) of 1[argmax = label].
- Extraction strength: ES = 1 - k/T, k the smallest index such that the argmax predictions match
  the labels from k to the end (EOS excluded). OpenUnlearning's loop leaves k = T - 1 when no
  suffix matches, so ES is at least 1/T; we keep that.

An answer with no scored token besides EOS (an empty answer, or one cut away by truncation) has no
EM / ES: an error by default; with the scorer's ``ou_compat``, OpenUnlearning's values instead: ES 0
(counted in the mean) and EM None (left out of the mean; NaN when every item is empty).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llm.data.schema import QAItem
from llm.metrics.base import MetricResult, metric
from llm.metrics.scoring import ModelScorer

TRUTH_RATIO_AGGREGATORS: tuple[str, ...] = ("closer_to_1_better", "true_better")


def _texts(items: Sequence[QAItem], key: str) -> list:
    if not items:
        raise ValueError("items must not be empty")
    return [item.field(key) for item in items]


@metric("probability", needs=("scorer", "items"))
def probability(
    *, scorer: ModelScorer, items: Sequence[QAItem], answer_key: str = "answer", question_key: str = "question"
) -> MetricResult:
    """Prob of ``answer_key`` given ``question_key``: per item ``{"prob", "avg_loss"}`` (lists for several answers)."""
    questions, answers = _texts(items, question_key), _texts(items, answer_key)
    if isinstance(answers[0], tuple):
        widths = {len(a) for a in answers}
        if len(widths) != 1:
            raise ValueError(f"every item needs the same number of {answer_key!r}, got {sorted(widths)}")
        flat_q = [q for q, group in zip(questions, answers) for _ in group]
        flat = scorer.score(flat_q, [a for group in answers for a in group])
        width = widths.pop()
        by_index = {}
        for i in range(len(items)):
            group = flat[i * width: (i + 1) * width]
            by_index[i] = {"prob": [s.prob for s in group], "avg_loss": [s.avg_loss for s in group]}
    else:
        by_index = {i: {"prob": s.prob, "avg_loss": s.avg_loss}
                    for i, s in enumerate(scorer.score(questions, answers))}
    per_item = np.array([np.mean(v["prob"]) for v in by_index.values()])
    return MetricResult(agg_value=float(np.mean(per_item)), value_by_index=by_index)


@metric("probability_w_options", needs=("correct", "wrong"))
def probability_w_options(*, correct: MetricResult, wrong: MetricResult) -> MetricResult:
    """Normalised Prob of the correct answer against the wrong options: p_c / (p_c + sum_j p_w,j + 1e-10)."""
    _same_items(correct, wrong)
    p_correct = correct.values("prob")
    p_wrong = wrong.values("prob")
    p_wrong = p_wrong.reshape(len(p_wrong), -1).sum(axis=1)
    probs = p_correct / (p_correct + p_wrong + 1e-10)
    by_index = {i: {"prob": float(p)} for i, p in zip(sorted(correct.value_by_index), probs)}
    return MetricResult(agg_value=float(np.mean(probs)), value_by_index=by_index)


@metric("mc_accuracy", needs=("scorer", "items"))
def mc_accuracy(*, scorer: ModelScorer, items: Sequence[QAItem], question_key: str = "question") -> MetricResult:
    """Multiple-choice accuracy as lm-evaluation-harness's ``acc``: item i is right when its answer's total
    log-likelihood (the answer's tokens, EOS excluded) exceeds every one of its ``perturbed_answer`` options'
    (a tie counts as wrong); chance is 1 / (options + 1). The scorer's cache serves the pairs the probability
    metrics already scored, so after them this adds no forward pass.
    """
    if not items:
        raise ValueError("items must not be empty")
    by_index = {}
    for i, item in enumerate(items):
        options = (item.field("answer"), *item.field("perturbed_answer"))
        scores = scorer.score([item.field(question_key)] * len(options), list(options))
        loglik = [float(np.sum(s.token_logprobs)) for s in scores]
        by_index[i] = {"correct": bool(loglik[0] > max(loglik[1:])), "loglik": loglik}
    right = [v["correct"] for v in by_index.values()]
    return MetricResult(agg_value=float(np.mean(right)), value_by_index=by_index)


def truth_ratios(correct_avg_loss: np.ndarray, wrong_avg_loss: np.ndarray) -> np.ndarray:
    """R_i = exp(-mean_j wrong_avg_loss[i, j]) / (exp(-correct_avg_loss[i]) + 1e-10)."""
    correct = np.asarray(correct_avg_loss, dtype=float)
    wrong = np.asarray(wrong_avg_loss, dtype=float)
    wrong = wrong.reshape(len(wrong), -1).mean(axis=1)
    correct = correct.reshape(len(correct), -1).mean(axis=1)
    return np.exp(-wrong) / (np.exp(-correct) + 1e-10)


def aggregate_truth_ratio(ratios: np.ndarray, aggregator: str) -> float:
    """``closer_to_1_better``: mean(min(R, 1/(R+1e-10))); ``true_better``: mean(max(0, 1-R))."""
    r = np.asarray(ratios, dtype=float)
    if aggregator == "closer_to_1_better":
        return float(np.mean(np.minimum(r, 1 / (r + 1e-10))))
    if aggregator == "true_better":
        return float(np.mean(np.maximum(0, 1 - r)))
    raise ValueError(f"aggregator must be one of {TRUTH_RATIO_AGGREGATORS}, got {aggregator=!r}")


def _same_items(a: MetricResult, b: MetricResult) -> None:
    if a.value_by_index is None or b.value_by_index is None or sorted(a.value_by_index) != sorted(b.value_by_index):
        raise ValueError("correct and wrong results must cover the same item indices")


@metric("truth_ratio", needs=("correct", "wrong"))
def truth_ratio(*, correct: MetricResult, wrong: MetricResult, aggregator: str = "closer_to_1_better") -> MetricResult:
    """Truth ratio per item ``{"score": R}`` and its aggregate (both variants: see module docstring)."""
    _same_items(correct, wrong)
    ratios = truth_ratios(correct.values("avg_loss"), wrong.values("avg_loss"))
    by_index = {i: {"score": float(r)} for i, r in zip(sorted(correct.value_by_index), ratios)}
    return MetricResult(agg_value=aggregate_truth_ratio(ratios, aggregator), value_by_index=by_index)


def exact_memorization_score(hits: np.ndarray) -> float:
    """Fraction of scored tokens (EOS excluded) whose argmax prediction is the label."""
    h = np.asarray(hits, dtype=bool)
    if h.size == 0:
        raise ValueError("hits must not be empty")
    return float(h.sum() / h.size)


def extraction_strength_score(hits: np.ndarray) -> float:
    """1 - k/T with k the first index from which all predictions match (k = T-1 if none, as in OpenUnlearning)."""
    h = np.asarray(hits, dtype=bool)
    if h.size == 0:
        raise ValueError("hits must not be empty")
    k = 0
    for k in range(h.size):
        if h[k:].all():
            break
    return 1.0 - k / h.size


@metric("exact_memorization", needs=("scorer", "items"))
def exact_memorization(*, scorer: ModelScorer, items: Sequence[QAItem], answer_key: str = "answer",
                       question_key: str = "question") -> MetricResult:
    """EM per item ``{"score"}`` and its mean."""
    scores = scorer.score(_texts(items, question_key), _texts(items, answer_key))
    values = [None if scorer.ou_compat and not s.token_hits.size else exact_memorization_score(s.token_hits)
              for s in scores]
    present = [v for v in values if v is not None]
    agg = float(np.mean(present)) if present else float("nan")  # OpenUnlearning: np.mean of nothing
    return MetricResult(agg_value=agg, value_by_index={i: {"score": v} for i, v in enumerate(values)})


@metric("extraction_strength", needs=("scorer", "items"))
def extraction_strength(*, scorer: ModelScorer, items: Sequence[QAItem], answer_key: str = "answer",
                        question_key: str = "question") -> MetricResult:
    """ES per item ``{"score"}`` and its mean."""
    scores = scorer.score(_texts(items, question_key), _texts(items, answer_key))
    values = [0.0 if scorer.ou_compat and not s.token_hits.size else extraction_strength_score(s.token_hits)
              for s in scores]
    return MetricResult(agg_value=float(np.mean(values)), value_by_index={i: {"score": v} for i, v in enumerate(values)})
