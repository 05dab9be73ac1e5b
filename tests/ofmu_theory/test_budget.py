"""Gradient-pass budgets: the pass count and the stop rule on a real solver run."""

import dataclasses

import numpy as np
import pytest

from ofmu_theory.budget import PASS_WEIGHTS, PassBudget, calibrate, passes, result_passes, steps_within, trace_passes
from ofmu_theory.plan import Plan, run_chunked
from ofmu_theory.solvers import SOLVERS
from tests.ofmu_theory.problems import poly_problem


def small_problem():
    return poly_problem(0, 4, "numpy")


def test_pass_weights():
    assert passes({"n_value": 3, "n_grad": 2, "n_hvp": 1, "n_third": 1}) == pytest.approx(1 + 2 + 2 + 4)
    assert PASS_WEIGHTS["n_grad"] == 1.0
    with pytest.raises(ValueError, match="none of"):
        passes({"loss": 1.0})


def test_steps_within():
    assert steps_within(50, 2) == 25
    assert steps_within(50, 12) == 4
    assert steps_within(5, 12) == 1
    with pytest.raises(ValueError, match="budget"):
        steps_within(0, 1)


@pytest.mark.parametrize("solver", [
    SOLVERS.get("scalarized")(max_steps=1000),
    SOLVERS.get("ofmu")(max_steps=1000, inner_steps=3, beta=0.1, hvp="fd"),
    SOLVERS.get("ofmu")(max_steps=1000, inner_steps=1, beta=0.1, hvp="exact"),
])
def test_every_solver_stops_at_the_budget(solver):
    problem = small_problem()
    per_step = calibrate(Plan(problem=problem, solver=solver))
    budget = PassBudget(budget=10.5 * per_step)
    result = solver.run(problem, callback=budget)
    assert result.status.name == "STOPPED" and budget.stopped
    assert result.nit == 10  # 10 steps fit, the 11th would not
    assert result_passes(result) == pytest.approx(10 * per_step) == pytest.approx(budget.used)
    assert result_passes(result) <= budget.budget
    assert trace_passes(result.trace)[-1] == pytest.approx(result_passes(result))


def test_budget_spans_chunks():
    problem = small_problem()
    solver = SOLVERS.get("scalarized")(max_steps=100)
    per_step = calibrate(Plan(problem=problem, solver=solver))
    whole = PassBudget(budget=7 * per_step)
    chunked = PassBudget(budget=7 * per_step)
    a = run_chunked(Plan(problem=problem, solver=solver), callback=whole)
    b = run_chunked(Plan(problem=problem, solver=solver), every=3, callback=chunked)
    assert a.nit == b.nit == 7
    assert np.allclose(np.asarray(a.theta), np.asarray(b.theta))


def test_first_step_over_budget_is_taken_and_flagged():
    problem = small_problem()
    solver = SOLVERS.get("scalarized")(max_steps=100)
    budget = PassBudget(budget=0.5)
    result = solver.run(problem, callback=budget)
    assert result.nit == 1 and budget.exceeded


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="budget"):
        PassBudget(budget=0)
    with pytest.raises(ValueError, match="budget"):
        PassBudget(budget=True)


def test_then_callback_is_honoured():
    problem = small_problem()
    solver = SOLVERS.get("scalarized")(max_steps=100)
    budget = PassBudget(budget=1e9, then=lambda info: info.k >= 2)
    assert solver.run(problem, callback=budget).nit == 3
    assert not dataclasses.asdict(budget)["stopped"]
