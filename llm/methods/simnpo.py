"""SimNPO: NPO without a reference model, length-normalised with a margin δ."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.methods.base import METHODS, UnlearnTask, WithRetain, check_nonnegative, check_positive
from llm.runner import Plan
from ofmu_theory.solvers import Scalarized


@METHODS.register("simnpo")
@dataclass(frozen=True, kw_only=True)
class SimNPO(WithRetain):
    """Minimise γ·L_SimNPO(θ; D_f) + α·L_r(θ; D_r) with L_SimNPO = −(2/β) mean log σ(β(s_θ/|y| − δ))
    (OpenUnlearning ``SimNPO``: δ = 0, β = 4.5, γ = 0.125, α = 1).

    Core: ``scalarized`` with γ_f = γ, λ = α on L_f = −L_SimNPO (sense "max").
    """

    name = "simnpo"
    bench_rank = 40
    EMBEDDED = {"lr": 1e-3, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0}

    gamma: float = 0.125
    beta: float = 4.5
    delta: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(beta=self.beta)
        check_nonnegative(delta=self.delta)

    def plan(self, task: UnlearnTask) -> Plan:
        sampler = self.sampler(task)
        lower = objectives.neg_simnpo(task.params, task.forget, beta=self.beta, delta=self.delta)
        problem = task.problem(lower=lower, upper=self.retain_objective(task), name="simnpo")
        solver = Scalarized(forget_weight=self.gamma, retain_weight=self.alpha, eta=self.eta(sampler),
                            transform=self.adamw(), max_steps=self.max_steps(sampler))
        return Plan(problem=problem, solver=solver, sampler=sampler, params=task.params)
