"""Exact references: closed forms against an oracle-built projection and independent cvxpy solves."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logit

from convex._losses import logistic
from tests.convex.oracles import QUADRATIC, levels, mask_of, sample
from tests.strategies import convex_params, seeds
from tests.support import assert_close

CVXPY_RTOL = 1e-6  # interior-point solutions at Clarabel/ECOS tolerances ~1e-8 on the objective


def _projection_from_oracles(family) -> np.ndarray:
    """θ* = Π_S(θ_c) with S = {θ : P∇L_lower(θ) = 0}, built from the numpy oracles alone.

    For a quadratic lower level ∇L_lower(θ) = Hθ + g_0 and the upper level ½‖θ − θ_c‖² has θ_c = −∇L_upper(0).
    """
    lower, upper = levels(family)
    n = family.theta0().size
    zero = np.zeros(n)
    p = mask_of(family, n)
    N, h = p[:, None] * lower.hessian(zero), -p * lower.grad(zero)
    theta_c = -upper.grad(zero)
    return theta_c - np.linalg.lstsq(N, N @ theta_c - h, rcond=None)[0]


@pytest.mark.parametrize("name", QUADRATIC)
@settings(max_examples=25)
@given(data=st.data())
def test_closed_form_solution_is_the_projection_onto_the_lower_solution_set(name: str, data: st.DataObject) -> None:
    family = sample(name, seed=data.draw(seeds), **data.draw(convex_params[name]))
    theta_star = family.solution()
    # lstsq on N (condition up to cond² ~ 1e6): the projection loses ~cond² · eps
    assert_close(theta_star, _projection_from_oracles(family), rtol=1e-7, atol=1e-7 * (1 + np.linalg.norm(theta_star)))
    lower, _ = levels(family)
    residual = mask_of(family, theta_star.size) * lower.grad(theta_star)
    assert np.linalg.norm(residual) <= 1e-8 * (1 + np.linalg.norm(lower.grad(family.theta0())))


def _clarabel(problem: cp.Problem) -> None:
    problem.solve(solver=cp.CLARABEL)
    assert problem.status == cp.OPTIMAL


@pytest.mark.parametrize("rank", [4, 2])
def test_least_squares_matches_two_stage_cvxpy(rank: int) -> None:
    family = sample("least_squares_projection", seed=3, m=4, d=9, rank=rank, cond=5.0)
    A, b, c = family.A, family.b, family.c
    theta = cp.Variable(family.d)
    stage1 = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ theta - b)))
    _clarabel(stage1)
    # stage 2: the lower solution set is {θ : Aᵀ(Aθ − b) = 0} (the normal equations; exact also for rank < m)
    stage2 = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(theta - c)), [A.T @ (A @ theta - b) == 0])
    _clarabel(stage2)
    assert_close(family.solution(), theta.value, rtol=CVXPY_RTOL, atol=CVXPY_RTOL)
    lower = levels(family)[0]
    assert_close(-lower.value(family.solution()), stage1.value, rtol=CVXPY_RTOL, atol=CVXPY_RTOL)


def test_coupled_quadratic_matches_cvxpy() -> None:
    family = sample("coupled_quadratic", seed=4, n=3, p=4)
    x, y = cp.Variable(family.n), cp.Variable(family.p)
    objective = 0.5 * cp.sum_squares(x) + 0.5 * cp.sum_squares(y - family.b)
    _clarabel(cp.Problem(cp.Minimize(objective), [y == family.A @ x]))
    assert_close(family.solution(), np.concatenate([x.value, y.value]), rtol=CVXPY_RTOL, atol=CVXPY_RTOL)


@pytest.mark.parametrize("rank", [3, 2])
def test_wide_quadratic_matches_cvxpy_and_picks_the_min_norm_lower_solution(rank: int) -> None:
    family = sample("wide_quadratic", seed=5, n=2, p=6, q=3, rank=rank)
    C, B = family.C, family.B
    x, y = cp.Variable(family.n), cp.Variable(family.p)
    objective = 0.5 * cp.sum_squares(y) + 0.5 * cp.sum_squares(x - family.x0)
    _clarabel(cp.Problem(cp.Minimize(objective), [C.T @ (C @ y - B @ x) == 0]))
    theta_star = family.solution()
    assert_close(theta_star, np.concatenate([x.value, y.value]), rtol=CVXPY_RTOL, atol=CVXPY_RTOL)
    # the lower argmin is not a singleton: moving y* along null(C) keeps it optimal and raises f
    null = np.linalg.svd(C)[2][rank:].T  # (p, p − rank)
    assert null.shape[1] >= 1
    lower, upper = levels(family)
    moved = theta_star + np.concatenate([np.zeros(family.n), null[:, 0]])
    assert_close(lower.value(moved), lower.value(theta_star), atol=1e-12)
    assert upper.value(moved) > upper.value(theta_star) + 0.4


# --- l1_regression ---------------------------------------------------------------------------
def _check_l1_reference(family, *, rate: bool = True) -> None:
    ref = family.reference
    theta = ref.theta
    assert ref.polished and ref.kkt_residual <= 1e-10
    assert ref.g_star <= 1e-10  # 0 in exact arithmetic (R > R_0); Clarabel's tolerance is 1e-10
    assert_close(np.abs(theta).sum(), family.radius, rtol=1e-12, what="constraint active")
    assert_close(family.A_t @ theta, family.b_t, atol=1e-10, what="lower optimal (interpolates)")
    if rate:  # θ_τ → θ* as τ → 0, at the √τ rate of a residual allowed to move by O(√τ)
        assert ref.distances[-1] <= 0.05 * ref.distances[0]
        assert 0.45 <= ref.tau_order <= 0.55
    assert family.solution() is not ref.theta  # a copy: the cached reference cannot be mutated


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l1_reference_is_certified_and_the_constraint_is_active(seed: int) -> None:
    _check_l1_reference(sample("l1_regression", seed=seed))


@settings(max_examples=8)
@given(seed=seeds, params=convex_params["l1_regression"])
def test_l1_reference_is_certified_across_parameters(seed: int, params: dict) -> None:
    # no check of the τ-path here: when ‖θ_aff‖₁ − R_0 is tiny the path changes active set late and the
    # √τ regime starts below the smallest τ (about 1 % of random draws); θ* is certified by KKT regardless
    _check_l1_reference(sample("l1_regression", seed=seed, **params), rate=False)


def test_l1_reference_matches_an_independent_ecos_solve_and_the_lower_argmax_is_not_a_singleton() -> None:
    family = sample("l1_regression", seed=3)
    theta = cp.Variable(family.d)
    f = cp.sum_squares(family.A_v @ theta - family.b_v) / (2 * family.n_v)
    ball = cp.norm1(theta) <= family.radius
    limit = cp.Problem(cp.Minimize(f), [family.A_t @ theta == family.b_t, ball])
    limit.solve(solver=cp.ECOS, abstol=1e-10, reltol=1e-10, feastol=1e-10)
    assert_close(family.solution(), theta.value, rtol=CVXPY_RTOL, atol=CVXPY_RTOL)
    # the min-ℓ1 interpolant is another maximiser of L_f over the ball
    cp.Problem(cp.Minimize(cp.norm1(theta)), [family.A_t @ theta == family.b_t]).solve(solver=cp.CLARABEL)
    other = theta.value
    assert_close(np.abs(other).sum(), family.radius_min, rtol=1e-7)
    assert np.abs(other).sum() < family.radius
    lower = levels(family)[0]
    assert abs(lower.value(other)) <= 1e-12
    assert np.linalg.norm(other - family.solution()) > 1e-2


# --- logistic_forget ------------------------------------------------------------------------
def _check_logistic_reference(family) -> None:
    ref = family.reference
    theta = ref.theta
    lower, upper = levels(family)
    # Clarabel stops at a relative gap ~1e-10; λ-strong convexity turns a gap ε into a distance √(2ε/λ)
    if ref.status == "optimal":
        assert np.linalg.norm(theta - ref.theta_cvxpy) <= np.sqrt(2e-10 * (1 + upper.value(theta)) / family.lam)
    assert ref.kkt_residual <= 1e-12 and ref.feasibility <= 1e-12
    assert_close(family.X_f @ theta, logit(np.full(family.n_f, family.p)), atol=1e-12)
    # θ* maximises L_f (∇L_f = 0) and ∇L_r(θ*) ∈ range(X_fᵀ) (stationary on the affine argmax)
    assert np.linalg.norm(lower.grad(theta)) <= 1e-12
    g_r = upper.grad(theta)
    coef = np.linalg.lstsq(family.X_f.T, g_r, rcond=None)[0]
    assert np.linalg.norm(family.X_f.T @ coef - g_r) <= 1e-12 * (1 + np.linalg.norm(g_r))
    # forgetting raised the forget objective above the original model's
    assert lower.value(theta) >= lower.value(family.theta0())


@pytest.mark.parametrize(("seed", "p"), [(0, 0.5), (1, 0.5), (2, 0.8)])
def test_logistic_reference_satisfies_kkt_and_matches_cvxpy(seed: int, p: float) -> None:
    _check_logistic_reference(sample("logistic_forget", seed=seed, p=p))


@settings(max_examples=8)
@given(seed=seeds, params=convex_params["logistic_forget"])
def test_logistic_reference_across_parameters(seed: int, params: dict) -> None:
    _check_logistic_reference(sample("logistic_forget", seed=seed, **params))


def test_logistic_theta0_is_the_original_model() -> None:
    family = sample("logistic_forget", seed=0)
    both = logistic(np.vstack([family.X_r, family.X_f]), np.concatenate([family.y_r, family.y_f]), lam=family.lam)
    grad = both.to("numpy").value_and_grad(family.theta0())[1]
    assert np.linalg.norm(grad) <= 1e-13
