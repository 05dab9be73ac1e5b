"""BLUR: the forget gradient corrected toward the retain gradient (core solver ``blur``)."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.methods.base import METHODS, Method, UnlearnTask, check_nonnegative
from llm.runner import Plan
from ofmu_theory.solvers import Blur as BlurSolver


@METHODS.register("blur")
@dataclass(frozen=True, kw_only=True)
class Blur(Method):
    """BLUR (Reisizadeh et al. 2025) with L_f = NLL on D_f (maximised) and L_r = NLL on D_r.

    Core: ``blur`` with γ = ``gamma``; g_d = −∇NLL_f is the gradient of the loss minimised for forgetting:

    .. math:: θ_{k+1} = θ_k − η_k(\\mathrm{Adam}(g) + λ_{wd}θ_k),\\quad g = g_r + (γ − ⟨g_r, g_d⟩/‖g_d‖²)\\,g_d

    OpenUnlearning has no BLUR trainer; its shared TOFU recipe is the default.
    """

    name = "blur"
    bench_rank = 70
    EMBEDDED = {"lr": 2e-4, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0}

    gamma: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(gamma=self.gamma)

    def plan(self, task: UnlearnTask) -> Plan:
        sampler = self.sampler(task)
        problem = task.problem(lower=objectives.nll(task.params, task.forget),
                               upper=objectives.nll(task.params, task.retain), name="blur")
        solver = BlurSolver(gamma=self.gamma, eta=self.eta(sampler), transform=self.adamw(),
                            max_steps=self.max_steps(sampler))
        return Plan(problem=problem, solver=solver, sampler=sampler, params=task.params)
