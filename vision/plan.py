"""A run of the core on a model: (problem, solver, sampler) plus the module θ is written back into.

Everything in vision/ that changes weights — training the Original and Retrain models and every
unlearning method — builds a :class:`~ofmu_theory.plan.Plan` and hands it to :func:`execute`, which runs it through the
core and copies the final θ into the module. There is no other optimisation loop here.

Helpers shared by the plans: :func:`steps_for` (epochs → outer iterations) and :func:`sgd_momentum`
(the SalUn / Unlearn-Sparse optimiser — SGD, momentum 0.9, weight decay 5e-4 — as a core step rule
and transform).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from ofmu_theory.plan import Plan, run_chunked  # noqa: F401 (Plan re-exported for the methods)
from ofmu_theory.result import Result
from ofmu_theory.schedules import ConstantSchedule, Cosine
from ofmu_theory.steps import Scheduled, StepRule
from ofmu_theory.transforms import Momentum

logger = logging.getLogger(__name__)

LR_SCHEDULES = ("cosine", "constant")


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


def steps_for(*, epochs: float, n_rows: int, batch_size: int) -> int:
    """Outer iterations for ``epochs`` passes over ``n_rows`` rows in batches of ``batch_size`` (≥ 1).

    Raises:
        ValueError: non-positive ``epochs``, ``n_rows`` or ``batch_size``.
    """
    if not (math.isfinite(epochs) and epochs > 0):
        raise ValueError(f"epochs must be a finite number > 0, got {epochs=}")
    if n_rows < 1 or batch_size < 1:
        raise ValueError(f"n_rows and batch_size must be >= 1, got {n_rows=}, {batch_size=}")
    return max(1, round(epochs * math.ceil(n_rows / batch_size)))


def lr_rule(lr: float, *, steps: int, schedule: str = "cosine") -> StepRule:
    """η_k: ``"cosine"`` from ``lr`` to 0 over ``steps`` (torch's CosineAnnealingLR) or ``"constant"``."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"schedule must be one of {LR_SCHEDULES}, got {schedule=}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr=}")
    if schedule == "constant":
        return Scheduled(ConstantSchedule(lr))
    # Cosine reaches 0 at k = steps; the last step taken is k = steps - 1 (> 0 for steps >= 1).
    return Scheduled(Cosine(start=lr, steps=steps))


def sgd_momentum(*, momentum: float = 0.9, weight_decay: float = 5e-4) -> Momentum:
    """Heavy-ball SGD exactly as PyTorch's ``SGD(momentum, weight_decay)`` (coupled decay: g + wd·θ), as SalUn trains."""
    return Momentum(momentum=momentum, coupled_weight_decay=weight_decay)
