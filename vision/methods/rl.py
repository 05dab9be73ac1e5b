"""RL: random labelling — fit wrong labels on D_f while fitting D_r."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.problem import BilevelProblem
from ofmu_theory.solvers import Scalarized
from vision.methods.base import METHODS, SgdMethod, UnlearnTask, check_positive
from vision.objectives import cross_entropy, random_label_cross_entropy
from vision.plan import Plan


@METHODS.register("rl")
@dataclass(frozen=True, kw_only=True)
class RL(SgdMethod):
    """Descent on γ_f L̃_f + L_r, L̃_f = CE on D_f with labels ỹ ≠ y drawn once; ``epochs`` over D_r.

    Core: ``scalarized`` with ``forget_weight`` = γ_f, λ = 1 on the problem whose lower level is L̃_f
    *minimised* (``sense="min"``, σ = −1, so −γ_f σ L̃_f = +γ_f L̃_f):

    .. math::

        θ_{k+1} = θ_k − η(m_{k+1} + λ_{wd}θ_k)\\\\
        m_{k+1} = μ m_k + γ_f∇L̃_f(θ_k; B_f) + ∇L_r(θ_k; B_r)

    SalUn's CIFAR-10 loop takes a pass of relabelled D_f, then a pass of D_r, each epoch (lr 0.013,
    10 epochs); its CIFAR-100 loop shuffles relabelled D_f and D_r together. Here each step sums one
    batch of each (the joint variant): with ``forget_batch_size`` ≈ ``batch_size``·|D_f|/|D_r| both sets
    are seen once per epoch, as in the shuffled loop. Defaults (tuned on the default bench): lr 0.01,
    2 epochs, γ_f = 0.1 (γ_f = 1 collapses RA on random forgetting).
    """

    name = "rl"
    bench_rank = 30
    core_solver = "scalarized"
    test_settings = {"epochs": 0.5}

    epochs: float = 2.0
    lr: float = 0.01
    forget_batch_size: int = 16
    forget_weight: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(forget_weight=self.forget_weight)

    def relabel_problem(self, task: UnlearnTask) -> BilevelProblem:
        """Lower level: random-label CE on D_f (minimised); upper level: CE on D_r."""
        return task.problem(
            lower=random_label_cross_entropy(task.params, task.forget, seed=task.seed, bn_mode=self.bn_mode),
            upper=cross_entropy(task.params, task.retain, bn_mode=self.bn_mode), sense="min", name=self.name,
        )

    def solver(self, task: UnlearnTask, *, update_mask: object = None) -> Scalarized:
        """The scalarised descent (``update_mask`` restricts the moving coordinates; SalUn)."""
        steps = self.retain_steps(task)
        return Scalarized(forget_weight=self.forget_weight, retain_weight=1.0, eta=self.eta(steps),
                          transform=self.transform(), max_steps=steps, update_mask=update_mask)

    def plan(self, task: UnlearnTask) -> Plan:
        return Plan(problem=self.relabel_problem(task), solver=self.solver(task), sampler=self.sampler(task),
                    params=task.params)
