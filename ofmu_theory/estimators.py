"""The error of OFMU's cheaper similarity estimators against the exact estimator, along a run.

:func:`estimator_errors` runs an ``ofmu`` solver whose estimator options (``sim_lag``, ``sim_pick``,
``sim_curvature``) differ from the defaults and, at every evaluation the run makes, recomputes the same
quantity with the exact estimator (same θ, same batches, same HVP strategy; not counted as oracle calls):

* ``grad_phi``: ‖∇̂Φ_β − ∇Φ_β‖/‖∇Φ_β‖ at every inner and outer evaluation of ∇Φ_β;
* ``step``: ‖∇̂F_ρ − ∇F_ρ‖/‖∇F_ρ‖ at every outer step (the descent direction before its transform).

The reference uses the run's own HVP strategy, so the numbers isolate the estimator's error from the
strategy's (finite differences are checked against exact HVPs elsewhere: ``checks.compare_hvp_strategies``).
The run follows the estimator's own trajectory, as a user's run would.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator, PenaltyPoint
from ofmu_theory.oracle_types import PhiPoint
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.result import Result
from ofmu_theory.sampler import Batches, Sampler
from ofmu_theory.solvers.ofmu import OFMU


class EstimatorErrors(NamedTuple):
    """Relative errors along one run (``result`` is that run's, counts excluding the reference)."""

    grad_phi: np.ndarray
    step: np.ndarray
    result: Result

    def summary(self) -> dict[str, float]:
        """Mean and max of each error (NaN where there is none)."""
        out: dict[str, float] = {}
        for name in ("grad_phi", "step"):
            x = getattr(self, name)
            out[f"{name}_mean"] = float(np.mean(x)) if x.size else float("nan")
            out[f"{name}_max"] = float(np.max(x)) if x.size else float("nan")
        return out


def relative_error(ev: Evaluator, estimate: Vec, reference: Vec) -> float:
    """‖estimate − reference‖ / ‖reference‖ (0 when both are 0)."""
    b = ev.backend
    num = b.item(b.norm(b.sub(b.detach(estimate), b.detach(reference))))
    den = b.item(b.norm(b.detach(reference)))
    return num / den if den > 0 else (0.0 if num == 0 else float("inf"))


class _Probe:
    """An evaluator that also measures each evaluation against the exact estimator (delegates the rest)."""

    def __init__(self, ev: Evaluator, log: dict[str, list[float]]) -> None:
        self.ev, self.log = ev, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ev, name)

    def _uncounted(self, fn: Any) -> Any:
        saved = dataclasses.replace(self.ev.counts)
        try:
            return fn()
        finally:
            self.ev.counts = saved

    def phi(self, theta: Vec, batches: Batches, **kw: Any) -> PhiPoint:
        point = self.ev.phi(theta, batches, **kw)
        exact = self._uncounted(lambda: self.ev.phi(theta, batches, need_upper=kw.get("need_upper", False)))
        self.log["grad_phi"].append(relative_error(self.ev, point.grad_phi, exact.grad_phi))
        return point

    def penalised(self, theta: Vec, rho: float, batches: Batches, **kw: Any) -> PenaltyPoint:
        pen = self.ev.penalised(theta, rho, batches, **kw)
        exact = self._uncounted(lambda: self.ev.penalised(theta, rho, batches))
        self.log["grad_phi"].append(relative_error(self.ev, pen.point.grad_phi, exact.point.grad_phi))
        self.log["step"].append(relative_error(self.ev, pen.grad_F, exact.grad_F))
        return pen


@dataclass(frozen=True, kw_only=True)
class _Probed(OFMU):
    probe_log: dict[str, list[float]] = field(default_factory=dict, compare=False, repr=False)

    def evaluator(self, problem: BilevelProblem) -> Evaluator:
        return _Probe(super().evaluator(problem), self.probe_log)  # type: ignore[return-value]


def estimator_errors(
    solver: OFMU, problem: BilevelProblem, theta0: Vec | None = None, *, sampler: Sampler | None = None,
) -> EstimatorErrors:
    """Run ``solver`` on ``problem`` and measure its estimator against the exact one at every evaluation."""
    if not isinstance(solver, OFMU):
        raise ValueError(f"solver must be an 'ofmu' solver, got {type(solver).__name__}")
    log: dict[str, list[float]] = {"grad_phi": [], "step": []}
    kwargs = {f.name: getattr(solver, f.name) for f in dataclasses.fields(solver)}
    probed = _Probed(**kwargs, probe_log=log)
    result = probed.run(problem, theta0, sampler=sampler)
    return EstimatorErrors(np.asarray(log["grad_phi"]), np.asarray(log["step"]), result)


__all__ = ["EstimatorErrors", "estimator_errors", "relative_error"]
