"""Every solver runs on every family, in both backends (a few steps; finite, not diverged).

Small constant steps (Armijo line searches are exercised in tests/ofmu_theory; here the point is
that every oracle path — blocks, constraints, mini-batch-capable objectives, third-order products —
works for every solver).
"""

from __future__ import annotations

import pytest

import convex  # noqa: F401
import nonconvex  # noqa: F401
from ofmu_theory import FAMILIES, SOLVERS

STEP_FIELDS = ("eta", "eta_in", "eta_out")


def _solver(name: str):
    cls = SOLVERS.get(name)
    return cls(max_steps=2, **{k: 1e-3 for k in STEP_FIELDS if k in cls.__dataclass_fields__})


@pytest.mark.parametrize("family", FAMILIES.names())
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_every_solver_runs_on_every_family(family: str, backend: str) -> None:
    problem = FAMILIES.get(family).sample(seed=0).problem(backend)
    for name in SOLVERS.names():
        result = _solver(name).run(problem)
        assert result.success, f"{name} on {family} [{backend}]: {result.message}"
        assert problem.backend.isfinite(result.theta)
        assert result.nit >= 1 and result.n_grad > 0
