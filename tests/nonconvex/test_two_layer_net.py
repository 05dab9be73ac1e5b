"""two_layer_net: θ_0 fits the data, L_f ≤ 0 with equality at uniform predictions, curvature."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from tests.nonconvex.oracles import hessian, oracles, random_point, sample
from tests.strategies import nonconvex_params, seeds
from tests.support import assert_close


@pytest.mark.parametrize(("seed", "forget"), [(0, "class"), (1, "random"), (2, "class"), (3, "random")])
def test_theta0_fits_the_data(seed: int, forget: str) -> None:
    """The trained θ_0 classifies forget ∪ retain far above chance (1/C)."""
    family = sample("two_layer_net", seed, forget=forget)
    for split in ("all", "forget", "retain"):
        assert family.accuracy(family.theta0(), split) >= 0.9


@settings(max_examples=25)
@given(nonconvex_params["two_layer_net"], seeds, seeds)
def test_forget_objective_is_bounded_by_zero_and_attained(params: dict, seed: int, point_seed: int) -> None:
    """L_f = −mean KL(u ‖ softmax) ≤ 0 at random points (also far out, scale 10), = 0 when the
    output layer is zero (uniform predictions) with zero gradient there: a global maximum."""
    family = sample("two_layer_net", seed, **params)
    lower = oracles(family.objectives()[0], "numpy")
    rng = np.random.default_rng(point_seed)
    for scale in (0.5, 10.0):
        assert lower.value(random_point(family, rng, scale)) <= 1e-12
    theta = random_point(family, rng)
    w1, b1, w2, b2 = family.net.unpack(theta)
    w2[:], b2[:] = 0.0, 0.0
    assert_close(lower.value(theta), 0.0, atol=1e-14)
    assert_close(lower.grad(theta), np.zeros_like(theta), atol=1e-14)


def test_both_levels_have_indefinite_hessians() -> None:
    """L_f is not concave (Hessian at θ_0 with a positive eigenvalue, besides negative ones) and
    L_r is not convex (a negative eigenvalue at a random point)."""
    family = sample("two_layer_net", 0)
    lower, upper = (oracles(obj, "numpy") for obj in family.objectives())
    theta = family.theta0()
    n = theta.size
    lower_eig = np.linalg.eigvalsh(hessian(lambda v: lower.hvp(theta, v), n))
    assert lower_eig[0] < -1e-3 and lower_eig[-1] > 1e-3
    point = random_point(family, np.random.default_rng(0), 1.0)
    upper_eig = np.linalg.eigvalsh(hessian(lambda v: upper.hvp(point, v), n))
    assert upper_eig[0] < -1e-3 and upper_eig[-1] > 1e-3


@pytest.mark.parametrize("forget", ["class", "random"])
def test_forget_retain_split(forget: str) -> None:
    family = sample("two_layer_net", 5, forget=forget, forget_class=2, forget_fraction=0.25)
    cfg = family.config
    total = cfg["n_classes"] * cfg["n_per_class"]
    assert len(family.y_forget) + len(family.y_retain) == total
    if forget == "class":
        assert np.all(family.y_forget == 2) and not np.any(family.y_retain == 2)
    else:
        assert len(family.y_forget) == round(0.25 * total)
    lower, upper = family.objectives()
    assert lower.n_rows == len(family.y_forget) and upper.n_rows == len(family.y_retain)


def test_upper_weight_decay_enters_the_objective() -> None:
    """L_r(λ) − L_r(0) = λ/2‖θ‖² (same data, same θ)."""
    theta = sample("two_layer_net", 4, lam=0.0).theta0()
    with_l2 = oracles(sample("two_layer_net", 4, lam=0.3).objectives()[1], "numpy")
    without = oracles(sample("two_layer_net", 4, lam=0.0).objectives()[1], "numpy")
    assert_close(with_l2.value(theta) - without.value(theta), 0.15 * theta @ theta)
