"""GA: gradient ascent on the forget loss."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.solvers import Scalarized
from vision.methods.base import METHODS, SgdMethod, UnlearnTask
from vision.plan import Plan


@METHODS.register("ga")
@dataclass(frozen=True, kw_only=True)
class GA(SgdMethod):
    """Ascent on L_f = CE on D_f from θ_0; ``epochs`` = passes over D_f.

    Core: ``scalarized`` with γ_f = 1, λ = 0 on the unlearning problem (L_f maximised, σ = +1):

    .. math:: θ_{k+1} = θ_k − η(m_{k+1} + λ_{wd}θ_k),\\quad m_{k+1} = μ m_k − ∇L_f(θ_k; B_f)

    Very sensitive to η (SalUn: lr 1e-4, 5 epochs on CIFAR-10). On the default bench lr 1e-4 barely
    forgets a class, 5e-4 and 1e-3 blow up (non-finite predictions); default lr 2e-4, 3 epochs.
    """

    name = "ga"
    bench_rank = 20
    core_solver = "scalarized"
    test_settings = {"epochs": 1.0}

    epochs: float = 3.0
    lr: float = 2e-4
    forget_batch_size: int = 64

    def plan(self, task: UnlearnTask) -> Plan:
        steps = self.forget_steps(task)
        solver = Scalarized(forget_weight=1.0, retain_weight=0.0, eta=self.eta(steps), transform=self.transform(),
                            max_steps=steps)
        return Plan(problem=task.unlearning_problem(name="ga", bn_mode=self.bn_mode), solver=solver,
                    sampler=self.sampler(task), params=task.params)
