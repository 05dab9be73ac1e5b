"""Losses of an image classifier as functions of θ, handed to the core as :class:`TorchObjective`.

Every objective here is ``TorchObjective(ModuleParams.loss(fn), n_rows=N)`` over one row-indexed
image set (:class:`Rows`): a *batch* is a 1-D numpy array of row indices into that set (``None``: all
N rows in one pass), exactly the batches :class:`ofmu_theory.MiniBatch` draws. With θ the trainable
parameters of the model f_θ, (x_i, y_i) the rows and ℓ the cross-entropy:

- :func:`cross_entropy`            L(θ) = mean_i ℓ(f_θ(x_i), y_i)                (FT, Retrain, L_r)
- :func:`negative_cross_entropy`   −L(θ)                                         (GA as a minimised loss)
- :func:`random_label_cross_entropy`  mean_i ℓ(f_θ(x_i), ỹ_i), ỹ_i ≠ y_i drawn once   (RL, SalUn)
- :func:`kl_to_teacher`            τ²·mean_i KL(p_t(x_i)/τ ‖ p_θ(x_i)/τ)          (SCRUB's max-steps)
- :func:`distillation`             α·KL + γ·CE on the same rows                  (SCRUB's min-steps)
- :func:`forget_objective`         L_f(θ) = mean CE on D_f, the OFMU lower level (sense "max")
- :func:`null_objective`           0 (a data-free stand-in for the absent lower level of plain training)

**BatchNorm.** ``bn_mode="train"`` (the default) runs the module in train mode inside the loss:
BatchNorm normalises with the batch statistics and updates its running statistics on every forward
pass, as SalUn / Unlearn-Sparse do while unlearning (their loops call ``model.train()``). Every oracle
call of the core (inner and outer steps, finite-difference HVPs, value checks) is such a forward
pass, so the running statistics follow the iterates the solver visits. ``bn_mode="eval"`` freezes the
running statistics and makes the loss a deterministic function of θ and the batch (SalUn computes its
saliency mask in eval mode). Models without BatchNorm (the small CNN) behave the same in both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ofmu_theory.modules import ModuleParams
from ofmu_theory.objectives import Batch, TorchObjective
from vision.data import ImageSet

BN_MODES = ("train", "eval")


def check_bn_mode(bn_mode: str) -> str:
    """Validate ``bn_mode`` (``"train"`` or ``"eval"``)."""
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode=}")
    return bn_mode


@dataclass(frozen=True, kw_only=True, eq=False)
class Rows:
    """One row-indexed image set as torch tensors (a copy of the selected rows).

    Attributes:
        name: a label for messages (``"D_f"``, ``"D_r"``, ...).
        images: float32 tensor ``(N, C, H, W)``.
        labels: int64 tensor ``(N,)``.
        num_classes: K.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int

    @classmethod
    def of(cls, part: ImageSet, indices: np.ndarray, *, name: str) -> Rows:
        """The rows ``indices`` of ``part`` (positions in ``part``, e.g. ``split.forget`` in ``data.train``).

        Raises:
            ValueError: empty or out-of-range ``indices``.
        """
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0:
            raise ValueError(f"{name}: indices must be a non-empty 1-D array, got shape {idx.shape}")
        if not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= len(part):
            raise ValueError(f"{name}: indices must be integers in [0, {len(part)}) of {part.name}")
        images = torch.from_numpy(np.ascontiguousarray(part.images[idx]))  # fancy indexing: a writable copy
        labels = torch.from_numpy(np.ascontiguousarray(part.labels[idx]))
        return cls(name=name, images=images, labels=labels, num_classes=part.num_classes)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def rows(self, batch: Batch) -> torch.Tensor | slice:
        """Torch row indices of ``batch`` (``None``: every row)."""
        if batch is None:
            return slice(None)
        return torch.as_tensor(np.asarray(batch), dtype=torch.long)


LogitLoss = Callable[[torch.Tensor, torch.Tensor | slice], torch.Tensor]


def _objective(params: ModuleParams, rows: Rows, loss: LogitLoss, *, bn_mode: str) -> TorchObjective:
    """``TorchObjective`` of ``loss(logits, rows)`` where logits = f_θ(images[rows]), in ``bn_mode``."""
    check_bn_mode(bn_mode)
    training = bn_mode == "train"
    module = params.module

    def fn(forward: Callable[..., torch.Tensor], batch: Batch) -> torch.Tensor:
        module.train(training)
        idx = rows.rows(batch)
        logits = forward(rows.images[idx])  # (B, K)
        return loss(logits, idx)

    return TorchObjective(params.loss(fn), n_rows=len(rows))


def cross_entropy(params: ModuleParams, rows: Rows, *, bn_mode: str = "train") -> TorchObjective:
    """L(θ) = mean over the batch of ℓ(f_θ(x_i), y_i) (cross-entropy with the true labels)."""
    return _objective(params, rows, lambda z, idx: F.cross_entropy(z, rows.labels[idx]), bn_mode=bn_mode)


def negative_cross_entropy(params: ModuleParams, rows: Rows, *, bn_mode: str = "train") -> TorchObjective:
    """−L(θ): gradient ascent on the cross-entropy written as a loss to minimise (GA)."""
    return _objective(params, rows, lambda z, idx: -F.cross_entropy(z, rows.labels[idx]), bn_mode=bn_mode)


