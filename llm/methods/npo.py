"""NPO: negative preference optimisation against the frozen reference model."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.methods.base import METHODS, UnlearnTask, WithRetain, check_positive
from llm.runner import Plan
from ofmu_theory.solvers import Scalarized


@METHODS.register("npo")
@dataclass(frozen=True, kw_only=True)
class NPO(WithRetain):
    """Minimise γ·L_NPO(θ; D_f) + α·L_r(θ; D_r) with L_NPO = −(2/β) mean log σ(β(s_θ − s_ref))
    (OpenUnlearning ``NPO``; s = summed answer NLL, s_ref from the reference model).

    Core: ``scalarized`` with γ_f = γ, λ = α on L_f = −L_NPO (sense "max").
    """

    name = "npo"
    bench_rank = 30
    EMBEDDED = {"lr": 2e-4, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0}

    beta: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(beta=self.beta)

    def plan(self, task: UnlearnTask) -> Plan:
        sampler = self.sampler(task)
        lower = objectives.neg_npo(task.params, task.forget, task.reference, beta=self.beta)
        problem = task.problem(lower=lower, upper=self.retain_objective(task), name="npo")
        solver = Scalarized(forget_weight=self.gamma, retain_weight=self.alpha, eta=self.eta(sampler),
                            transform=self.adamw(), max_steps=self.max_steps(sampler))
        return Plan(problem=problem, solver=solver, sampler=sampler, params=task.params)
