"""Scalarised objective −γ_f·σL_f + λ·L_r (GradDiff; GradAscent with λ = 0; fine-tuning with γ_f = 0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.schedules import Schedule
from ofmu_theory.solvers.base import SOLVERS, Loop, Solver
from ofmu_theory.states import STATES
from ofmu_theory.steps import StepRule, as_step_rule
from ofmu_theory.transforms import Sgd, Transform


@STATES.register("descent_state")
class DescentState(NamedTuple):
    theta: Vec
    k: int
    draws: int
    transform_state: Any


def check_weights(**weights: float) -> None:
    for name, value in weights.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {name}={value!r}")
    if all(v == 0 for v in weights.values()):
        raise ValueError(f"at least one of {', '.join(weights)} must be > 0")


@SOLVERS.register("scalarized")
@dataclass(frozen=True, kw_only=True)
class Scalarized(Solver):
    """Gradient descent on J(θ) = −γ_f·σL_f(θ) + λ·L_r(θ) + α_k‖θ‖₁.

    ``forget_weight`` = γ_f, ``retain_weight`` = λ, ``eta`` = η, ``l1`` = the schedule α_k
    (ℓ1-sparse unlearning; a subgradient term). GradDiff is γ_f = λ = 1; GradAscent λ = 0;
    fine-tuning on the retain data γ_f = 0.

    .. math:: θ_{k+1} = Π(θ_k − η(−γ_f σ∇L_f + λ∇L_r + α_k \\operatorname{sign}θ_k))

    The step error is ‖∇J‖.
    """

    name = "scalarized"

    forget_weight: float = 1.0
    retain_weight: float = 1.0
    eta: float | StepRule = 0.1
    transform: Transform = field(default_factory=Sgd)
    l1: Schedule | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_weights(forget_weight=self.forget_weight, retain_weight=self.retain_weight)
        object.__setattr__(self, "eta", as_step_rule(self.eta, name="eta"))

    def init(self, ev: Evaluator, theta0: Vec) -> DescentState:
        return DescentState(theta0, 0, 0, self.transform.init(ev.backend, theta0))

    def levels(self) -> tuple[bool, bool]:
        return self.forget_weight > 0, self.retain_weight > 0

    def objective(self, ev: Evaluator, theta: Vec, batches, alpha: float) -> float:
        b, value = ev.backend, 0.0
        if self.forget_weight:
            value -= self.forget_weight * ev.sigma * b.item(ev.lower_value(theta, batches.lower))
        if self.retain_weight:
            value += self.retain_weight * b.item(ev.upper_value(theta, batches.upper))
        if alpha:
            value += alpha * l1_norm(b, theta)
        return value

    def step(self, ev: Evaluator, state: DescentState) -> tuple[DescentState, dict[str, float]]:
        b = ev.backend
        batches, draws = self.draw(ev, state.draws)
        theta, row = state.theta, {}
        direction, value = None, 0.0
        if self.forget_weight:
            loss_f, g_f = ev.lower_value_grad(theta, batches.lower)
            direction = b.scale(-self.forget_weight * ev.sigma, g_f)
            value -= self.forget_weight * ev.sigma * b.item(loss_f)
            row.update(loss_f=b.item(loss_f), grad_f_norm=b.item(b.norm(g_f)))
        if self.retain_weight:
            loss_r, g_r = ev.upper_value_grad(theta, batches.upper)
            direction = b.scale(self.retain_weight, g_r) if direction is None else b.axpy(self.retain_weight, g_r, direction)
            value += self.retain_weight * b.item(loss_r)
            row.update(loss_r=b.item(loss_r), grad_r_norm=b.item(b.norm(g_r)))
            if self.forget_weight:
                row["sim"] = b.item(b.vdot(g_f, g_r)) * ev.sigma / max(row["grad_f_norm"] * row["grad_r_norm"], 1e-300)
        if direction is None:  # unreachable (check_weights refuses two zero weights)
            direction = b.zeros_like(theta)
        alpha = self.l1(state.k) if self.l1 is not None else 0.0
        if alpha:
            direction = b.axpy(alpha, b.map(_sign, theta), direction)
            value += alpha * l1_norm(b, theta)
        c = ev.problem.constants
        smooth = None
        if c.L_lower is not None and c.L_upper is not None and not alpha:
            smooth = self.forget_weight * c.L_lower + self.retain_weight * c.L_upper
        new, tstate, eta, ok = self.move(
            ev, Loop(self.eta, self.transform, ascent=False, what="scalarised"), theta, direction,
            state.transform_state, value=value, value_fn=lambda x: self.objective(ev, x, batches, alpha),
            smoothness=smooth, k=state.k,
        )
        error = b.item(b.norm(direction))
        row.update(objective=value, eta_out=eta, line_search_ok=float(ok), error=error)
        return DescentState(new, state.k + 1, draws, tstate), row


def _sign(x: Any) -> Any:
    return (x > 0) * 1.0 - (x < 0) * 1.0


def l1_norm(b: Any, theta: Vec) -> float:
    """‖θ‖₁ = ⟨θ, sign θ⟩."""
    return b.item(b.vdot(theta, b.map(_sign, theta)))
