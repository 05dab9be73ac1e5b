"""matrix_factorisation: the balanced solution, ‖M‖_*, non-concavity, local PL, region constants."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings

from tests.nonconvex.oracles import hessian, oracles, sample, unit
from tests.strategies import nonconvex_params, seeds
from tests.support import assert_close


def _levels(family):
    return tuple(oracles(obj, "numpy") for obj in family.objectives())


@settings(max_examples=25)
@given(nonconvex_params["matrix_factorisation"], seeds)
def test_solution_factorises_m_with_nuclear_norm_value(params: dict, seed: int) -> None:
    """UVᵀ = M, f = ‖M‖_* (numpy's SVD as the reference), ∇L_lower = 0, balanced UᵀU = VᵀV, and
    every other factorisation (UG, VG⁻ᵀ) has f ≥ ‖M‖_*."""
    family = sample("matrix_factorisation", seed, **params)
    lower, upper = _levels(family)
    theta = family.solution()
    u, v = family.factors(theta)
    m = family.target
    nuclear = np.linalg.norm(m, "nuc")
    assert_close(u @ v.T, m, atol=1e-12)
    assert_close(family.optimal_upper_value(), nuclear)
    assert_close(upper.value(theta), nuclear)
    assert abs(lower.value(theta)) <= 1e-24 and np.linalg.norm(lower.grad(theta)) <= 1e-12
    assert_close(u.T @ u, v.T @ v, atol=1e-12)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        g = np.eye(family.width) + 0.5 * rng.standard_normal((family.width, family.width))
        other = np.concatenate([(u @ g).ravel(), (v @ np.linalg.inv(g).T).ravel()])
        assert_close(lower.value(other), 0.0, atol=1e-18)
        assert upper.value(other) >= nuclear * (1 - 1e-12)


@settings(max_examples=10)
@given(nonconvex_params["matrix_factorisation"], seeds)
def test_lower_level_is_not_concave(params: dict, seed: int) -> None:
    """At θ = 0 the Hessian of −½‖UVᵀ − M‖² is [[0, M ⊗ I], [Mᵀ ⊗ I, 0]]-like: eigenvalues ±s_i."""
    family = sample("matrix_factorisation", seed, **params)
    lower, _ = _levels(family)
    zero = np.zeros_like(family.theta0())
    eig = np.linalg.eigvalsh(hessian(lambda d: lower.hvp(zero, d), zero.size))
    assert_close(eig.max(), family.sing[0], atol=1e-12)
    assert_close(eig.min(), -family.sing[0], atol=1e-12)


EXACT = {"m": 4, "n": 3, "rank": 2, "width": 2, "cond": 5.0, "init_scale": 0.5}
OVER = {"m": 4, "n": 3, "rank": 2, "width": 3, "cond": 5.0, "init_scale": 0.5}


@settings(max_examples=10)
@given(nonconvex_params["matrix_factorisation"], seeds)
@example(EXACT, 0)
@example(OVER, 0)
def test_local_pl_constant_at_balanced_solutions(params: dict, seed: int) -> None:
    """k = r: μ is the smallest non-zero eigenvalue of −∇²L_lower at θ*, and the PL ratio
    ‖∇L‖²/(2(0 − L)) near θ* tends to ≥ μ. k > r: μ is None; when also m, n > r, moving the zero
    columns of θ* by ε along z_u ⟂ range P, z_v ⟂ range Q gives a ratio O(ε²) → 0, so no PL
    constant exists near θ*."""
    family = sample("matrix_factorisation", seed, **params)
    lower, _ = _levels(family)
    theta = family.solution()
    mu = family.constants().mu_lower
    rng = np.random.default_rng(seed)
    if family.width == family.rank:
        eig = np.linalg.eigvalsh(hessian(lambda d: -lower.hvp(theta, d), theta.size))
        assert_close(eig[eig > 1e-9].min(), mu, rtol=1e-9)
        for _ in range(5):
            near = theta + 1e-5 * unit(rng, theta.size)
            ratio = np.sum(lower.grad(near) ** 2) / (-2 * lower.value(near))
            assert ratio >= mu * (1 - 1e-3)
        return
    assert mu is None
    if min(family.m, family.n) == family.rank:
        return
    z_u = np.linalg.svd(family.left, full_matrices=True)[0][:, -1]  # ⟂ range P
    z_v = np.linalg.svd(family.right, full_matrices=True)[0][:, -1]  # ⟂ range Q
    ratios = []
    for eps in (1e-1, 1e-2):
        u, v = (f.copy() for f in family.factors(theta))
        u[:, -1] += eps * z_u
        v[:, -1] += eps * z_v
        near = np.concatenate([u.ravel(), v.ravel()])
        ratios.append(np.sum(lower.grad(near) ** 2) / (-2 * lower.value(near)))
    assert_close(ratios, [2e-2, 2e-4], rtol=1e-9)  # ‖∇‖² = 2ε⁶, gap = ε⁴/2: ratio 2ε²


@settings(max_examples=10)
@given(nonconvex_params["matrix_factorisation"], seeds)
def test_constants_hold_on_the_region(params: dict, seed: int) -> None:
    """On {‖U‖₂, ‖V‖₂ ≤ B}: ‖∇²L_lower‖ ≤ L_lower, |D³L_lower[d, d, d]| ≤ M_lower, ‖θ‖ ≤ G_upper;
    θ_0 and θ* lie in the region."""
    family = sample("matrix_factorisation", seed, **params)
    lower, _ = _levels(family)
    c, b = family.constants(), family.region_bound()
    rng = np.random.default_rng(seed)
    for theta in (family.theta0(), family.solution()):
        assert max(np.linalg.norm(f, 2) for f in family.factors(theta)) <= b * (1 + 1e-12)
    for _ in range(5):
        u, v = (rng.standard_normal(f.shape) for f in family.factors(family.theta0()))
        u *= b * rng.uniform(0.5, 1) / np.linalg.norm(u, 2)
        v *= b * rng.uniform(0.5, 1) / np.linalg.norm(v, 2)
        theta = np.concatenate([u.ravel(), v.ravel()])
        eig = np.linalg.eigvalsh(hessian(lambda d: lower.hvp(theta, d), theta.size))
        assert np.abs(eig).max() <= c.L_lower
        d = unit(rng, theta.size)
        assert abs(lower.d3(theta, d, d) @ d) <= c.M_lower
        assert np.linalg.norm(theta) <= c.G_upper * (1 + 1e-12)
