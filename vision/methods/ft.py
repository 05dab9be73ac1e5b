"""FT: fine-tuning on the retain set (catastrophic forgetting of D_f)."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.solvers import Scalarized
from vision.methods.base import METHODS, SgdMethod, UnlearnTask
from vision.plan import Plan


@METHODS.register("ft")
@dataclass(frozen=True, kw_only=True)
class FT(SgdMethod):
    """Descent on L_r = CE on D_r from θ_0; ``epochs`` = passes over D_r.

    Core: ``scalarized`` with γ_f = 0, λ = 1 on the unlearning problem (the forget level is never read):

    .. math:: θ_{k+1} = θ_k − η(m_{k+1} + λ_{wd}θ_k),\\quad m_{k+1} = μ m_k + ∇L_r(θ_k; B_r)

    SalUn / Unlearn-Sparse: lr 0.01, 10 epochs on CIFAR-10 (constant η). Defaults here (tuned on the
    default bench, Fashion-MNIST / small CNN, among lr ∈ {0.01, 0.03, 0.05} × epochs ∈ {2, 3}): lr 0.03,
    3 epochs.
    """

    name = "ft"
    bench_rank = 10
    core_solver = "scalarized"
    test_settings = {"epochs": 0.5}

    epochs: float = 3.0
    lr: float = 0.03

    def plan(self, task: UnlearnTask) -> Plan:
        steps = self.retain_steps(task)
        solver = Scalarized(forget_weight=0.0, retain_weight=1.0, eta=self.eta(steps), transform=self.transform(),
                            max_steps=steps)
        return Plan(problem=task.unlearning_problem(name="ft", bn_mode=self.bn_mode), solver=solver,
                    sampler=self.sampler(task), params=task.params)
