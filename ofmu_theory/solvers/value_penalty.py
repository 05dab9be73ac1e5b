"""V-PBGD: the value-function penalty of Shen & Chen (ICML 2023), warm-started inner solve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.schedules import Geometric
from ofmu_theory.solvers.base import SOLVERS, Loop, Solver
from ofmu_theory.states import STATES
from ofmu_theory.steps import StepRule, as_step_rule
from ofmu_theory.transforms import Sgd, Transform


@STATES.register("value_penalty_state")
class ValuePenaltyState(NamedTuple):
    theta: Vec
    k: int
    draws: int
    inner: Vec  # ŷ: the warm-started approximate lower-level maximiser (only its block matters)
    transform_state: Any


@SOLVERS.register("value-penalty")
@dataclass(frozen=True, kw_only=True)
class ValuePenalty(Solver):
    """Gradient descent on F_ρ(θ) = L_r(θ) + ρ(v(x) − Φ(θ)), Φ = σL_lower, v(x) = max_y Φ(x, y).

    θ = (x, y) with y the lower level's block P. v and ∇_x v are estimated by T warm-started
    projected ascent steps ŷ ← Π(ŷ + η_in P∇Φ(x, ŷ)); by Danskin, ∇_x v(x) = (I − P)∇Φ(x, ŷ).
    ``rho`` = the penalty γ of the paper (ρ here for one name across solvers), ``gamma`` its
    growth factor, ``inner_steps`` = T, ``eta_in`` = η_in, ``eta`` = the outer step.

    .. math:: θ_{k+1} = Π(θ_k − η(∇L_r(θ_k) + ρ_k((I − P)∇Φ(x_k, ŷ_k) − ∇Φ(θ_k))))

    Smoothness for ``eta = 1/L``: L_F = L_r + ρ(L_g + L_g²/μ_g) (Shen & Chen's L_γ), needing μ_lower.
    The step error is ‖∇F_ρ‖.
    """

    name = "value-penalty"

    rho: float = 1.0
    gamma: float = 1.0
    rho_cap: float | None = None
    inner_steps: int = 10
    eta_in: float | StepRule = 0.1
    eta: float | StepRule = 0.1
    transform: Transform = field(default_factory=Sgd)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.inner_steps, int) or self.inner_steps < 1:
            raise ValueError(f"inner_steps must be an int >= 1, got inner_steps={self.inner_steps!r}")
        object.__setattr__(self, "eta_in", as_step_rule(self.eta_in, name="eta_in"))
        object.__setattr__(self, "eta", as_step_rule(self.eta, name="eta"))
        Geometric(self.rho, self.gamma, self.rho_cap)

    def init(self, ev: Evaluator, theta0: Vec) -> ValuePenaltyState:
        return ValuePenaltyState(theta0, 0, 0, ev.backend.copy(theta0), self.transform.init(ev.backend, theta0))

    def _merge(self, ev: Evaluator, theta: Vec, inner: Vec) -> Vec:
        """(x of θ, y of ŷ)."""
        return ev.backend.add(ev.complement(theta), ev.restrict(inner))

    def step(self, ev: Evaluator, state: ValuePenaltyState) -> tuple[ValuePenaltyState, dict[str, float]]:
        b, sigma = ev.backend, ev.sigma
        rho = Geometric(self.rho, self.gamma, self.rho_cap)(state.k)
        batches, draws = self.draw(ev, state.draws)
        inner = self._merge(ev, state.theta, state.inner)
        smooth_in = ev.problem.constants.phi_smoothness(0.0)
        eta_in = float("nan")
        inner_loop = Loop(self.eta_in, Sgd(), ascent=True, what="inner (lower level)")
        for _ in range(self.inner_steps):
            value, g = ev.lower_value_grad(inner, batches.lower)
            inner, _, eta_in, _ = self.move(
                ev, inner_loop, inner, ev.restrict(b.scale(sigma, g)), None,
                value=sigma * b.item(value), value_fn=lambda x: sigma * b.item(ev.lower_value(x, batches.lower)),
                smoothness=smooth_in, k=state.k,
            )
        v_hat, g_hat = ev.lower_value_grad(inner, batches.lower)
        loss_f, g_f = ev.lower_value_grad(state.theta, batches.lower)
        loss_r, g_r = ev.upper_value_grad(state.theta, batches.upper)
        gap = sigma * (b.item(v_hat) - b.item(loss_f))
        penalty_grad = b.sub(ev.complement(b.scale(sigma, g_hat)), b.scale(sigma, g_f))
        grad_F = b.axpy(rho, penalty_grad, g_r)
        F = b.item(loss_r) + rho * gap
        v_const, x_part = sigma * b.item(v_hat), ev.complement(b.scale(sigma, g_hat))

        def F_at(x: Vec) -> float:  # F with v linearised in x around θ_k (Danskin), as the line search model
            shift = b.item(b.vdot(x_part, b.sub(x, state.theta)))
            return b.item(ev.upper_value(x, batches.upper)) + rho * (v_const + shift - sigma * b.item(ev.lower_value(x, batches.lower)))

        theta, tstate, eta, ok = self.move(
            ev, Loop(self.eta, self.transform, ascent=False, what="value penalty"), state.theta, grad_F,
            state.transform_state, value=F, value_fn=F_at, smoothness=self._smoothness(ev, rho), k=state.k,
        )
        grad_F_norm = b.item(b.norm(grad_F))
        row = {
            "loss_f": b.item(loss_f), "loss_r": b.item(loss_r), "phi": sigma * b.item(loss_f), "F": F,
            "value_gap": gap, "grad_F_norm": grad_F_norm, "grad_phi_norm": b.item(b.norm(ev.restrict(g_f))),
            "grad_f_norm": b.item(b.norm(g_f)), "grad_r_norm": b.item(b.norm(g_r)), "rho": rho,
            "eta_in": eta_in, "eta_out": eta, "line_search_ok": float(ok), "error": grad_F_norm,
        }
        return ValuePenaltyState(theta, state.k + 1, draws, inner, tstate), row

    @staticmethod
    def _smoothness(ev: Evaluator, rho: float) -> float | None:
        c = ev.problem.constants
        if None in (c.L_upper, c.L_lower, c.mu_lower) or not c.mu_lower:
            return None
        return c.L_upper + rho * (c.L_lower + c.L_lower**2 / c.mu_lower)
