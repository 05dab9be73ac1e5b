"""Membership-inference attacks, forget (members) vs holdout (non-members), as OpenUnlearning scores them.

Per-item scores are signed so that a HIGHER score means "less likely a member":

- LOSS: avg_loss (mean NLL over the scored tokens, EOS included).
- ZLib: avg_loss / len(zlib.compress(text.encode("utf-8"))), text = the decoded scored tokens.
- Min-K% (k = 0.4 in TOFU): -mean of the max(1, floor(k T)) lowest token log-probs.
- Min-K%++: the same over the standardised log-probs z_t = (log p_t(y_t) - mu_t) / sigma_t.

(Min-K% and Min-K%++ use the scored tokens except EOS, as OpenUnlearning's ``tokenwise_logprobs``; an
answer with no such token is an error, or scores 0 with the scorer's ``ou_compat``, as OpenUnlearning.)
``question_key`` asks the forget (member) side with that question; the holdout side always uses
``question`` (OpenUnlearning's TOFU_MIA config).
AUC = ``sklearn.metrics.roc_auc_score`` with labels forget -> 0, holdout -> 1: near 1 when the forget
data is far more likely under the model than the holdout data (memorised), 0.5 when indistinguishable.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np

from llm.data.schema import QAItem
from llm.metrics.base import MetricResult, metric
from llm.metrics.scoring import AnswerScores, ModelScorer

DEFAULT_K = 0.4


def loss_score(avg_loss: float) -> float:
    """LOSS attack score."""
    return float(avg_loss)


def zlib_score(avg_loss: float, text: str) -> float:
    """ZLib attack score: avg_loss divided by the zlib-compressed length of ``text`` in bytes."""
    return float(avg_loss) / len(zlib.compress(text.encode("utf-8")))


def _min_k(values: np.ndarray, k: float) -> float:
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k=}")
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0:
        raise ValueError("no scored tokens (the answer is empty after tokenisation)")
    n = max(1, int(v.size * k))
    return float(-np.mean(v[:n]))


def min_k_score(token_logprobs: np.ndarray, k: float = DEFAULT_K) -> float:
    """Min-K% score: minus the mean of the max(1, floor(k T)) lowest token log-probs."""
    return _min_k(token_logprobs, k)


def min_k_plus_plus_score(token_zscores: np.ndarray, k: float = DEFAULT_K) -> float:
    """Min-K%++ score: minus the mean of the max(1, floor(k T)) lowest standardised log-probs."""
    return _min_k(token_zscores, k)


def mia_auc(forget_scores: Sequence[float], holdout_scores: Sequence[float]) -> float:
    """roc_auc_score with forget labelled 0 and holdout 1 (OpenUnlearning's convention)."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    if len(forget_scores) == 0 or len(holdout_scores) == 0:
        raise ValueError("forget and holdout scores must both be non-empty")
    labels = np.array([0] * len(forget_scores) + [1] * len(holdout_scores))
    return float(roc_auc_score(labels, np.concatenate([np.asarray(forget_scores, float),
                                                       np.asarray(holdout_scores, float)])))


def _attack(
    scorer: ModelScorer, forget_items: Sequence[QAItem], holdout_items: Sequence[QAItem],
    score: Callable[[AnswerScores], float], question_key: str = "question",
) -> MetricResult:
    sides = {}
    for side, items, key in (("forget", forget_items, question_key), ("holdout", holdout_items, "question")):
        if not items:
            raise ValueError(f"{side}_items must not be empty")
        values = [score(s) for s in scorer.score([it.field(key) for it in items], [it.answer for it in items])]
        sides[side] = MetricResult(agg_value=float(np.mean(values)),
                                   value_by_index={i: {"score": v} for i, v in enumerate(values)})
    auc = mia_auc(sides["forget"].values("score"), sides["holdout"].values("score"))
    return MetricResult(agg_value=auc, extra={**sides, "auc": auc})


def _min_k_of(scorer: ModelScorer, values: np.ndarray, k: float) -> float:
    """Min-K% of ``values``; 0 for an answer without scored tokens under ``ou_compat`` (OpenUnlearning's)."""
    return 0.0 if scorer.ou_compat and not np.asarray(values).size else _min_k(values, k)


@metric("mia_loss", needs=("scorer", "forget_items", "holdout_items"))
def mia_loss(*, scorer: ModelScorer, forget_items: Sequence[QAItem], holdout_items: Sequence[QAItem],
             question_key: str = "question") -> MetricResult:
    """LOSS attack AUC (``forget`` / ``holdout`` per-item scores kept, OpenUnlearning's layout)."""
    return _attack(scorer, forget_items, holdout_items, lambda s: loss_score(s.avg_loss), question_key)


@metric("mia_zlib", needs=("scorer", "forget_items", "holdout_items"))
def mia_zlib(*, scorer: ModelScorer, forget_items: Sequence[QAItem], holdout_items: Sequence[QAItem],
             question_key: str = "question") -> MetricResult:
    """ZLib attack AUC."""
    return _attack(scorer, forget_items, holdout_items, lambda s: zlib_score(s.avg_loss, s.target_text), question_key)


@metric("mia_min_k", needs=("scorer", "forget_items", "holdout_items"))
def mia_min_k(*, scorer: ModelScorer, forget_items: Sequence[QAItem], holdout_items: Sequence[QAItem],
              k: float = DEFAULT_K, question_key: str = "question") -> MetricResult:
    """Min-K% attack AUC."""
    return _attack(scorer, forget_items, holdout_items, lambda s: _min_k_of(scorer, s.token_logprobs, k), question_key)


@metric("mia_min_k_plus_plus", needs=("scorer", "forget_items", "holdout_items"))
def mia_min_k_plus_plus(*, scorer: ModelScorer, forget_items: Sequence[QAItem], holdout_items: Sequence[QAItem],
                        k: float = DEFAULT_K, question_key: str = "question") -> MetricResult:
    """Min-K%++ attack AUC."""
    return _attack(scorer, forget_items, holdout_items, lambda s: _min_k_of(scorer, s.token_zscores, k), question_key)
