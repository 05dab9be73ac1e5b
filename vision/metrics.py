"""SalUn / Unlearn-Sparse unlearning metrics on plain arrays (probabilities, labels, confidences).

All accuracies are top-1 percentages (argmax of each row; rows may be probabilities or logits).

- UA  = 100 − acc(D_f)            (unlearning accuracy; higher = more forgotten)
- RA  = acc(D_r)                  (remaining accuracy)
- TA  = acc(D_test)               (testing accuracy; class-wise forgetting: test images of the
                                   forgotten class excluded)
- MIA-Efficacy: an ``SVC(C=3, gamma="auto", kernel="rbf")`` is fitted on one feature, the softmax
  probability of the true label, of members (label 1: the first |D_test| images of D_r) and
  non-members (label 0: D_test), stacked members first without shuffling; it is then applied to D_f and
  MIA-Efficacy = 100 · (share of D_f predicted non-member). This is the ``"confidence"`` entry of
  ``SVC_MIA(shadow_train=retain[:|test|], shadow_test=test, target_train=None, target_test=forget)``
  in OPTML-Group/Unlearn-Saliency ``Classification/evaluation/SVC_MIA.py`` (``1 - clf.predict(X).mean()``).
- Avg. Gap = mean over {UA, RA, TA, MIA} of |m − m(Retrain)|.
- RTE = wall-clock run time of the unlearning method in minutes.

Each metric is registered in :data:`METRICS` and returns a :class:`MetricResult`: the aggregate and
the per-item values it averages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ofmu_theory.registry import Registry

#: Metric functions by name (keyword-only arguments, return a MetricResult).
METRICS: Registry[Callable[..., MetricResult]] = Registry("metric")

#: The four metrics Avg. Gap averages over, in order.
GAP_METRICS = ("ua", "ra", "ta", "mia_efficacy")


@dataclass(frozen=True, kw_only=True, eq=False)
class MetricResult:
    """An aggregate value and the per-item values behind it.

    Attributes:
        name: registry name of the metric.
        value: the aggregate (a percentage for UA, RA, TA, MIA-Efficacy and Avg. Gap; minutes for RTE).
        per_item: one value per example (1/0 correct, wrong or predicted non-member) or per metric (gaps).
    """

    name: str
    value: float
    per_item: np.ndarray

    def to_dict(self) -> dict[str, object]:
        """Name, value and number of items (per-item values are left out of reports)."""
        return {"name": self.name, "value": self.value, "n_items": int(self.per_item.size)}


def _probs_labels(probs: np.ndarray, labels: np.ndarray, *, what: str) -> tuple[np.ndarray, np.ndarray]:
    probs, labels = np.asarray(probs), np.asarray(labels)
    if probs.ndim != 2:
        raise ValueError(f"{what}: probs must have shape (N, K), got shape {probs.shape}")
    if labels.ndim != 1 or labels.shape[0] != probs.shape[0]:
        raise ValueError(f"{what}: labels must have shape ({probs.shape[0]},), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what}: labels must be integers, got dtype {labels.dtype}")
    if probs.shape[0] == 0:
        raise ValueError(f"{what}: accuracy of an empty set is undefined (0 examples)")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"{what}: labels out of range [0, {probs.shape[1]})")
    if not np.isfinite(probs).all():
        raise ValueError(f"{what}: probs contain NaN or inf")
    return probs, labels


def _correct(probs: np.ndarray, labels: np.ndarray, *, what: str) -> np.ndarray:
    probs, labels = _probs_labels(probs, labels, what=what)
    return (probs.argmax(axis=1) == labels).astype(np.float64)


@METRICS.register("accuracy")
def accuracy(*, probs: np.ndarray, labels: np.ndarray) -> MetricResult:
    """Top-1 accuracy in percent; ``per_item`` is 1 for a correct prediction, else 0."""
    correct = _correct(probs, labels, what="accuracy")
    return MetricResult(name="accuracy", value=100.0 * float(correct.mean()), per_item=correct)


@METRICS.register("ua")
def unlearning_accuracy(*, probs: np.ndarray, labels: np.ndarray) -> MetricResult:
    """UA = 100 − acc(D_f) on the forget set; ``per_item`` is 1 where the prediction is wrong."""
    wrong = 1.0 - _correct(probs, labels, what="ua")
    return MetricResult(name="ua", value=100.0 * float(wrong.mean()), per_item=wrong)


@METRICS.register("ra")
def remaining_accuracy(*, probs: np.ndarray, labels: np.ndarray) -> MetricResult:
    """RA = acc(D_r) on the retain set, in percent."""
    correct = _correct(probs, labels, what="ra")
    return MetricResult(name="ra", value=100.0 * float(correct.mean()), per_item=correct)


@METRICS.register("ta")
def testing_accuracy(
    *, probs: np.ndarray, labels: np.ndarray, exclude_class: int | None = None
) -> MetricResult:
    """TA = acc(D_test) in percent; class-wise forgetting passes ``exclude_class`` to drop its test images.

    ``per_item`` covers the kept test images only.
    """
    probs, labels = _probs_labels(probs, labels, what="ta")
    if exclude_class is not None:
        if not 0 <= exclude_class < probs.shape[1]:
            raise ValueError(f"ta: exclude_class={exclude_class} is not a class in [0, {probs.shape[1]})")
        keep = labels != exclude_class
        if not keep.any():
            raise ValueError(f"ta: no test images left after excluding class {exclude_class}")
        probs, labels = probs[keep], labels[keep]
    correct = _correct(probs, labels, what="ta")
    return MetricResult(name="ta", value=100.0 * float(correct.mean()), per_item=correct)


def true_label_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``probs[i, labels[i]]``: the softmax probability of the true label (SalUn's MIA feature).

    Raises:
        ValueError: bad shapes, labels out of range, or values outside [0, 1] (logits, not probabilities).
    """
    probs, labels = _probs_labels(probs, labels, what="true_label_confidence")
    if probs.min() < 0.0 or probs.max() > 1.0:
        raise ValueError("true_label_confidence: probs must be softmax probabilities in [0, 1], not logits")
    return probs[np.arange(labels.size), labels]


