"""The solver protocol: hyper-parameters in a frozen dataclass, ``init`` and ``step``; ``run`` is shared.

Solvers differ only in ``step``. ``run`` owns the loop: sampling, the trace, oracle counts,
divergence handling (a non-finite value or iterate ends the run with ``Status.DIVERGED`` and the
last finite iterate), the callback and the stopping test ``error <= tol``.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.registry import Registry
from ofmu_theory.result import MESSAGES, Result, Status, Trace
from ofmu_theory.runinfo import progress as progress_bar
from ofmu_theory.sampler import Batches, FullBatch, MiniBatch, Sampler
from ofmu_theory.steps import Line, StepRule
from ofmu_theory.transforms import Transform

SOLVERS: Registry[type[Solver]] = Registry("solver")

DIVERGENCE_KEYS = ("loss_f", "loss_r", "phi", "F", "objective", "value_gap", "grad_phi_norm", "grad_F_norm", "error")
"""Trace entries whose non-finiteness means the run diverged (diagnostics such as ``hvp_ratio`` may be
NaN where undefined, e.g. a Hessian-vector product with the zero vector on the lower-level solution set)."""


class Loop(NamedTuple):
    """How one loop of a solver moves θ, bundled once: its step-size rule η, the transform of its gradient,
    its direction (ascent on the lower level, descent on the upper) and its name in messages."""

    rule: StepRule
    transform: Transform
    ascent: bool
    what: str


class StepInfo(NamedTuple):
    """What the callback sees after step k: the new iterate, the step's trace row and the full
    solver state (pass ``state`` to ``run(init_state=...)`` to resume from here: checkpoints)."""

    k: int
    theta: Vec
    record: dict[str, float]
    state: Any = None


Callback = Callable[[StepInfo], bool | None]


@dataclass(frozen=True, kw_only=True)
class HvpOptions:
    """How every second-order product is taken (:mod:`ofmu_theory.hvp`; every solver has these options).

    Attributes:
        hvp: HVP strategy name ("exact", "fd", "fwd_rev").
        fd_eps, fd_scheme: finite-difference options (used with hvp="fd"; fd_eps None: a dtype-scaled step).
    """

    hvp: str = "exact"
    fd_eps: float | None = None
    fd_scheme: str = "central"


@dataclass(frozen=True, kw_only=True)
class Solver(HvpOptions, ABC):
    """Shared hyper-parameters (and :class:`HvpOptions`).

    Attributes:
        max_steps: number of outer iterations K.
        tol: stop when the step's error (solver-specific, e.g. ‖∇F_ρ‖) is ≤ tol (0: never).
        update_mask: optional 0/1 vector; coordinates where it is 0 never move (SalUn-style).
    """

    name: ClassVar[str] = ""

    max_steps: int = 100
    tol: float = 0.0
    update_mask: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.max_steps, int) or self.max_steps < 0:
            raise ValueError(f"max_steps must be an int >= 0, got max_steps={self.max_steps!r}")
        if not (math.isfinite(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be a finite number >= 0, got tol={self.tol!r}")

    # --- to be provided by each solver ----------------------------------------------------
    def evaluator(self, problem: BilevelProblem) -> Evaluator:
        """The oracle bundle (solvers with a similarity term override the defaults)."""
        return Evaluator(problem, hvp=self.hvp, fd_eps=self.fd_eps, fd_scheme=self.fd_scheme)

    @abstractmethod
    def init(self, ev: Evaluator, theta0: Vec) -> Any:
        """The initial state (a NamedTuple with at least ``theta``, ``k`` and ``draws``)."""

    @abstractmethod
    def step(self, ev: Evaluator, state: Any) -> tuple[Any, dict[str, float]]:
        """One outer iteration: (new state, trace row with at least ``error``)."""

    def levels(self) -> tuple[bool, bool]:
        """Which objectives the solver evaluates: (lower, upper). Unused ones are not checked at θ_0."""
        return True, True

    # --- shared machinery -----------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """Every hyper-parameter, serialised (step rules, transforms and schedules as dicts)."""
        out: dict[str, Any] = {"solver": self.name}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "update_mask":
                value = None if value is None else "mask"
            elif hasattr(value, "to_dict"):
                value = value.to_dict()
            out[f.name] = value
        return out

    def run(
        self,
        problem: BilevelProblem,
        theta0: Vec | None = None,
        *,
        sampler: Sampler | None = None,
        callback: Callback | None = None,
        init_state: Any = None,
        record_iterates: bool = False,
        progress: bool = False,
    ) -> Result:
        """Run up to ``max_steps`` outer iterations from θ_0 (or resume from ``init_state``)."""
        ev = self.evaluator(problem)
        ev.sampler = sampler or FullBatch()
        _check_sampler(problem, ev.sampler)
        b = problem.backend
        if init_state is None:
            theta0 = problem.check_like(problem.theta0 if theta0 is None else theta0, name="theta0")
            _check_start(problem, theta0, ev.sampler.draw(0), self.levels())
            state = self.init(ev, b.copy(theta0))
        else:
            state = init_state
            problem.check_like(state.theta, name="init_state.theta")
        if self.update_mask is not None:
            problem.check_like(self.update_mask, name="update_mask")
        rows: list[dict[str, float]] = []
        iterates = [b.to_numpy(state.theta)] if record_iterates else None
        status, nit, start = Status.MAX_STEPS, 0, time.perf_counter()
        for _ in progress_bar(range(state.k, self.max_steps), desc=self.name, enabled=progress):
            new_state, row = self.step(ev, state)
            row = {"k": float(state.k), **row, **ev.counts.as_dict(), "wall_s": time.perf_counter() - start}
            rows.append(row)
            if not all(math.isfinite(row[k]) for k in DIVERGENCE_KEYS if k in row) or not b.isfinite(new_state.theta):
                status = Status.DIVERGED
                break
            state, nit = new_state, nit + 1
            if iterates is not None:
                iterates.append(b.to_numpy(state.theta))
            if callback is not None and callback(StepInfo(state.k - 1, state.theta, row, state)):
                status = Status.STOPPED
                break
            if row["error"] <= self.tol:
                status = Status.CONVERGED
                break
        options = {
            **self.options(),
            "problem": problem.name,
            "backend": b.name,
            "sense": problem.sense,
            "sampler": ev.sampler.to_dict(),
            "hvp_strategy": ev.strategy.to_dict(),
        }
        counts = ev.counts
        return Result(
            theta=state.theta,
            success=status is not Status.DIVERGED,
            status=status,
            message=MESSAGES[status],
            nit=nit,
            n_value=counts.value,
            n_grad=counts.grad,
            n_hvp=counts.hvp,
            n_third=counts.third,
            wall_s=time.perf_counter() - start,
            trace=Trace.from_rows(rows),
            options=options,
            iterates=None if iterates is None else np.asarray(iterates),
            state=state,
        )

    # --- helpers for steps ----------------------------------------------------------------
    @staticmethod
    def draw(ev: Evaluator, draws: int) -> tuple[Batches, int]:
        """The batches of the next evaluation and the incremented draw counter."""
        return ev.sampler.draw(draws), draws + 1

    def move(
        self,
        ev: Evaluator,
        loop: Loop,
        theta: Vec,
        grad: Vec,
        tstate: Any,
        *,
        value: float,
        value_fn: Callable[[Vec], float],
        smoothness: float | None,
        k: int = 0,
    ) -> tuple[Vec, Any, float, bool]:
        """One projected step θ ± η·u of ``loop`` along the transformed gradient u, η chosen by its rule.

        The line search minimises m = −(value) for ascent and m = value for descent; in both
        cases its slope along the motion is −⟨grad, u⟩. Returns (θ_new, transform state, η, accepted).
        """
        rule, transform, ascent, what = loop
        b = ev.backend
        u, tstate = transform.update(b, b.detach(grad), tstate, theta)
        sign = 1.0 if ascent else -1.0
        decay = transform.weight_decay

        def point(eta: float) -> Vec:
            if self.update_mask is None:  # θ ± η·u − η·wd·θ in one fused update
                return ev.project(b.axpby(sign * eta, u, 1.0 - eta * decay, theta) if decay
                                  else b.axpy(sign * eta, u, theta))
            delta = b.scale(sign * eta, u)
            if decay:
                delta = b.axpy(-eta * decay, theta, delta)
            return ev.project(b.add(theta, b.mul(delta, self.update_mask)))

        line = Line(
            f0=-sign * value,
            slope=-b.item(b.vdot(grad, u)) if rule.uses_slope else math.nan,
            value_at=lambda eta: -sign * value_fn(point(eta)),
            smoothness=smoothness,
            what=what,
            k=k,
        )
        choice = rule(line)
        return point(choice.eta), tstate, choice.eta, choice.accepted


def _check_sampler(problem: BilevelProblem, sampler: Sampler) -> None:
    if not isinstance(sampler, MiniBatch):
        return
    for side, objective, n in (("lower", problem.lower, sampler.n_lower), ("upper", problem.upper, sampler.n_upper)):
        batch = sampler.batch_lower if side == "lower" else sampler.batch_upper
        if batch is None:
            continue
        if objective.n_rows is None:
            raise ValueError(f"the {side} objective of {problem.name!r} has no data rows: it cannot be mini-batched")
        if objective.n_rows != n:
            raise ValueError(f"sampler n_{side}={n} does not match the {side} objective's {objective.n_rows} rows")


def _check_start(problem: BilevelProblem, theta0: Vec, batches: Batches, levels: tuple[bool, bool]) -> None:
    """Clear errors for a bad start: non-finite θ_0, values or gradients, mis-shaped gradients."""
    b = problem.backend
    if not b.isfinite(theta0):
        raise ValueError("theta0 has non-finite entries")
    sides = (("lower", problem.lower, batches.lower), ("upper", problem.upper, batches.upper))
    for (side, objective, batch), used in zip(sides, levels, strict=True):
        if not used:
            continue
        value, grad = objective.value_and_grad(theta0, batch)
        problem.check_like(grad, name=f"the {side} objective's gradient")
        if not math.isfinite(b.item(value)):
            raise ValueError(f"the {side} objective's value is non-finite at theta0: {b.item(value)}")
        if not b.isfinite(grad):
            raise ValueError(f"the {side} objective's gradient is non-finite at theta0")
