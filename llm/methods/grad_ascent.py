"""GradAscent: ascent on the forget NLL, nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.methods.base import METHODS, Method, UnlearnTask
from llm.runner import Plan
from ofmu_theory.solvers import Scalarized


@METHODS.register("grad_ascent")
@dataclass(frozen=True, kw_only=True)
class GradAscent(Method):
    """Minimise −NLL(θ; D_f) (OpenUnlearning ``GradAscent``); no retain term.

    Core: ``scalarized`` with γ_f = 1, λ = 0 on L_f = NLL (sense "max"):

    .. math:: θ_{k+1} = θ_k − η_k(\\mathrm{Adam}(−∇NLL(θ_k; B_f)) + λ_{wd}θ_k)
    """

    name = "grad_ascent"
    bench_rank = 10
    EMBEDDED = {"lr": 2e-4, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0}

    def plan(self, task: UnlearnTask) -> Plan:
        sampler = self.sampler(task)
        problem = task.problem(lower=objectives.nll(task.params, task.forget),
                               upper=objectives.nll(task.params, task.retain), name="grad_ascent")
        solver = Scalarized(forget_weight=1.0, retain_weight=0.0, eta=self.eta(sampler), transform=self.adamw(),
                            max_steps=self.max_steps(sampler))
        return Plan(problem=problem, solver=solver, sampler=sampler, params=task.params)
