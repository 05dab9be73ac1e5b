"""SalUn: random labelling restricted to the weights most salient for the forget loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ofmu_theory.modules import ModuleParams
from vision.methods.base import METHODS, UnlearnTask
from vision.methods.rl import RL
from vision.objectives import Rows, cross_entropy
from vision.plan import Plan


def forget_gradient(params: ModuleParams, forget: Rows, *, chunk: int = 512) -> tuple[torch.Tensor, ...]:
    """∇_θ CE(D_f) at the module's current θ, in eval mode (as SalUn's ``generate_mask``), chunk by chunk.

    One oracle evaluation of the core's objective per chunk, averaged with the chunk sizes as weights
    (= the gradient of the mean loss over D_f); no step is taken.
    """
    objective = cross_entropy(params, forget, bn_mode="eval")
    theta = params.vector()
    total = tuple(torch.zeros_like(t) for t in theta)
    n = len(forget)
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        _, grad = objective.value_and_grad(theta, rows)
        total = tuple(acc + g * (rows.size / n) for acc, g in zip(total, grad, strict=True))
    return total


def saliency_mask(grad: tuple[torch.Tensor, ...], *, fraction: float) -> tuple[torch.Tensor, ...]:
    """m_S = 1 on the ⌊fraction·d⌋ coordinates with the largest |g|, ranked over all of θ (SalUn's hard mask).

    Ties at the threshold are broken by ``torch.topk`` (exactly ⌊fraction·d⌋ ones).

    Raises:
        ValueError: ``fraction`` outside (0, 1].
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction=}")
    flat = torch.cat([g.detach().abs().flatten() for g in grad])  # (d,)
    k = max(1, int(fraction * flat.numel()))
    keep = torch.zeros_like(flat)
    keep[torch.topk(flat, k, sorted=False).indices] = 1.0
    return tuple(part.view_as(g) for part, g in zip(torch.split(keep, [g.numel() for g in grad]), grad, strict=True))


@METHODS.register("salun")
@dataclass(frozen=True, kw_only=True)
class SalUn(RL):
    """RL on the salient weights only: m_S = top ``mask_fraction`` of |∇_θ CE(D_f)| at θ_0 (global ranking).

    Core: ``scalarized`` exactly as :class:`~vision.methods.rl.RL`, with ``update_mask`` = m_S: every step
    is multiplied by m_S, so the weights outside the mask stay exactly at θ_0:

    .. math:: θ_{k+1} = θ_k − η\\, m_S ⊙ (m_{k+1} + λ_{wd}θ_k)

    SalUn (Fan et al., ICLR 2024): mask fraction 0.5, RL with lr 0.013, 10 epochs on CIFAR-10. The mask
    computation (one pass over D_f) is part of the measured time. Defaults (tuned on the default bench):
    lr 0.02, 3 epochs, γ_f = 0.05.
    """

    name = "salun"
    bench_rank = 50
    core_solver = "scalarized"
    test_settings = {"epochs": 0.5}

    mask_fraction: float = 0.5
    epochs: float = 3.0
    lr: float = 0.02
    forget_weight: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.mask_fraction <= 1.0:
            raise ValueError(f"mask_fraction must be in (0, 1], got mask_fraction={self.mask_fraction!r}")

    def plan(self, task: UnlearnTask) -> Plan:
        mask = saliency_mask(forget_gradient(task.params, task.forget), fraction=self.mask_fraction)
        return Plan(problem=self.relabel_problem(task), solver=self.solver(task, update_mask=mask),
                    sampler=self.sampler(task), params=task.params)
