"""BLUR: the forget direction corrected toward the retain gradient (core solver "blur")."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.solvers import Blur
from vision.methods.base import METHODS, SgdMethod, UnlearnTask, check_nonnegative
from vision.plan import Plan


@METHODS.register("blur")
@dataclass(frozen=True, kw_only=True)
class BLUR(SgdMethod):
    """BLUR (Reisizadeh et al. 2025) on L_f = CE(D_f) (maximised) and L_r = CE(D_r); ``epochs`` = passes over D_f.

    Core: ``blur`` with ``gamma`` = γ; g_d = −∇L_f(θ; B_f) is the forgetting descent direction:

    .. math:: θ_{k+1} = θ_k − η(m_{k+1} + λ_{wd}θ_k),\\quad
              m_{k+1} = μ m_k + g_r + (γ − ⟨g_r, g_d⟩/‖g_d‖²) g_d

    The update is not the gradient of one function, so η is a schedule, never a line search.
    Defaults (tuned on the default bench): γ = 0.03, lr 0.005, 3 epochs (γ = 0.05 with lr 0.01 gives
    non-finite predictions in class-wise forgetting).
    """

    name = "blur"
    bench_rank = 80
    core_solver = "blur"
    test_settings = {"epochs": 1.0}

    epochs: float = 3.0
    lr: float = 0.005
    forget_batch_size: int = 64
    gamma: float = 0.03

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(gamma=self.gamma)

    def plan(self, task: UnlearnTask) -> Plan:
        steps = self.forget_steps(task)
        solver = Blur(gamma=self.gamma, eta=self.eta(steps), transform=self.transform(), max_steps=steps)
        return Plan(problem=task.unlearning_problem(name="blur", bn_mode=self.bn_mode), solver=solver,
                    sampler=self.sampler(task), params=task.params)
