"""GradDiff: ascent on the forget NLL plus descent on a retain loss (NLL or KL)."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.methods.base import METHODS, UnlearnTask, WithRetain
from llm.runner import Plan
from ofmu_theory.solvers import Scalarized


@METHODS.register("grad_diff")
@dataclass(frozen=True, kw_only=True)
class GradDiff(WithRetain):
    """Minimise γ·(−NLL(θ; D_f)) + α·L_r(θ; D_r), L_r = NLL or KL(p_ref ‖ p_θ) (OpenUnlearning ``GradDiff``).

    Core: ``scalarized`` with γ_f = γ, λ = α on L_f = NLL (sense "max").
    """

    name = "grad_diff"
    bench_rank = 20
    EMBEDDED = {"lr": 2e-4, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0}

    def plan(self, task: UnlearnTask) -> Plan:
        sampler = self.sampler(task)
        problem = task.problem(lower=objectives.nll(task.params, task.forget), upper=self.retain_objective(task),
                               name="grad_diff")
        solver = Scalarized(forget_weight=self.gamma, retain_weight=self.alpha, eta=self.eta(sampler),
                            transform=self.adamw(), max_steps=self.max_steps(sampler))
        return Plan(problem=problem, solver=solver, sampler=sampler, params=task.params)
