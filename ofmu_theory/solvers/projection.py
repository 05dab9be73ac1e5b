"""Gradient projection (GRU-style): the forget gradient projected off the retain gradient on conflict."""

from __future__ import annotations

from dataclasses import dataclass, field

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.solvers.base import SOLVERS, Solver
from ofmu_theory.solvers.blur import _no_line_search
from ofmu_theory.solvers.scalarized import DescentState, check_weights
from ofmu_theory.steps import StepRule, as_step_rule
from ofmu_theory.transforms import Sgd, Transform


@SOLVERS.register("projection")
@dataclass(frozen=True, kw_only=True)
class Projection(Solver):
    """θ_{k+1} = Π(θ_k − η(γ_f ĝ_d + λ g_r)), with g_d = −σ∇L_f (forgetting descent gradient) and

    .. math:: ĝ_d = g_d − \\frac{⟨g_d, g_r⟩}{‖g_r‖²} g_r \\ \\text{if}\\ ⟨g_d, g_r⟩ < 0, \\text{ else } g_d.

    ``forget_weight`` = γ_f, ``retain_weight`` = λ. The step error is ‖γ_f ĝ_d + λ g_r‖.
    """

    name = "projection"

    forget_weight: float = 1.0
    retain_weight: float = 1.0
    eta: float | StepRule = 0.1
    transform: Transform = field(default_factory=Sgd)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_weights(forget_weight=self.forget_weight, retain_weight=self.retain_weight)
        object.__setattr__(self, "eta", as_step_rule(self.eta, name="eta"))

    def init(self, ev: Evaluator, theta0: Vec) -> DescentState:
        return DescentState(theta0, 0, 0, self.transform.init(ev.backend, theta0))

    def step(self, ev: Evaluator, state: DescentState) -> tuple[DescentState, dict[str, float]]:
        b = ev.backend
        batches, draws = self.draw(ev, state.draws)
        loss_f, g_f = ev.lower_value_grad(state.theta, batches.lower)
        loss_r, g_r = ev.upper_value_grad(state.theta, batches.upper)
        g_d = b.scale(-ev.sigma, g_f)
        inner, gr2 = b.item(b.vdot(g_d, g_r)), b.item(b.vdot(g_r, g_r))
        conflict = inner < 0 and gr2 > 0
        if conflict:
            g_d = b.axpy(-inner / gr2, g_r, g_d)
        direction = b.axpy(self.forget_weight, g_d, b.scale(self.retain_weight, g_r))
        theta, tstate, eta, _ = self.move(
            ev, state.theta, direction, ascent=False, rule=self.eta, transform=self.transform,
            tstate=state.transform_state, value=0.0, value_fn=_no_line_search, smoothness=None, k=state.k, what="projection",
        )
        nf, nr = b.item(b.norm(g_f)), gr2**0.5
        row = {
            "loss_f": b.item(loss_f), "loss_r": b.item(loss_r), "grad_f_norm": nf, "grad_r_norm": nr,
            "sim": -inner / max(nf * nr, 1e-300), "conflict": float(conflict), "eta_out": eta,
            "error": b.item(b.norm(direction)),
        }
        return DescentState(theta, state.k + 1, draws, tstate), row
