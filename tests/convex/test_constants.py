"""Each family's constants are valid (bounds hold at sampled points) and, for quadratics, tight."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ofmu_theory.constraints import L1Ball
from tests.convex.oracles import NAMES, QUADRATIC, levels, mask_of, penalised, sample, unit
from tests.strategies import convex_params, seeds
from tests.support import assert_close

SLACK = 1 + 1e-9  # round-off in the sampled quantities


def _draw(data: st.DataObject, name: str):
    return sample(name, seed=data.draw(seeds), **data.draw(convex_params[name]))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=10)
@given(data=st.data())
def test_smoothness_and_curvature_bound_the_hessians(name: str, data: st.DataObject) -> None:
    family = _draw(data, name)
    consts = family.constants()
    lower, upper = levels(family)
    rng = np.random.default_rng(data.draw(seeds))
    for _ in range(3):
        theta = family.theta0() + 2.0 * rng.standard_normal(family.theta0().size)
        eig_l = np.linalg.eigvalsh(lower.hessian(theta))
        eig_u = np.linalg.eigvalsh(upper.hessian(theta))
        assert np.abs(eig_l).max() <= consts.L_lower * SLACK
        assert eig_u.max() <= consts.L_upper * SLACK
        assert eig_u.min() >= consts.mu_upper / SLACK - 1e-12
        assert consts.H_phi == consts.L_lower
    if name in QUADRATIC:  # exact, not just bounds
        zero = np.zeros(family.theta0().size)
        assert_close(np.abs(np.linalg.eigvalsh(lower.hessian(zero))).max(), consts.L_lower, rtol=1e-10)
        assert consts.L_upper == consts.mu_upper == 1.0 and consts.M_lower == 0.0


@pytest.mark.parametrize("name", QUADRATIC)
@settings(max_examples=15)
@given(data=st.data())
def test_mu_lower_is_the_pl_constant_of_the_lower_level(name: str, data: st.DataObject) -> None:
    """½‖P∇g(θ)‖² ≥ μ(g(θ) − min_y g(x, y)) at random θ, with equality attainable (μ is tight)."""
    family = _draw(data, name)
    mu = family.constants().mu_lower
    J, e, _ = family.affine()
    p = mask_of(family, J.shape[1]).astype(bool)
    rng = np.random.default_rng(data.draw(seeds))
    lower = levels(family)[0]
    for _ in range(5):
        theta = rng.standard_normal(J.shape[1])
        r = J[:, ~p] @ theta[~p] - e  # g(x, y) = ½‖J_y y + r‖²
        y_best = np.linalg.lstsq(J[:, p], -r, rcond=None)[0]
        g_star = 0.5 * np.sum((J[:, p] @ y_best + r) ** 2)
        g = abs(lower.value(theta))
        grad = lower.grad(theta)[p]
        assert 0.5 * grad @ grad >= mu * (g - g_star) / SLACK - 1e-12
    # tight: from θ* along the k-th right-singular direction of J_y the inequality is an equality
    vt = np.linalg.svd(J[:, p])[2]
    theta = family.solution()
    theta[p] += vt[family.lower_rank() - 1]
    g_gap = abs(lower.value(theta)) - abs(lower.value(family.solution()))  # g* at x* is attained at y*
    grad = lower.grad(theta)[p]
    assert_close(0.5 * grad @ grad, mu * g_gap, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("name", QUADRATIC)
@settings(max_examples=10)
@given(data=st.data())
def test_gradient_bounds_hold_on_the_stated_region_and_it_contains_gd_on_F_rho(name: str, data: st.DataObject) -> None:
    family = _draw(data, name)
    consts = family.constants()
    lower, upper = levels(family)
    centre, radius = family.solution(), family.region_radius()
    rng = np.random.default_rng(data.draw(seeds))
    for _ in range(10):
        theta = centre + radius * unit(rng, centre.size)  # the boundary: where the sup is attained
        assert np.linalg.norm(upper.grad(theta)) <= consts.G_upper * SLACK
        assert np.linalg.norm(lower.grad(theta)) <= consts.G_phi * SLACK
    for rho in (0.1, 10.0):
        penal = penalised(family, rho)
        step = 1.0 / consts.penalised_smoothness(rho, 0.0)
        theta = family.theta0()
        for _ in range(50):
            theta = theta - step * penal.grad(theta)
            assert np.linalg.norm(theta - centre) <= radius * SLACK


@settings(max_examples=10)
@given(data=st.data())
def test_l1_gradient_bounds_hold_on_the_ball(data: st.DataObject) -> None:
    family = _draw(data, "l1_regression")
    consts = family.constants()
    lower, upper = levels(family)
    ball = L1Ball(radius=family.radius)
    rng = np.random.default_rng(data.draw(seeds))
    points = [ball._project(5 * family.radius * rng.standard_normal(family.d), np) for _ in range(10)]
    points += [s * family.radius * e for e in np.eye(family.d) for s in (-1, 1)]  # vertices
    for theta in points:
        assert np.linalg.norm(upper.grad(theta)) <= consts.G_upper * SLACK
        assert np.linalg.norm(lower.grad(theta)) <= consts.G_phi * SLACK


@settings(max_examples=10)
@given(data=st.data())
def test_logistic_bounds_hold(data: st.DataObject) -> None:
    family = _draw(data, "logistic_forget")
    consts = family.constants()
    lower, upper = levels(family)
    rng = np.random.default_rng(data.draw(seeds))
    r = family.region_radius()
    assert np.linalg.norm(family.theta0()) <= r
    for scale in (0.1, 1.0, 10.0, 100.0):  # G_phi holds everywhere
        theta = scale * rng.standard_normal(family.d)
        assert np.linalg.norm(lower.grad(theta)) <= consts.G_phi * SLACK
    for _ in range(5):
        theta = r * unit(rng, family.d)
        assert np.linalg.norm(upper.grad(theta)) <= consts.G_upper * SLACK
        other = theta + rng.standard_normal(family.d)
        gap = np.linalg.norm(lower.hessian(theta) - lower.hessian(other), 2)
        assert gap <= consts.M_lower * np.linalg.norm(theta - other) * SLACK


def test_logistic_region_contains_theta_star() -> None:
    family = sample("logistic_forget", seed=0)
    assert np.linalg.norm(family.solution()) <= family.region_radius()


@pytest.mark.parametrize("name", QUADRATIC)
def test_penalised_smoothness_from_the_constants_bounds_the_hessian_of_F_rho(name: str) -> None:
    family = sample(name, seed=5)
    consts = family.constants()
    for rho in (0.5, 50.0):
        hess = penalised(family, rho).hessian(family.theta0())
        assert np.linalg.eigvalsh(hess).max() <= consts.penalised_smoothness(rho, 0.0) * SLACK
