"""ℓ1-sparse unlearning: fine-tuning on D_r with a linearly decaying ℓ1 penalty (Unlearn-Sparse's FT_prune)."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.schedules import LinearDecay
from ofmu_theory.solvers import Scalarized
from vision.methods.base import METHODS, SgdMethod, UnlearnTask, check_positive
from vision.plan import Plan


@METHODS.register("l1_sparse")
@dataclass(frozen=True, kw_only=True)
class L1Sparse(SgdMethod):
    """Descent on L_r + α_k‖θ‖₁ with α_k = α(1 − k/K) (``alpha`` = α, K = all steps); ``epochs`` over D_r.

    Core: ``scalarized`` with γ_f = 0, λ = 1 and ``l1 = LinearDecay(α, 0, K)`` (a subgradient term):

    .. math::

        θ_{k+1} = θ_k − η(m_{k+1} + λ_{wd}θ_k)\\\\
        m_{k+1} = μ m_k + ∇L_r(θ_k; B_r) + α_k\\,\\mathrm{sign}\\,θ_k

    Unlearn-Sparse decays α per epoch (``FT_l1``, α ∈ [1e-4, 1e-3] with lr 0.01); here per step.
    Defaults (tuned on the default bench among α ∈ {5e-4, 1e-3, 2e-3}): α = 2e-3, lr 0.03, 3 epochs.
    """

    name = "l1_sparse"
    bench_rank = 40
    core_solver = "scalarized"
    test_settings = {"epochs": 0.5}

    epochs: float = 3.0
    lr: float = 0.03
    alpha: float = 2e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(alpha=self.alpha)

    def plan(self, task: UnlearnTask) -> Plan:
        steps = self.retain_steps(task)
        solver = Scalarized(forget_weight=0.0, retain_weight=1.0, eta=self.eta(steps), transform=self.transform(),
                            l1=LinearDecay(start=self.alpha, end=0.0, steps=steps), max_steps=steps)
        return Plan(problem=task.unlearning_problem(name="l1_sparse", bn_mode=self.bn_mode), solver=solver,
                    sampler=self.sampler(task), params=task.params)
