"""A run of the core on a model: (problem, solver, sampler) plus the module θ is written back into.

Everything in vision/ that changes weights — training the Original and Retrain models and every
unlearning method — builds a :class:`~ofmu_theory.plan.Plan` and hands it to :func:`execute`, which runs it through the
core and copies the final θ into the module. There is no other optimisation loop here.

Helper shared by the plans: :func:`sgd_momentum` (the SalUn / Unlearn-Sparse optimiser — SGD, momentum 0.9,
weight decay 5e-4 — as a core transform); epochs → outer iterations and the step-size schedules are the
core's (:mod:`ofmu_theory.epochs`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ofmu_theory.plan import Plan, run_chunked  # noqa: F401 (Plan re-exported for the methods)
from ofmu_theory.result import Result
from ofmu_theory.transforms import Momentum

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, eq=False)
class Executed:
    """What :func:`execute` returns: the core's result and the wall time of the solver run."""

    result: Result
    wall_s: float


def execute(plan: Plan, *, progress: bool = False) -> Executed:
    """Run the plan's solver and write its final θ (the last finite iterate if it diverged) into the module."""
    start = time.perf_counter()
    result = run_chunked(plan, progress=progress)
    plan.params.assign(result.theta)
    wall = time.perf_counter() - start
    logger.info("%s on %s: %s after %d steps in %.1f s", plan.solver.name, plan.problem.name,
                result.status.name, result.nit, wall)
    return Executed(result=result, wall_s=wall)


def sgd_momentum(*, momentum: float = 0.9, weight_decay: float = 5e-4) -> Momentum:
    """Heavy-ball SGD exactly as PyTorch's ``SGD(momentum, weight_decay)`` (coupled decay: g + wd·θ), as SalUn trains."""
    return Momentum(momentum=momentum, coupled_weight_decay=weight_decay)
