"""Run a classifier over a split and report UA, RA, TA, MIA-Efficacy (and RTE) as SalUn does."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

from ofmu_theory.runinfo import progress
from vision.data import ImageSet, VisionDataset
from vision.metrics import (
    accuracy,
    avg_gap,
    mia_efficacy,
    remaining_accuracy,
    run_time_efficiency,
    testing_accuracy,
    true_label_confidence,
    unlearning_accuracy,
)
from vision.splits import Split

logger = logging.getLogger(__name__)


def predict_proba(
    model: nn.Module,
    images: np.ndarray,
    *,
    indices: np.ndarray | None = None,
    batch_size: int = 512,
    show_progress: bool = False,
) -> np.ndarray:
    """Softmax probabilities ``(N, K)`` (float32) of ``model`` on ``images[indices]``.

    Runs in eval mode under ``torch.no_grad`` on the model's device, gathering one batch of
    ``images`` ``(M, C, H, W)`` at a time (no copy of the whole subset); the model's train/eval mode
    is restored afterwards.

    Args:
        model: a classifier returning logits ``(B, K)``.
        images: the image array.
        indices: rows to predict, in this order (None: all rows).
        batch_size: images per forward pass.
        show_progress: show a progress bar on stderr.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size=}")
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got shape {images.shape}")
    rows = np.arange(images.shape[0]) if indices is None else np.asarray(indices)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"indices must be a 1-D integer array, got shape {rows.shape} dtype {rows.dtype}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            starts = range(0, rows.size, batch_size)
            for start in progress(starts, desc="predict", total=len(starts), enabled=show_progress):
                batch = images[rows[start:start + batch_size]]  # fancy indexing: a writable copy
                x = torch.from_numpy(batch.astype(np.float32, copy=False)).to(device)  # (B, C, H, W)
                logits = model(x)  # (B, K)
                out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    finally:
        model.train(was_training)
    if not out:
        raise ValueError("no images to predict (empty images or indices)")
    return np.concatenate(out)


@dataclass(frozen=True, kw_only=True)
class EvalResult:
    """The SalUn metrics of one model on one split (percentages; RTE in minutes).

    Attributes:
        ua: 100 − acc(D_f).
        ra: acc(D_r).
        ta: acc(test) (class-wise: remaining classes only).
        mia_efficacy: share of D_f the confidence-SVC calls non-member.
        val_acc: accuracy on the validation images; None when the split has none.
        rte_min: run time of the method in minutes; None when no run time was given.
        mode, forget_class, n_forget, n_retain, n_test: the split it was measured on.
    """

    ua: float
    ra: float
    ta: float
    mia_efficacy: float
    val_acc: float | None
    rte_min: float | None
    mode: str
    forget_class: int | None
    n_forget: int
    n_retain: int
    n_test: int

    def to_dict(self) -> dict[str, object]:
        """All fields as a plain dict."""
        return asdict(self)

    def gap_metrics(self) -> dict[str, float]:
        """The four metrics Avg. Gap compares."""
        return {"ua": self.ua, "ra": self.ra, "ta": self.ta, "mia_efficacy": self.mia_efficacy}

    def avg_gap(self, retrain: EvalResult) -> float:
        """Avg. Gap of this result to the Retrain result (same data, split and seeds)."""
        return avg_gap(metrics=self.gap_metrics(), retrain=retrain.gap_metrics()).value


def evaluate(
    model: nn.Module,
    data: VisionDataset,
    split: Split,
    *,
    batch_size: int = 512,
    wall_s: float | None = None,
    show_progress: bool = False,
) -> EvalResult:
    """UA, RA, TA and MIA-Efficacy of ``model`` on ``split`` of ``data`` (see ``vision.metrics``).

    Args:
        model: a classifier returning logits ``(B, K)``; left on its device, mode restored.
        data: the dataset the split was drawn from.
        split: from :func:`vision.splits.make_split`.
        batch_size: images per forward pass.
        wall_s: the unlearning method's run time in seconds (gives RTE), or None.
        show_progress: show a progress bar on stderr.

    Raises:
        ValueError: the split does not belong to ``data``, or |D_r| < |test| (MIA needs |test| members).
    """
    if split.num_classes != data.num_classes or (split.train.size and split.train.max() >= len(data.train)):
        raise ValueError(f"split (num_classes={split.num_classes}) was not drawn from {data.name}")
    if split.test.size and split.test.max() >= len(data.test):
        raise ValueError(f"split.test indexes past {data.test.name} ({len(data.test)} images)")
    if split.retain.size < split.test.size:
        raise ValueError(
            f"MIA-Efficacy needs |D_r| >= |test| members; got |D_r|={split.retain.size} < |test|={split.test.size}"
        )

    def probs_of(part: ImageSet, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = predict_proba(model, part.images, indices=idx, batch_size=batch_size, show_progress=show_progress)
        return probs, part.labels[idx]

    p_forget, y_forget = probs_of(data.train, split.forget)
    p_retain, y_retain = probs_of(data.train, split.retain)
    p_test, y_test = probs_of(data.test, split.test)
    members = slice(0, split.test.size)  # SalUn: Subset(retain_dataset, range(len(test)))
    mia = mia_efficacy(
        member_conf=true_label_confidence(p_retain[members], y_retain[members]),
        nonmember_conf=true_label_confidence(p_test, y_test),
        forget_conf=true_label_confidence(p_forget, y_forget),
    )
    val_acc: float | None = None
    if split.val.size:
        p_val, y_val = probs_of(data.train, split.val)
        val_acc = accuracy(probs=p_val, labels=y_val).value
    result = EvalResult(
        ua=unlearning_accuracy(probs=p_forget, labels=y_forget).value,
        ra=remaining_accuracy(probs=p_retain, labels=y_retain).value,
        ta=testing_accuracy(probs=p_test, labels=y_test).value,
        mia_efficacy=mia.value,
        val_acc=val_acc,
        rte_min=None if wall_s is None else run_time_efficiency(wall_s=wall_s).value,
        mode=split.mode,
        forget_class=split.forget_class,
        n_forget=int(split.forget.size),
        n_retain=int(split.retain.size),
        n_test=int(split.test.size),
    )
    logger.info("eval %s: UA %.2f RA %.2f TA %.2f MIA %.2f", split.mode, result.ua, result.ra, result.ta,
                result.mia_efficacy)
    return result
