"""TOFU metrics as OpenUnlearning computes them; every entry registers itself in :data:`METRICS`."""

from llm.metrics.base import METRICS, MetricResult, MetricSpec, metric
from llm.metrics.generation import ROUGE_TYPES, rouge, rouge_scores
from llm.metrics.memorization import (
    TRUTH_RATIO_AGGREGATORS,
    aggregate_truth_ratio,
    exact_memorization,
    exact_memorization_score,
    extraction_strength,
    extraction_strength_score,
    probability,
    probability_w_options,
    truth_ratio,
    truth_ratios,
)
from llm.metrics.mia import (
    mia_auc,
    mia_loss,
    mia_min_k,
    mia_min_k_plus_plus,
    mia_zlib,
    min_k_plus_plus_score,
    min_k_score,
    zlib_score,
)
from llm.metrics.privacy import MODEL_UTILITY_COMPONENTS, forget_quality, hm_aggregate, privleak, privleak_value
from llm.metrics.scoring import AnswerScores, ModelScorer, batch_statistics

__all__ = [
    "METRICS", "MODEL_UTILITY_COMPONENTS", "ROUGE_TYPES", "TRUTH_RATIO_AGGREGATORS", "AnswerScores", "MetricResult",
    "MetricSpec", "ModelScorer", "aggregate_truth_ratio", "batch_statistics", "exact_memorization",
    "exact_memorization_score", "extraction_strength", "extraction_strength_score", "forget_quality", "hm_aggregate",
    "metric", "mia_auc", "mia_loss", "mia_min_k", "mia_min_k_plus_plus", "mia_zlib", "min_k_plus_plus_score",
    "min_k_score", "privleak", "privleak_value", "probability", "probability_w_options", "rouge", "rouge_scores",
    "truth_ratio", "truth_ratios", "zlib_score",
]
