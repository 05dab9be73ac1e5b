"""Metrics against a reference (retain) model, and model utility (OpenUnlearning's privacy.py / utility.py).

- Forget quality: ``scipy.stats.ks_2samp(R_model, R_retain).pvalue`` (two-sided, scipy's default
  method) between the per-item forget truth ratios of the evaluated model and of a model trained
  only on the retain set (read from its ``TOFU_EVAL.json`` entry ``forget_truth_ratio``). The KS
  statistic only depends on ranks, so this equals the older ``ks_2samp(1/R, 1/R_retain)`` form.
- privleak: ((1 - AUC) - (1 - AUC_retain)) / (1 - AUC_retain + 1e-10) * 100 for a MIA AUC
  (TOFU: Min-K%), 0 when the model leaks as little as the retain model.
- Model utility: ``scipy.stats.hmean`` of the nine aggregates {Prob, ROUGE, truth ratio} on
  retain, real_authors and world_facts (Prob normalised over options on the last two). A NaN or
  negative component is an error by default; with ``ou_compat`` the result is scipy's, NaN, as in
  OpenUnlearning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from scipy import stats

from llm.metrics.base import MetricResult, metric

MODEL_UTILITY_COMPONENTS: tuple[str, ...] = (
    "retain_Q_A_Prob", "retain_Q_A_ROUGE", "retain_Truth_Ratio",
    "ra_Q_A_Prob_normalised", "ra_Q_A_ROUGE", "ra_Truth_Ratio",
    "wf_Q_A_Prob_normalised", "wf_Q_A_ROUGE", "wf_Truth_Ratio",
)


@metric("forget_quality", needs=("forget_truth_ratio", "retain_truth_ratio"))
def forget_quality(*, forget_truth_ratio: MetricResult, retain_truth_ratio: MetricResult) -> MetricResult:
    """KS-test p-value between the model's and the retain model's per-item forget truth ratios."""
    model_tr = forget_truth_ratio.values("score")
    reference_tr = retain_truth_ratio.values("score")
    return MetricResult(agg_value=float(stats.ks_2samp(model_tr, reference_tr).pvalue))


def privleak_value(auc: float, reference_auc: float) -> float:
    """((1 - auc) - (1 - reference_auc)) / (1 - reference_auc + 1e-10) * 100."""
    score, ref = 1 - float(auc), 1 - float(reference_auc)
    return (score - ref) / (ref + 1e-10) * 100


@metric("privleak", needs=("forget_auc", "retain_auc"))
def privleak(*, forget_auc: MetricResult | float, retain_auc: MetricResult | float) -> MetricResult:
    """privleak of a MIA AUC against the retain model's AUC on the same attack."""
    auc = forget_auc.agg_value if isinstance(forget_auc, MetricResult) else float(forget_auc)
    ref = retain_auc.agg_value if isinstance(retain_auc, MetricResult) else float(retain_auc)
    for name, value in (("forget_auc", auc), ("retain_auc", ref)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be an AUC in [0, 1], got {value!r}")
    return MetricResult(agg_value=privleak_value(auc, ref))


@metric("hm_aggregate", needs=("components",))
def hm_aggregate(*, components: Mapping[str, MetricResult], ou_compat: bool = False) -> MetricResult:
    """Harmonic mean of the components' aggregates (model utility over :data:`MODEL_UTILITY_COMPONENTS`)."""
    if not components:
        raise ValueError("components must not be empty")
    values = np.array([r.agg_value for r in components.values()], dtype=float)
    if ou_compat:  # OpenUnlearning's sc.stats.hmean(values): NaN in, NaN out (and NaN for a negative value)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return MetricResult(agg_value=float(stats.hmean(values)))
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError(f"harmonic mean needs finite non-negative values, got {dict(zip(components, values))}")
    return MetricResult(agg_value=float(stats.hmean(values)))
