"""Metrics on hand-made probabilities and confidences whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from vision.metrics import (
    METRICS,
    accuracy,
    avg_gap,
    mia_efficacy,
    remaining_accuracy,
    run_time_efficiency,
    true_label_confidence,
    unlearning_accuracy,
)
from vision.metrics import (
    testing_accuracy as ta_metric,  # aliased: pytest would collect a name starting with 'test'
)

# Rows predict class 0, 1, 2, 2, 0 (argmax); labels make rows 0, 1, 3 correct (3 of 5).
PROBS = np.array([
    [0.8, 0.1, 0.1],
    [0.2, 0.7, 0.1],
    [0.1, 0.3, 0.6],
    [0.0, 0.1, 0.9],
    [0.5, 0.4, 0.1],
])
LABELS = np.array([0, 1, 1, 2, 2])


def test_registry_names() -> None:
    assert {"accuracy", "avg_gap", "mia_efficacy", "ra", "rte", "ta", "ua"} <= set(METRICS.names())  # the shipped ones


def test_ua_ra_ta_on_hand_made_predictions() -> None:
    assert accuracy(probs=PROBS, labels=LABELS).value == pytest.approx(60.0)
    ua = unlearning_accuracy(probs=PROBS, labels=LABELS)
    assert ua.value == pytest.approx(40.0) and ua.per_item.tolist() == [0, 0, 1, 0, 1]
    ra = remaining_accuracy(probs=PROBS, labels=LABELS)
    assert ra.value == pytest.approx(60.0) and ra.per_item.tolist() == [1, 1, 0, 1, 0]
    assert ta_metric(probs=PROBS, labels=LABELS).value == pytest.approx(60.0)
    logits = np.log(PROBS + 1e-3)  # argmax of logits is the same
    assert unlearning_accuracy(probs=logits, labels=LABELS).value == pytest.approx(40.0)


def test_ta_class_wise_excludes_the_forgotten_class() -> None:
    # dropping class 2 keeps rows 0, 1, 2 (labels 0, 1, 1): 2 of 3 correct
    ta = ta_metric(probs=PROBS, labels=LABELS, exclude_class=2)
    assert ta.value == pytest.approx(200.0 / 3.0) and ta.per_item.size == 3
    # dropping class 1 keeps rows 0, 3, 4: 2 of 3 correct
    assert ta_metric(probs=PROBS, labels=LABELS, exclude_class=1).value == pytest.approx(200.0 / 3.0)
    with pytest.raises(ValueError, match="exclude_class=3"):
        ta_metric(probs=PROBS, labels=LABELS, exclude_class=3)
    with pytest.raises(ValueError, match="no test images left"):
        ta_metric(probs=PROBS[:1], labels=LABELS[:1], exclude_class=0)


def test_perfect_and_useless_models() -> None:
    eye = np.eye(4)
    labels = np.arange(4)
    assert unlearning_accuracy(probs=eye, labels=labels).value == 0.0
    assert unlearning_accuracy(probs=eye, labels=(labels + 1) % 4).value == 100.0


@pytest.mark.parametrize(
    ("probs", "labels", "match"),
    [
        (PROBS[0], LABELS, r"shape \(N, K\)"),
        (PROBS, LABELS[:3], "labels must have shape"),
        (PROBS, LABELS.astype(float), "integers"),
        (PROBS, np.array([0, 1, 1, 2, 3]), r"labels out of range \[0, 3\)"),  # K = 3 classes (N = 5 rows)
        (np.full((2, 3), np.nan), np.array([0, 1]), "NaN"),
        (np.zeros((0, 3)), np.zeros(0, dtype=int), "empty set"),
    ],
)
def test_accuracy_input_errors(probs, labels, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        remaining_accuracy(probs=probs, labels=labels)


def test_true_label_confidence_gathers_and_rejects_logits() -> None:
    np.testing.assert_array_equal(true_label_confidence(PROBS, LABELS), [0.8, 0.7, 0.3, 0.9, 0.1])
    with pytest.raises(ValueError, match="not logits"):
        true_label_confidence(np.log(PROBS + 1e-3), LABELS)


# MIA: members are confident (0.9..1.0), non-members are not (0.0..0.3): the SVC separates them.
MEMBERS = np.linspace(0.9, 1.0, 50)
NON_MEMBERS = np.linspace(0.0, 0.3, 50)


@pytest.mark.parametrize(
    ("forget", "expected"),
    [
        (np.full(8, 0.97), 0.0),  # looks like training data: nothing forgotten
        (np.full(8, 0.05), 100.0),  # looks like unseen data: all predicted non-member
        (np.r_[np.full(3, 0.05), np.full(1, 0.97)], 75.0),
        (np.r_[np.full(5, 0.95), np.full(5, 0.10)], 50.0),
    ],
)
def test_mia_efficacy_on_separated_confidences(forget: np.ndarray, expected: float) -> None:
    result = mia_efficacy(member_conf=MEMBERS, nonmember_conf=NON_MEMBERS, forget_conf=forget)
    assert result.value == pytest.approx(expected)
    assert result.per_item.tolist() == (forget < 0.5).astype(float).tolist()


def test_mia_efficacy_accepts_column_vectors_and_float32() -> None:
    result = mia_efficacy(member_conf=MEMBERS[:, None].astype(np.float32),
                          nonmember_conf=NON_MEMBERS[:, None].astype(np.float32),
                          forget_conf=np.array([[0.02], [0.99]], dtype=np.float32))
    assert result.value == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"member_conf": np.zeros(0)}, "member_conf is empty"),
        ({"forget_conf": np.zeros((2, 2))}, r"forget_conf must have shape \(N,\)"),
        ({"nonmember_conf": np.array([0.1, np.nan])}, "nonmember_conf must be finite"),
        ({"member_conf": np.array([1, 1])}, "member_conf must be finite floats"),
    ],
)
def test_mia_efficacy_input_errors(kwargs: dict, match: str) -> None:
    args = {"member_conf": MEMBERS, "nonmember_conf": NON_MEMBERS, "forget_conf": np.array([0.5])} | kwargs
    with pytest.raises(ValueError, match=match):
        mia_efficacy(**args)


RETRAIN = {"ua": 5.2, "ra": 100.0, "ta": 94.3, "mia_efficacy": 12.9}


def test_avg_gap() -> None:
    assert avg_gap(metrics=RETRAIN, retrain=RETRAIN).value == 0.0
    method = {"ua": 7.2, "ra": 99.0, "ta": 93.3, "mia_efficacy": 8.9}  # gaps 2, 1, 1, 4
    gap = avg_gap(metrics=method, retrain=RETRAIN)
    assert gap.value == pytest.approx(2.0)
    np.testing.assert_allclose(gap.per_item, [2.0, 1.0, 1.0, 4.0])
    assert avg_gap(metrics=RETRAIN, retrain=method).value == pytest.approx(2.0)  # symmetric
    with pytest.raises(ValueError, match="metrics is missing 'mia_efficacy'"):
        avg_gap(metrics={"ua": 1.0, "ra": 1.0, "ta": 1.0}, retrain=RETRAIN)
    with pytest.raises(ValueError, match=r"retrain\['ta'\] must be finite"):
        avg_gap(metrics=method, retrain=RETRAIN | {"ta": float("nan")})


def test_rte_minutes() -> None:
    assert run_time_efficiency(wall_s=90.0).value == pytest.approx(1.5)
    with pytest.raises(ValueError, match="wall_s"):
        run_time_efficiency(wall_s=-1.0)
