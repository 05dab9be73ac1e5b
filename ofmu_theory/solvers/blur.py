"""BLUR (Reisizadeh et al. 2025): the forget gradient corrected toward the retain gradient."""

from __future__ import annotations

from dataclasses import dataclass, field

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.solvers.base import SOLVERS, Solver
from ofmu_theory.solvers.scalarized import DescentState
from ofmu_theory.steps import StepRule, as_step_rule
from ofmu_theory.transforms import Sgd, Transform


@SOLVERS.register("blur")
@dataclass(frozen=True, kw_only=True)
class Blur(Solver):
    """θ_{k+1} = Π(θ_k − η g),  g = g_r + (γ − ⟨g_r, g_d⟩/‖g_d‖²) g_d.

    g_d = −σ∇L_f is the gradient of the loss minimised for forgetting (−NLL on D_f), g_r = ∇L_r,
    ``gamma`` = γ (BLUR's forget weight; γ = 1 by default). With g_d = 0, g = g_r.
    The update is not the gradient of one function, so only constant steps apply.
    The step error is ‖g‖.
    """

    name = "blur"

    gamma: float = 1.0
    eta: float | StepRule = 0.1
    transform: Transform = field(default_factory=Sgd)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got gamma={self.gamma!r}")
        object.__setattr__(self, "eta", as_step_rule(self.eta, name="eta"))

    def init(self, ev: Evaluator, theta0: Vec) -> DescentState:
        return DescentState(theta0, 0, 0, self.transform.init(ev.backend, theta0))

    def step(self, ev: Evaluator, state: DescentState) -> tuple[DescentState, dict[str, float]]:
        b = ev.backend
        batches, draws = self.draw(ev, state.draws)
        loss_f, g_f = ev.lower_value_grad(state.theta, batches.lower)
        loss_r, g_r = ev.upper_value_grad(state.theta, batches.upper)
        g_d = b.scale(-ev.sigma, g_f)
        gd2 = b.item(b.vdot(g_d, g_d))
        inner = b.item(b.vdot(g_r, g_d))
        g = g_r if gd2 == 0.0 else b.axpy(self.gamma - inner / gd2, g_d, g_r)
        theta, tstate, eta, ok = self.move(
            ev, state.theta, g, ascent=False, rule=self.eta, transform=self.transform, tstate=state.transform_state,
            value=0.0, value_fn=_no_line_search, smoothness=None, k=state.k, what="blur",
        )
        nf, nr = gd2**0.5, b.item(b.norm(g_r))
        row = {
            "loss_f": b.item(loss_f), "loss_r": b.item(loss_r), "grad_f_norm": nf, "grad_r_norm": nr,
            "sim": -inner / max(nf * nr, 1e-300), "eta_out": eta, "error": b.item(b.norm(g)),
        }
        return DescentState(theta, state.k + 1, draws, tstate), row


def _no_line_search(theta: Vec) -> float:
    raise ValueError("this solver's update is not the gradient of one objective: use a constant step size")