def forget_objective(params: ModuleParams, forget: Rows, *, bn_mode: str = "train") -> TorchObjective:
    """L_f(θ): cross-entropy on D_f, the lower level of the unlearning problem (declare ``sense="max"``).

    The same function as :func:`cross_entropy`; the name records its role. The core ascends
    σ·L_f with σ = +1, i.e. forgetting maximises the forget loss (arXiv 2509.22483, §3).
    """
    return cross_entropy(params, forget, bn_mode=bn_mode)


def random_labels(labels: np.ndarray, *, num_classes: int, seed: int) -> np.ndarray:
    """One wrong label per row, uniform over the K − 1 other classes: ỹ = (y + u) mod K, u ~ U{1..K−1}.

    Raises:
        ValueError: ``num_classes < 2`` (no wrong label exists) or labels outside [0, K).
    """
    y = np.asarray(labels, dtype=np.int64)
    if num_classes < 2:
        raise ValueError(f"random labels need num_classes >= 2, got {num_classes=}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes})")
    shift = np.random.default_rng(seed).integers(1, num_classes, size=y.size)
    return (y + shift) % num_classes


def random_label_cross_entropy(
    params: ModuleParams, rows: Rows, *, seed: int, bn_mode: str = "train"
) -> TorchObjective:
    """mean ℓ(f_θ(x_i), ỹ_i) with ỹ = :func:`random_labels` drawn once from ``seed`` (never the true class).

    SalUn's RL draws ``randint(0, K)`` afresh for every batch, which may hit the true class; drawing
    once keeps the objective a fixed function of θ (what the core's oracles assume) and the wrong
    label guarantee makes "relabel" mean what it says.
    """
    fake = torch.from_numpy(random_labels(rows.labels.numpy(), num_classes=rows.num_classes, seed=seed))
    return _objective(params, rows, lambda z, idx: F.cross_entropy(z, fake[idx]), bn_mode=bn_mode)


def distillation(
    params: ModuleParams, rows: Rows, *, teacher_logits: torch.Tensor, kl_weight: float = 1.0,
    ce_weight: float = 0.0, temperature: float = 4.0, bn_mode: str = "train",
) -> TorchObjective:
    """α·τ²·mean_i KL(softmax(z_t,i/τ) ‖ softmax(f_θ(x_i)/τ)) + γ·mean_i ℓ(f_θ(x_i), y_i) in one forward.

    The KL term is SCRUB's ``DistillKL`` (teacher ‖ student, scaled by τ²); SCRUB's min-steps use
    α·KL + γ·CE on D_r, its max-steps the KL alone on D_f (see :func:`kl_to_teacher`).

    Args:
        params: the student's parameters θ.
        rows: the images (with their true labels for the CE term).
        teacher_logits: ``(N, K)`` logits of the frozen teacher on ``rows`` (computed once).
        kl_weight: α ≥ 0.
        ce_weight: γ ≥ 0.
        temperature: τ > 0 (SCRUB's ``kd_T`` = 4).
        bn_mode: see the module docstring.
    """
    if tuple(teacher_logits.shape) != (len(rows), rows.num_classes):
        raise ValueError(
            f"teacher_logits must have shape ({len(rows)}, {rows.num_classes}), got {tuple(teacher_logits.shape)}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature=}")
    if kl_weight < 0 or ce_weight < 0 or kl_weight + ce_weight == 0:
        raise ValueError(f"kl_weight and ce_weight must be >= 0, not both 0; got {kl_weight=}, {ce_weight=}")
    log_p_t = torch.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)  # (N, K)

    def loss(z: torch.Tensor, idx: torch.Tensor | slice) -> torch.Tensor:
        out = z.new_zeros(())
        if kl_weight:
            log_p_s = torch.log_softmax(z / temperature, dim=-1)  # (B, K)
            kl = F.kl_div(log_p_s, log_p_t[idx], reduction="batchmean", log_target=True)
            out = out + kl_weight * temperature**2 * kl
        if ce_weight:
            out = out + ce_weight * F.cross_entropy(z, rows.labels[idx])
        return out

    return _objective(params, rows, loss, bn_mode=bn_mode)


def kl_to_teacher(
    params: ModuleParams, rows: Rows, *, teacher_logits: torch.Tensor, temperature: float = 4.0,
    bn_mode: str = "train",
) -> TorchObjective:
    """τ²·mean_i KL(softmax(z_t,i/τ) ‖ softmax(f_θ(x_i)/τ)): SCRUB's distillation loss (``DistillKL``)."""
    return distillation(params, rows, teacher_logits=teacher_logits, kl_weight=1.0, ce_weight=0.0,
                        temperature=temperature, bn_mode=bn_mode)


@torch.no_grad()
def logits_of(module: torch.nn.Module, rows: Rows, *, batch_size: int = 1024) -> torch.Tensor:
    """``(N, K)`` logits of ``module`` in eval mode (its mode is restored), e.g. a teacher's."""
    was_training = module.training
    module.eval()
    try:
        return torch.cat([module(rows.images[s:s + batch_size]) for s in range(0, len(rows), batch_size)])
    finally:
        module.train(was_training)


def null_objective() -> TorchObjective:
    """The constant 0 with no data rows: the lower level of a single-level run (training from scratch).

    Its gradient is exactly zero; pair it with a solver that never reads the lower level
    (``scalarized`` with ``forget_weight=0``) and a sampler with ``batch_lower=None``.
    """

    def loss_fn(params: tuple[torch.Tensor, ...], batch: Batch) -> torch.Tensor:
        return sum((p.sum() * 0.0 for p in params), torch.zeros(()))

    return TorchObjective(loss_fn, n_rows=None)