def _confidences(values: np.ndarray, *, what: str) -> np.ndarray:
    x = np.asarray(values)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"mia_efficacy: {what} must have shape (N,) or (N, 1), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"mia_efficacy: {what} is empty")
    if not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
        raise ValueError(f"mia_efficacy: {what} must be finite floats, got dtype {x.dtype}")
    return x.reshape(-1, 1)


@METRICS.register("mia_efficacy")
def mia_efficacy(
    *, member_conf: np.ndarray, nonmember_conf: np.ndarray, forget_conf: np.ndarray
) -> MetricResult:
    """MIA-Efficacy: share of D_f an SVC (fitted members vs non-members) calls non-member, in percent.

    Args:
        member_conf: true-label confidences of the first |D_test| retain images (SVC label 1).
        nonmember_conf: true-label confidences of the test images (SVC label 0).
        forget_conf: true-label confidences of D_f.

    Returns:
        ``per_item`` is 1 for each forget image predicted non-member.
    """
    from sklearn.svm import SVC

    x_in = _confidences(member_conf, what="member_conf")
    x_out = _confidences(nonmember_conf, what="nonmember_conf")
    x_forget = _confidences(forget_conf, what="forget_conf")
    features = np.concatenate([x_in, x_out])  # members first, as SVC_fit_predict stacks them
    targets = np.concatenate([np.ones(x_in.shape[0]), np.zeros(x_out.shape[0])])
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(features, targets)
    nonmember = 1.0 - clf.predict(x_forget)
    return MetricResult(name="mia_efficacy", value=100.0 * float(nonmember.mean()), per_item=nonmember)


@METRICS.register("avg_gap")
def avg_gap(*, metrics: Mapping[str, float], retrain: Mapping[str, float]) -> MetricResult:
    """Avg. Gap = mean over m in {UA, RA, TA, MIA-Efficacy} of |metrics[m] − retrain[m]|.

    Args:
        metrics: the method's values under the keys ``ua``, ``ra``, ``ta``, ``mia_efficacy``.
        retrain: the Retrain model's values under the same keys (same data, split and seeds).

    Returns:
        ``per_item`` holds the four absolute gaps in the order of ``GAP_METRICS``.
    """
    gaps = []
    for key in GAP_METRICS:
        for label, source in (("metrics", metrics), ("retrain", retrain)):
            if key not in source:
                raise ValueError(f"avg_gap: {label} is missing {key!r}; need {GAP_METRICS}")
            if not np.isfinite(source[key]):
                raise ValueError(f"avg_gap: {label}[{key!r}] must be finite, got {source[key]}")
        gaps.append(abs(float(metrics[key]) - float(retrain[key])))
    per_item = np.asarray(gaps)
    return MetricResult(name="avg_gap", value=float(per_item.mean()), per_item=per_item)


@METRICS.register("rte")
def run_time_efficiency(*, wall_s: float) -> MetricResult:
    """RTE: the method's wall-clock run time in minutes."""
    if not np.isfinite(wall_s) or wall_s < 0:
        raise ValueError(f"rte: wall_s must be a finite number of seconds >= 0, got {wall_s=}")
    minutes = float(wall_s) / 60.0
    return MetricResult(name="rte", value=minutes, per_item=np.asarray([minutes]))
