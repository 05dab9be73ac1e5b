"""hyper_cleaning: W*(λ) is the lower minimiser, curvature, constants, and cleaning helps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from tests.nonconvex.oracles import hessian, oracles, random_point, sample
from tests.strategies import nonconvex_params, seeds


def _levels(family):
    return tuple(oracles(obj, "numpy") for obj in family.objectives())


@settings(max_examples=15)
@given(nonconvex_params["hyper_cleaning"], seeds)
def test_lower_solution_is_the_unique_block_minimiser(params: dict, seed: int) -> None:
    """∇_W g(λ, W*(λ)) = 0 and c ≤ eig(∇²_W g) ≤ block_smoothness, so W*(λ) is the unique minimiser;
    θ_0 = (0, W*(0))."""
    family = sample("hyper_cleaning", seed, **params)
    lower, _ = _levels(family)
    n = family.config["n_train"]
    block = family.block().astype(bool)
    lam = 2.0 * np.random.default_rng(seed).standard_normal(n)
    theta = np.concatenate([lam, family.lower_solution(lam)])
    assert np.linalg.norm(lower.grad(theta)[block]) <= 1e-9
    h = hessian(lambda v: lower.hvp(theta, v), theta.size)[np.ix_(block, block)]
    eig = np.linalg.eigvalsh(h)
    assert eig[0] >= family.constants().mu_lower * (1 - 1e-12)
    assert eig[-1] <= family.block_smoothness() * (1 + 1e-12)
    np.testing.assert_allclose(family.theta0(), np.concatenate([np.zeros(n), family.lower_solution(np.zeros(n))]))


def test_lower_level_is_jointly_non_convex() -> None:
    """At λ = 1 (weights σ(1)), ∂²g/∂λ_i² = σ''(1)·CE_i/N < 0 while the W block is positive
    definite: the full Hessian has eigenvalues of both signs."""
    family = sample("hyper_cleaning", 0)
    lower, _ = _levels(family)
    theta = family.theta0()
    theta[: family.config["n_train"]] = 1.0
    eig = np.linalg.eigvalsh(hessian(lambda v: lower.hvp(theta, v), theta.size))
    assert eig[0] < -1e-4 and eig[-1] > 1e-2


@settings(max_examples=10)
@given(nonconvex_params["hyper_cleaning"], seeds)
def test_upper_constants_hold_at_random_points(params: dict, seed: int) -> None:
    family = sample("hyper_cleaning", seed, **params)
    _, upper = _levels(family)
    c = family.constants()
    rng = np.random.default_rng(seed)
    for scale in (0.5, 3.0):
        theta = random_point(family, rng, scale)
        eig = np.linalg.eigvalsh(hessian(lambda v: upper.hvp(theta, v), theta.size))
        assert eig[0] >= -1e-12 and eig[-1] <= c.L_upper * (1 + 1e-12)
        assert np.linalg.norm(upper.grad(theta)) <= c.G_upper


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_down_weighting_the_corrupted_rows_lowers_the_hyper_objective(seed: int) -> None:
    """φ(λ) with the corrupted rows weighted σ(−5) and the clean ones σ(5) beats uniform weights."""
    family = sample("hyper_cleaning", seed)
    n = family.config["n_train"]
    assert family.corrupted.sum() == round(family.config["corruption"] * n)
    oracle = np.where(family.corrupted, -5.0, 5.0)
    assert family.hyper_objective(oracle) < family.hyper_objective(np.zeros(n))
    np.testing.assert_allclose(family.sample_weights(np.concatenate([oracle, np.zeros(3)]))[:n],
                               1 / (1 + np.exp(-oracle)))  # fmt: skip
