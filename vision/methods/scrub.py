"""SCRUB (Kurmanji et al., NeurIPS 2023): move away from the teacher on D_f, stay close to it on D_r."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ofmu_theory.solvers import Alternating
from vision.methods.base import METHODS, SgdMethod, UnlearnTask, check_nonnegative, check_positive
from vision.objectives import distillation, kl_to_teacher, logits_of
from vision.plan import Plan


@METHODS.register("scrub")
@dataclass(frozen=True, kw_only=True)
class SCRUB(SgdMethod):
    """Alternating max-steps on KL(teacher ‖ student) over D_f and min-steps on α·KL + γ·CE over D_r.

    The teacher is the Original (its logits computed once, in eval mode). Core: ``alternating`` with
    one outer iteration per SCRUB epoch: ``inner_steps`` = ⌈|D_f|/b_f⌉ max-steps (a pass over D_f, only
    while k < ``max_epochs``), then ``outer_steps`` = ⌈|D_r|/b_r⌉ min-steps (a pass over D_r):

    .. math::

        θ ← θ + η\\,(\\text{momentum of } ∇ τ²KL(p_t ‖ p_θ)(B_f)) \\quad(\\text{max-steps})\\\\
        θ ← θ − η\\,(\\text{momentum of } ∇[α τ²KL(p_t ‖ p_θ) + γ\\,CE](B_r)) \\quad(\\text{min-steps})

    SCRUB's defaults: SGD lr 5e-4, momentum 0.9, ``msteps`` 2–3 of ``sgda_epochs`` 3–5, α (KL weight of
    the min-steps) 1e-3 … 1, γ 0.99, τ = 4. ``epochs`` must be an integer here (it is K).
    On the default bench the max-steps are unstable: lr 0.01 with 2 max-epochs, 0.005 with 2, or 0.003
    with 2 (batch 32) all blow the KL up (status DIVERGED); the default lr 0.005, one max-epoch of
    three, is stable but forgets little.
    """

    name = "scrub"
    bench_rank = 60
    core_solver = "alternating"
    test_settings = {"epochs": 2, "max_epochs": 1}

    epochs: float = 3
    max_epochs: int = 1
    lr: float = 0.005
    forget_batch_size: int = 64
    kl_weight: float = 1.0
    ce_weight: float = 1.0
    temperature: float = 4.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if float(self.epochs) != int(self.epochs):
            raise ValueError(f"epochs must be a whole number of SCRUB epochs, got epochs={self.epochs!r}")
        if isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int) or self.max_epochs < 0:
            raise ValueError(f"max_epochs must be an int >= 0, got max_epochs={self.max_epochs!r}")
        check_nonnegative(kl_weight=self.kl_weight, ce_weight=self.ce_weight)
        check_positive(temperature=self.temperature)

    def plan(self, task: UnlearnTask) -> Plan:
        teacher_f, teacher_r = logits_of(task.original, task.forget), logits_of(task.original, task.retain)
        problem = task.problem(
            lower=kl_to_teacher(task.params, task.forget, teacher_logits=teacher_f, temperature=self.temperature,
                                bn_mode=self.bn_mode),
            upper=distillation(task.params, task.retain, teacher_logits=teacher_r, kl_weight=self.kl_weight,
                               ce_weight=self.ce_weight, temperature=self.temperature, bn_mode=self.bn_mode),
            sense="max", name="scrub",
        )
        solver = Alternating(
            inner_steps=math.ceil(len(task.forget) / self.forget_batch_size),
            outer_steps=math.ceil(len(task.retain) / self.batch_size),
            ascent_until=self.max_epochs, eta_in=self.lr, eta_out=self.lr,
            transform_in=self.transform(), transform_out=self.transform(), max_steps=int(self.epochs),
        )
        return Plan(problem=problem, solver=solver, sampler=self.sampler(task), params=task.params)
