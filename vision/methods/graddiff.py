"""GradDiff: ascent on the forget loss and descent on the retain loss, summed."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.solvers import Scalarized
from vision.methods.base import METHODS, SgdMethod, UnlearnTask, check_positive
from vision.plan import Plan


@METHODS.register("graddiff")
@dataclass(frozen=True, kw_only=True)
class GradDiff(SgdMethod):
    """Descent on J = −γ_f L_f + L_r (one D_f and one D_r batch per step); ``epochs`` = passes over D_f.

    Core: ``scalarized`` with ``forget_weight`` = γ_f, λ = 1:

    .. math::

        θ_{k+1} = θ_k − η(m_{k+1} + λ_{wd}θ_k)\\\\
        m_{k+1} = μ m_k − γ_f∇L_f(θ_k; B_f) + ∇L_r(θ_k; B_r)

    Defaults (tuned on the default bench): γ_f = 0.02, lr 0.01, 3 epochs (γ_f = 0.05 over-forgets a class).
    """

    name = "graddiff"
    bench_rank = 70
    core_solver = "scalarized"
    test_settings = {"epochs": 1.0}

    epochs: float = 3.0
    lr: float = 0.01
    forget_batch_size: int = 64
    forget_weight: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(forget_weight=self.forget_weight)

    def plan(self, task: UnlearnTask) -> Plan:
        steps = self.forget_steps(task)
        solver = Scalarized(forget_weight=self.forget_weight, retain_weight=1.0, eta=self.eta(steps),
                            transform=self.transform(), max_steps=steps)
        return Plan(problem=task.unlearning_problem(name="graddiff", bn_mode=self.bn_mode), solver=solver,
                    sampler=self.sampler(task), params=task.params)
