"""Diagnostics: do the HVP strategies agree on a given problem?

Exact second- and third-order products rely on every kernel in the model having correct higher
derivatives, which autograd cannot guarantee (e.g. fused attention kernels without a double
backward, or a normalisation layer whose third derivative is wrong). ``compare_hvp_strategies``
evaluates ∇F_ρ with each strategy at one point so a user can check before a long run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.sampler import Batches


def compare_hvp_strategies(
    problem: BilevelProblem,
    *,
    theta: Vec | None = None,
    beta: float = 0.0,
    sim: str = "none",
    rho: float = 1.0,
    batches: Batches = Batches(None, None),
    strategies: Sequence[str] = ("exact", "fd"),
    fd_eps: float | None = None,
) -> dict[str, float]:
    """Relative differences ‖∇F(s) − ∇F(ref)‖/‖∇F(ref)‖ against the first strategy in ``strategies``.

    A large difference between "exact" and "fd" (beyond the finite-difference error, ~1e-5 in
    float64) means one of the model's kernels has wrong higher derivatives: use hvp="fd".
    """
    if len(strategies) < 2:
        raise ValueError(f"need at least two strategies to compare, got {list(strategies)}")
    theta = problem.theta0 if theta is None else problem.check_like(theta, name="theta")
    grads = {}
    for name in strategies:
        ev = Evaluator(problem, beta=beta, sim=sim, hvp=name, fd_eps=fd_eps)
        grads[name] = problem.backend.to_numpy(ev.penalised(theta, rho, batches).grad_F)
    ref = grads[strategies[0]]
    scale = max(float(np.linalg.norm(ref)), np.finfo(np.float64).tiny)
    return {name: float(np.linalg.norm(g - ref)) / scale for name, g in grads.items() if name != strategies[0]}
