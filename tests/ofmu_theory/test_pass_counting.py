"""The compute budget counts real oracle evaluations: an OFMU run's counted calls (and so its gradient passes,
:func:`ofmu_theory.budget.result_passes`) equal the calls its objectives actually received, for every estimator
of the similarity term, on a synthetic family (the objectives are instrumented, not the formula re-derived)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

import nonconvex  # noqa: F401 - registers the families
from ofmu_theory.budget import PASS_WEIGHTS, result_passes
from ofmu_theory.family import FAMILIES
from ofmu_theory.solvers import OFMU

STEPS = 6
#: Solver.run checks θ_0 once per run (``_check_start``: ∇L_f and ∇L_r there, finite and well shaped) before any
#: step; the budget leaves that check out (the budget module's docstring), so the real count is the counted one + 2.
START_CHECK_GRADS = 2


class Counting:
    """An objective that counts the evaluations it receives (and otherwise is the wrapped one)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = {"n_value": 0, "n_grad": 0, "n_hvp": 0, "n_third": 0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def value(self, *args, **kw):
        self.calls["n_value"] += 1
        return self.inner.value(*args, **kw)

    def value_and_grad(self, *args, **kw):
        self.calls["n_grad"] += 1
        return self.inner.value_and_grad(*args, **kw)

    def hvp(self, *args, **kw):
        self.calls["n_hvp"] += 1
        return self.inner.hvp(*args, **kw)

    def d3(self, *args, **kw):
        self.calls["n_third"] += 1
        return self.inner.d3(*args, **kw)


def _instrumented(name: str = "two_layer_net") -> tuple[Any, Counting, Counting]:
    problem = FAMILIES.get(name).sample(seed=0).problem("numpy")
    lower, upper = Counting(problem.lower), Counting(problem.upper)
    return dataclasses.replace(problem, lower=lower, upper=upper), lower, upper


def _run(**options: Any) -> tuple[Any, dict[str, int]]:
    problem, lower, upper = _instrumented()
    settings = {"beta": 0.1, "sim": "signed", "rho": 1.0, "inner_steps": 1, "eta_in": 1e-3, "eta_out": 1e-3,
                "max_steps": STEPS, "hvp": "fd"}
    result = OFMU(**{**settings, **options}).run(problem)
    real = {k: lower.calls[k] + upper.calls[k] for k in lower.calls}
    return result, real


ESTIMATORS = [dict(zip(("fd_scheme", "sim_pick", "sim_curvature", "sim_lag"), combo, strict=True))
              for combo in itertools.product(("central", "forward"), ("both", "random"), ("full", "frozen"), (1, 2))]


@pytest.mark.parametrize("options", ESTIMATORS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_finite_difference_passes_are_the_gradients_evaluated(options: dict) -> None:
    result, real = _run(**options)
    assert real["n_hvp"] == real["n_third"] == 0  # first order only
    assert result.n_grad == real["n_grad"] - START_CHECK_GRADS and result.n_hvp == 0 and result.n_third == 0
    assert result.n_value == real["n_value"]
    assert result_passes(result) == pytest.approx(real["n_grad"] - START_CHECK_GRADS
                                                  + PASS_WEIGHTS["n_value"] * real["n_value"])


def test_each_estimator_changes_the_gradients_evaluated() -> None:
    """Forward differences, one HVP of two, frozen curvature and the lag each save real gradient evaluations."""
    def grads(**options: Any) -> int:
        return _run(**options)[1]["n_grad"]

    central, forward = grads(fd_scheme="central"), grads(fd_scheme="forward")
    assert forward < central
    for scheme in ("central", "forward"):
        both = grads(fd_scheme=scheme)
        assert grads(fd_scheme=scheme, sim_pick="random") < both
        assert grads(fd_scheme=scheme, sim_curvature="frozen") < both
        assert grads(fd_scheme=scheme, sim_lag=2) < both
    assert grads(fd_scheme="central", beta=0.0) < central  # no similarity term: no HVP inside ∇Φ


@pytest.mark.parametrize("options", [{}, {"sim_pick": "random"}, {"sim_curvature": "frozen"}, {"sim_lag": 2}])
def test_exact_path_counts_the_products_taken(options: dict) -> None:
    """numpy's exact path: every gradient, HVP and third-order product the objectives evaluated is counted."""
    result, real = _run(hvp="exact", **options)
    assert (result.n_grad, result.n_hvp, result.n_value) == (real["n_grad"] - START_CHECK_GRADS, real["n_hvp"],
                                                             real["n_value"])
    assert real["n_hvp"] > 0
    assert result.n_third == real["n_third"] and (real["n_third"] > 0) is (options == {} or options == {
        "sim_pick": "random"})  # D³L products: the full curvature of ∇²Φ_β·w (frozen and lagged drop it)
