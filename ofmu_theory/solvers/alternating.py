"""Alternating max/min steps without a penalty (SCRUB's schedule of Kurmanji et al. 2023)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.solvers.base import SOLVERS, Loop, Solver
from ofmu_theory.states import STATES
from ofmu_theory.steps import StepRule, as_step_rule
from ofmu_theory.transforms import Sgd, Transform


@STATES.register("alternating_state")
class AlternatingState(NamedTuple):
    theta: Vec
    k: int
    draws: int
    inner_state: Any
    outer_state: Any


@SOLVERS.register("alternating")
@dataclass(frozen=True, kw_only=True)
class Alternating(Solver):
    """Per outer iteration: T ascent steps on σL_f ("max-steps", while k < ``ascent_until``),
    then S descent steps on L_r ("min-steps").

    ``inner_steps`` = T, ``outer_steps`` = S, ``eta_in`` / ``eta_out`` their step sizes. This is
    OFMU's two-loop structure with β = 0 and no penalty (ρ = 0). The step error is ‖∇L_r‖ at
    the last min-step.
    """

    name = "alternating"

    inner_steps: int = 1
    outer_steps: int = 1
    ascent_until: int | None = None
    eta_in: float | StepRule = 0.1
    eta_out: float | StepRule = 0.1
    transform_in: Transform = field(default_factory=Sgd)
    transform_out: Transform = field(default_factory=Sgd)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("inner_steps", "outer_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {name}={value!r}")
        if self.inner_steps + self.outer_steps == 0:
            raise ValueError("inner_steps + outer_steps must be > 0")
        object.__setattr__(self, "eta_in", as_step_rule(self.eta_in, name="eta_in"))
        object.__setattr__(self, "eta_out", as_step_rule(self.eta_out, name="eta_out"))

    def init(self, ev: Evaluator, theta0: Vec) -> AlternatingState:
        b = ev.backend
        return AlternatingState(theta0, 0, 0, self.transform_in.init(b, theta0), self.transform_out.init(b, theta0))

    def step(self, ev: Evaluator, state: AlternatingState) -> tuple[AlternatingState, dict[str, float]]:
        b, sigma, c = ev.backend, ev.sigma, ev.problem.constants
        theta, draws, in_state, out_state = state.theta, state.draws, state.inner_state, state.outer_state
        row: dict[str, float] = {}
        max_loop = Loop(self.eta_in, self.transform_in, ascent=True, what="max-step")
        min_loop = Loop(self.eta_out, self.transform_out, ascent=False, what="min-step")
        ascend = self.ascent_until is None or state.k < self.ascent_until
        for _ in range(self.inner_steps if ascend else 0):
            batches, draws = self.draw(ev, draws)
            loss_f, g_f = ev.lower_value_grad(theta, batches.lower)
            theta, in_state, row["eta_in"], _ = self.move(
                ev, max_loop, theta, ev.restrict(b.scale(sigma, g_f)), in_state, value=sigma * b.item(loss_f),
                value_fn=lambda x, bt=batches: sigma * b.item(ev.lower_value(x, bt.lower)),
                smoothness=c.L_lower, k=state.k,
            )
            row.update(loss_f=b.item(loss_f), grad_f_norm=b.item(b.norm(g_f)))
        error = 0.0
        for _ in range(self.outer_steps):
            batches, draws = self.draw(ev, draws)
            loss_r, g_r = ev.upper_value_grad(theta, batches.upper)
            theta, out_state, row["eta_out"], _ = self.move(
                ev, min_loop, theta, g_r, out_state,
                value=b.item(loss_r), value_fn=lambda x, bt=batches: b.item(ev.upper_value(x, bt.upper)),
                smoothness=c.L_upper, k=state.k,
            )
            error = b.item(b.norm(g_r))
            row.update(loss_r=b.item(loss_r), grad_r_norm=error)
        row["error"] = error if self.outer_steps else float("inf")
        return AlternatingState(theta, state.k + 1, draws, in_state, out_state), row
