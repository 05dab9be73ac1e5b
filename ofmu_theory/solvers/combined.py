"""First-order solvers that step along a combination of the forget and retain gradients (BLUR, projection)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field

from ofmu_theory.backends import Backend, Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.solvers.base import Loop, Solver
from ofmu_theory.solvers.scalarized import DescentState
from ofmu_theory.steps import StepRule, as_step_rule
from ofmu_theory.transforms import Sgd, Transform


def _no_line_search(theta: Vec) -> float:
    raise ValueError("this solver's update is not the gradient of one objective: use a constant step size")


@dataclass(frozen=True)
class GradientPair:
    """g_d = −σ∇L_f (the descent gradient of forgetting), g_r = ∇L_r, and their inner products."""

    g_d: Vec
    g_r: Vec
    inner: float  # ⟨g_d, g_r⟩
    gd2: float  # ‖g_d‖²
    gr2: float  # ‖g_r‖²


@dataclass(frozen=True, kw_only=True)
class CombinedGradient(Solver):
    """θ_{k+1} = Π(θ_k − η·T(g)) with g = :meth:`combine` (g_d, g_r) on one forget and one retain batch.

    The update is not the gradient of one function, so only constant or scheduled steps apply (Armijo
    raises). Trace: the losses, ‖∇L_f‖, ‖∇L_r‖, Sim = cos(∇L_f, ∇L_r), η, the subclass's entries, and
    error = ‖g‖.
    """

    eta: float | StepRule = 0.1
    transform: Transform = field(default_factory=Sgd)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "eta", as_step_rule(self.eta, name="eta"))

    @abstractmethod
    def combine(self, b: Backend, pair: GradientPair) -> tuple[Vec, dict[str, float]]:
        """The step direction g and extra trace entries."""

    def init(self, ev: Evaluator, theta0: Vec) -> DescentState:
        return DescentState(theta0, 0, 0, self.transform.init(ev.backend, theta0))

    def step(self, ev: Evaluator, state: DescentState) -> tuple[DescentState, dict[str, float]]:
        b = ev.backend
        batches, draws = self.draw(ev, state.draws)
        loss_f, g_f = ev.lower_value_grad(state.theta, batches.lower)
        loss_r, g_r = ev.upper_value_grad(state.theta, batches.upper)
        g_d = b.scale(-ev.sigma, g_f)
        pair = GradientPair(g_d, g_r, b.item(b.vdot(g_d, g_r)), b.item(b.vdot(g_d, g_d)), b.item(b.vdot(g_r, g_r)))
        direction, extra = self.combine(b, pair)
        theta, tstate, eta, _ = self.move(
            ev, Loop(self.eta, self.transform, ascent=False, what=self.name), state.theta, direction,
            state.transform_state, value=0.0, value_fn=_no_line_search, smoothness=None, k=state.k,
        )
        nf, nr = pair.gd2**0.5, pair.gr2**0.5
        row = {
            "loss_f": b.item(loss_f), "loss_r": b.item(loss_r), "grad_f_norm": nf, "grad_r_norm": nr,
            "sim": -pair.inner / max(nf * nr, 1e-300), **extra, "eta_out": eta, "error": b.item(b.norm(direction)),
        }
        return DescentState(theta, state.k + 1, draws, tstate), row
