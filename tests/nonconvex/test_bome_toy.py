"""bome_toy: (1, 1, 1) solves the bilevel problem; the lower solution set is a line."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.nonconvex.oracles import hessian, oracles, sample
from tests.support import assert_close

FAMILY = sample("bome_toy")
LOWER, UPPER = (oracles(obj, "numpy") for obj in FAMILY.objectives())
BLOCK = FAMILY.block()  # θ = (w, x₁, x₂), block = (0, 1, 1)
reals = st.floats(-10.0, 10.0)


def test_solution_satisfies_the_bilevel_optimality_conditions() -> None:
    """Lower: ∇_y g = 0 and g(w, ·) is convex, so (x₁, x₂) ∈ S(w). Upper: ∇f = 0 at θ*, hence
    ∇f + λ∇(x₁ − w) = 0 with λ = 0 for the value-function constraint x₁ = w, and f(θ*) = 0 ≤ f."""
    theta = FAMILY.solution()
    assert_close(theta, [1.0, 1.0, 1.0])
    assert_close(BLOCK * LOWER.grad(theta), np.zeros(3), atol=0.0)
    lower_yy = hessian(lambda v: BLOCK * LOWER.hvp(theta, BLOCK * v), 3)
    assert np.linalg.eigvalsh(lower_yy).min() >= 0.0
    assert_close(UPPER.grad(theta), np.zeros(3), atol=0.0)
    assert UPPER.value(theta) == 0.0


@settings(max_examples=25)
@given(reals, reals, reals)
def test_lower_solution_set_is_a_line_and_phi_is_minimised_at_one(w: float, x2: float, x1: float) -> None:
    """g(w, w, x₂) = −w²/2 ≤ g(w, x₁, x₂) for every x₂ (non-singleton S(w)); the optimistic
    hyper-objective φ(w) = min over S(w) of f = ½(w − 1)² is ≥ 0 = φ(1)."""
    on = FAMILY.lower_solution_set(w, x2)
    assert_close(LOWER.value(on), -0.5 * w**2, atol=1e-12)
    assert LOWER.value(np.array([w, x1, x2])) >= LOWER.value(on) - 1e-12
    assert UPPER.value(on) >= FAMILY.hyper_objective(w) - 1e-12
    assert_close(UPPER.value(FAMILY.lower_solution_set(w, w)), FAMILY.hyper_objective(w), atol=1e-12)
    assert FAMILY.hyper_objective(w) >= FAMILY.hyper_objective(1.0) == 0.0


@settings(max_examples=10)
@given(st.floats(1e-3, 1e3))
def test_penalised_solution_is_stationary(rho: float) -> None:
    """∇F_ρ = ∇f + 2ρ∇²g P∇g (β = 0) vanishes at θ_ρ = (1, 1, 1)."""
    theta = FAMILY.penalised_solution(rho)
    grad_f = UPPER.grad(theta) + 2 * rho * LOWER.hvp(theta, BLOCK * LOWER.grad(theta))
    assert_close(grad_f, np.zeros(3), atol=0.0)


def test_lower_level_is_jointly_non_convex_and_constants_are_exact() -> None:
    """∇²g over θ has eigenvalues (1 ± √5)/2 (both signs) and 0; ∇²f has 0, 1, 2."""
    theta = FAMILY.theta0()
    c = FAMILY.constants()
    lower_eig = np.linalg.eigvalsh(hessian(lambda v: LOWER.hvp(theta, v), 3))
    upper_eig = np.linalg.eigvalsh(hessian(lambda v: UPPER.hvp(theta, v), 3))
    assert_close(lower_eig, [(1 - np.sqrt(5)) / 2, 0.0, (1 + np.sqrt(5)) / 2], atol=1e-15)
    assert_close(upper_eig, [0.0, 1.0, 2.0], atol=1e-15)
    assert_close(np.abs(lower_eig).max(), c.L_lower)
    assert_close(upper_eig.max(), c.L_upper)


@settings(max_examples=25)
@given(reals, reals, reals)
def test_pl_constants(w: float, x1: float, x2: float) -> None:
    """g − min_y g = ½‖∇_y g‖² (μ_lower = 1) and ‖∇f‖² ≥ 2(f − 0) (μ_upper = 1)."""
    theta = np.array([w, x1, x2])
    gap = LOWER.value(theta) - LOWER.value(FAMILY.lower_solution_set(w, x2))
    assert_close(gap, 0.5 * np.sum((BLOCK * LOWER.grad(theta)) ** 2) / FAMILY.constants().mu_lower, atol=1e-9)
    assert np.sum(UPPER.grad(theta) ** 2) >= 2 * FAMILY.constants().mu_upper * UPPER.value(theta) - 1e-9
