"""The penalised minimiser θ_ρ of F_ρ = L_r + ρ‖P∇Φ‖² (β = 0) approaches θ* as ρ grows."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ofmu_theory.family import FAMILIES
from tests.convex.oracles import QUADRATIC, levels, mask_of, minimise, penalised, sample, slope
from tests.strategies import convex_params, rhos, seeds
from tests.support import assert_close

GRID = np.geomspace(1e0, 1e4, 9)
TAIL = GRID >= 1e2


@pytest.mark.parametrize("name", QUADRATIC)
@settings(max_examples=20)
@given(data=st.data(), rho=rhos)
def test_closed_form_theta_rho_is_stationary_for_F_rho_built_from_the_oracles(
    name: str, data: st.DataObject, rho: float
) -> None:
    family = sample(name, seed=data.draw(seeds), **data.draw(convex_params[name]))
    theta = family.penalised_solution(rho)
    penal = penalised(family, rho)
    grad_r = penal.upper.grad(theta)
    # ∇F_ρ = ∇L_r + 2ρ∇²Φ P∇Φ cancels two terms of size ‖∇L_r‖; the solve loses cond(I + 2ρNᵀN)·eps
    scale = (1.0 + np.linalg.norm(grad_r)) * (1.0 + 2.0 * rho * family.constants().L_lower ** 2)
    assert np.linalg.norm(penal.grad(theta)) <= 1e-12 * scale


@pytest.mark.parametrize("name", QUADRATIC)
@settings(max_examples=20)
@given(data=st.data())
def test_distance_to_theta_star_obeys_the_spectral_bound_and_decreases(name: str, data: st.DataObject) -> None:
    """‖θ_ρ − θ*‖ ≤ ‖θ_c − θ*‖/(1 + 2ρν²), ν the smallest nonzero singular value of N = P∇²L_lower."""
    family = sample(name, seed=data.draw(seeds), **data.draw(convex_params[name]))
    theta_star = family.solution()
    n = theta_star.size
    lower, upper = levels(family)
    N = mask_of(family, n)[:, None] * lower.hessian(np.zeros(n))
    sv = np.linalg.svd(N, compute_uv=False)
    k = family.lower_rank()
    assert np.all(sv[k:] <= 1e-12 * sv[0])  # the declared rank is the numerical one
    nu2 = sv[k - 1] ** 2
    # the SVD resolves a singular value to ~eps·‖N‖ absolute: ν down to ~1e-6·‖N‖ keeps ~1e-10 relative
    assert_close(nu2, family.penalty_conditioning(), rtol=1e-8)
    gap = np.linalg.norm(-upper.grad(np.zeros(n)) - theta_star)  # ‖θ_c − θ*‖
    distances = np.array([np.linalg.norm(family.penalised_solution(r) - theta_star) for r in GRID])
    slack = 1e-9 * (1.0 + np.linalg.norm(theta_star))  # round-off of the two solves
    assert np.all(distances <= gap / (1.0 + 2.0 * GRID * nu2) + slack)
    assert np.all(np.diff(distances) <= slack)


@pytest.mark.parametrize("name", QUADRATIC)
@settings(max_examples=10)
@given(seed=seeds, cond=st.floats(1.0, 2.0), dim=st.integers(1, 3))
def test_distance_decays_like_one_over_rho(name: str, seed: int, cond: float, dim: int) -> None:
    """Fitted slope of log‖θ_ρ − θ*‖ over ρ ∈ [1, 1e4] is ≈ −1.

    Spectra are drawn with ν² ≥ 1 (scale 2, cond ≤ 2) so that 2ρν² ≥ 2 on the whole grid: each
    component decays like 1/(1 + 2ρν_i²), whose fitted slope over [1, 1e4] lies in [−1, −0.95].
    """
    params = FAMILIES.get(name).rate_params(dim, cond)
    family = sample(name, seed=seed, **params)
    assert family.penalty_conditioning() >= 1.0 - 1e-12
    theta_star = family.solution()
    distances = np.array([np.linalg.norm(family.penalised_solution(r) - theta_star) for r in GRID])
    assert -1.1 <= slope(GRID, distances) <= -0.9


@pytest.mark.parametrize("name", QUADRATIC)
def test_closed_form_matches_scipy_on_F_rho(name: str) -> None:
    family = sample(name, seed=11)
    penal = penalised(family, 10.0)
    theta = minimise(penal.value, family.theta0(), penal)
    assert_close(theta, family.penalised_solution(10.0), rtol=1e-8, atol=1e-8)


def test_l1_penalised_path_converges_at_rate_one_over_rho() -> None:
    """Constrained F_ρ (min over the ℓ1 ball, a convex QP here) by cvxpy; tail slope over [1e2, 1e4] ≈ −1.

    The quadratic penalty on the linear conditions A_tᵀ(A_tθ − b_t) = 0 with a polyhedral Θ and
    Lagrange multipliers gives ‖θ_ρ − θ*‖ = O(1/ρ) asymptotically; below ρ ≈ 1e2 the curve is still
    bending, hence the tail.
    """
    for seed in (0, 1):
        family = sample("l1_regression", seed=seed)
        theta_star = family.solution()
        theta, rho = cp.Variable(family.d), cp.Parameter(nonneg=True)
        grad_g = family.A_t.T @ (family.A_t @ theta - family.b_t) / family.n_t  # ∇Φ = −∇g
        F = cp.sum_squares(family.A_v @ theta - family.b_v) / (2 * family.n_v) + rho * cp.sum_squares(grad_g)
        problem = cp.Problem(cp.Minimize(F), [cp.norm1(theta) <= family.radius])
        distances = []
        for r in GRID:
            rho.value = r
            problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
            assert problem.status == cp.OPTIMAL
            distances.append(np.linalg.norm(theta.value - theta_star))
        distances = np.array(distances)
        assert np.all(np.diff(distances) < 0)
        assert -1.1 <= slope(GRID[TAIL], distances[TAIL]) <= -0.9


def test_logistic_penalised_path_converges_at_rate_one_over_rho() -> None:
    """F_ρ minimised by scipy trust-exact with the exact Hessian built from the numpy oracles (d3 included),
    continued from θ* downwards in ρ. The forget conditions σ(X_fθ) = p are regular (X_f full row rank),
    so ‖θ_ρ − θ*‖ = O(1/ρ) asymptotically; tail slope over [1e2, 1e4] ≈ −1."""
    for seed in (0, 1):
        family = sample("logistic_forget", seed=seed)
        theta_star = family.solution()
        start, distances = theta_star, []
        for r in GRID[::-1]:
            penal = penalised(family, r)
            theta = minimise(penal.value, start, penal)
            distance = np.linalg.norm(theta - theta_star)
            # F_ρ is ≈ λ-strongly convex near θ*: ‖∇F_ρ‖/λ bounds the solve error; keep it under 0.1 % of the distance
            assert np.linalg.norm(penal.grad(theta)) / family.lam <= 1e-3 * distance
            distances.append(distance)
            start = theta
        distances = np.array(distances[::-1])
        assert np.all(np.diff(distances) < 0)
        assert -1.1 <= slope(GRID[TAIL], distances[TAIL]) <= -0.9
