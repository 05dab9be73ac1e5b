"""Compute budgets counted in gradient passes, and the stop rule that ends any solver at one.

A **gradient pass** is one forward and one backward pass over one batch. The evaluator counts the oracle
calls it really makes (:class:`~ofmu_theory.oracle_types.CallCounts`), one count per evaluation the objectives
receive: a finite-difference HVP adds the gradients it evaluates (central: two; forward: one, reusing the base
gradient ∇L already computed at θ), the randomised similarity estimator (``sim_pick="random"``) the one HVP it
takes instead of two, a lagged or frozen term none for what it reuses (tests/ofmu_theory/test_pass_counting.py
instruments the objectives of a synthetic family and checks the counts against the calls). Their cost in
passes is fixed here, once, for every domain:

=================  ======  ==============================================================================
oracle             passes  why
=================  ======  ==============================================================================
value (``n_value``)  1/3   a forward pass alone (a backward pass costs about two forwards)
gradient (``n_grad``)  1   forward + backward; a finite-difference HVP counts its gradients here
HVP (``n_hvp``)        2   a gradient pass plus one more backward (or forward-mode) pass through it
third (``n_third``)    4   the derivative of an HVP: twice an HVP (differentiating through ∇Φ_β)
=================  ======  ==============================================================================

Work a method does outside the core (a frozen reference model's forward pass per batch, precomputed
reference scores) is not counted, nor the solver's once-per-run check of θ_0 (one gradient of each level
used, finite and well shaped, before the first step): the budget measures the optimiser's oracle calls, and
wall time is reported beside it.

:class:`PassBudget` is a core callback: it stops a run (``Status.STOPPED``) before the step that would
take it past the budget, whatever the solver's step structure (T inner steps, line searches, HVPs).
:func:`steps_within` gives the number of outer steps of a fixed per-step cost that fit, so a schedule's
horizon can be set to the budget too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ofmu_theory.solvers import StepInfo

#: Passes per oracle call (see the module docstring).
PASS_WEIGHTS: Mapping[str, float] = {"n_value": 1.0 / 3.0, "n_grad": 1.0, "n_hvp": 2.0, "n_third": 4.0}


def passes(counts: Mapping[str, float]) -> float:
    """Gradient passes of the oracle counts ``counts`` (keys ``n_value, n_grad, n_hvp, n_third``; missing: 0)."""
    unknown = sorted(set(counts) - set(PASS_WEIGHTS) - {"wall_s", "k"})
    if unknown and not any(k in counts for k in PASS_WEIGHTS):
        raise ValueError(f"counts has none of {sorted(PASS_WEIGHTS)}; got keys {unknown}")
    return float(sum(w * float(counts.get(k, 0.0)) for k, w in PASS_WEIGHTS.items()))


def result_passes(result: Any) -> float:
    """Gradient passes of a :class:`~ofmu_theory.result.Result` (its cumulative oracle counts)."""
    return passes({k: getattr(result, k) for k in PASS_WEIGHTS})


def trace_passes(trace: Any) -> list[float]:
    """Cumulative gradient passes after each row of a :class:`~ofmu_theory.result.Trace`."""
    if not trace.n_rows:
        return []
    cols = {k: trace[k] for k in PASS_WEIGHTS if k in trace}
    if not cols:
        raise ValueError(f"the trace has none of the count columns {sorted(PASS_WEIGHTS)}")
    return [float(sum(PASS_WEIGHTS[k] * c[i] for k, c in cols.items())) for i in range(trace.n_rows)]


def steps_within(budget: float, per_step: float) -> int:
    """Outer steps of ``per_step`` passes each that fit in ``budget`` passes (at least 1)."""
    if not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget must be a finite number of passes > 0, got budget={budget!r}")
    if not (math.isfinite(per_step) and per_step > 0):
        raise ValueError(f"per_step must be a finite number of passes > 0, got per_step={per_step!r}")
    return max(1, math.floor(budget / per_step + 1e-9))


@dataclass(kw_only=True, eq=False)
class PassBudget:
    """Core callback: stop once the next step would take the run past ``budget`` gradient passes.

    After step k it knows the passes used so far, P_k, and the cost of the last step, c_k = P_k − P_{k−1};
    it stops when P_k ≥ budget or P_k + c_k > budget (the next step, if it costs as much, would not fit).
    A first step that alone exceeds the budget is still taken (the run would otherwise be empty);
    ``exceeded`` then says so.

    Attributes:
        budget: gradient passes allowed (> 0).
        used: passes used by the steps seen so far.
        steps: steps seen.
        stopped: whether this callback ended the run.
        then: an optional further callback (e.g. a utility floor), called first; its True also stops.
    """

    budget: float
    used: float = 0.0
    steps: int = 0
    stopped: bool = False
    then: Any = field(default=None, repr=False)
    _raw: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.budget, bool) or not (isinstance(self.budget, (int, float)) and math.isfinite(self.budget)
                                                  and self.budget > 0):
            raise ValueError(f"budget must be a finite number of passes > 0, got budget={self.budget!r}")

    @property
    def exceeded(self) -> bool:
        """Whether the passes used went past the budget (only possible on the first step)."""
        return self.used > self.budget + 1e-9

    def __call__(self, info: StepInfo) -> bool:
        if self.then is not None and self.then(info):
            return True
        now = passes(info.record)  # cumulative within one solver.run; a new chunk starts again from 0
        last = now - self._raw if now >= self._raw else now
        self._raw = now
        self.used += last
        self.steps += 1
        if self.used >= self.budget - 1e-9 or self.used + last > self.budget + 1e-9:
            self.stopped = True
            return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"budget_passes": self.budget, "passes_used": self.used, "steps": self.steps,
                "stopped_by_budget": self.stopped}


def calibrate(plan: Any) -> float:
    """Gradient passes of the first outer step of ``plan`` (a :class:`~ofmu_theory.plan.Plan`), measured by
    running it: what :func:`steps_within` needs to size a schedule to a budget."""
    one = dataclasses.replace(plan.solver, max_steps=1).run(plan.problem, sampler=plan.sampler)
    per_step = result_passes(one)
    if per_step <= 0:
        raise ValueError(f"the plan's first step made no counted oracle call ({plan.solver.name})")
    return per_step
