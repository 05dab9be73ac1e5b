"""Oracles of every convex family: Taylor tests in both backends, numpy ≡ torch, mini-batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.convex.oracles import NAMES, levels, sample, unit
from tests.strategies import convex_params, seeds
from tests.support import assert_close, assert_taylor_order2


def _draw_family(data: st.DataObject, name: str):
    return sample(name, seed=data.draw(seeds, label="seed"), **data.draw(convex_params[name], label="params"))


def _margin_rows(family, level: str) -> np.ndarray:
    """The rows whose margins enter a logistic loss: X_f (lower) or y_r ⊙ X_r (upper)."""
    return family.X_f if level == "lower" else family.y_r[:, None] * family.X_r


def _point(family, rng: np.random.Generator, level: str = "") -> np.ndarray:
    """θ_0 plus N(0, I); for the logistic losses, a point in the row space of ``level``'s rows whose
    largest |margin| is in [0.4, 0.9], so that the second and third derivatives of σ do not vanish on
    every row (an order-2 Taylor remainder needs a nonzero second-order term; with one or two rows
    and margins near 0 or large it sits below round-off)."""
    theta0 = family.theta0()
    if family.name != "logistic_forget" or not level:
        return theta0 + rng.standard_normal(theta0.size)
    x = _margin_rows(family, level)
    theta = x.T @ rng.standard_normal(len(x))  # in the row space: no large component the margins ignore
    return rng.uniform(0.4, 0.9) * theta / np.abs(x @ theta).max()  # largest |margin| in [0.4, 0.9]


def _direction(family, level: str, ref, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random direction tilted towards the top curvature direction of the (numpy) Hessian.

    Any direction is valid for a Taylor check; a generic one with curvature keeps it informative:
    along a direction of curvature ~1e-5 (nearly in null(A) for a rank-one A) the order-2 term is
    below the helper's round-off floor 1e-9·(1 + |L| + ‖DL[h]‖). For the logistic losses the
    direction is scaled so that the largest margin moves by ½ per unit t: a short row (‖x‖ ~ 0.1)
    would otherwise hide the σ-terms under the ridge term's floor, and a long one would put
    higher-order terms into the largest step t = 0.1 of the fit.
    """
    if theta.size == 1:
        return np.ones(1)
    eig, vec = np.linalg.eigh(ref.hessian(theta))
    h = unit(rng, theta.size) / np.sqrt(theta.size) + vec[:, np.argmax(np.abs(eig))]
    if family.name == "logistic_forget":
        return 0.5 * h / np.abs(_margin_rows(family, level) @ h).max()
    return h / np.linalg.norm(h)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=8)
@given(data=st.data())
def test_taylor_value_grad_hvp_d3(name: str, backend_name: str, data: st.DataObject) -> None:
    """value→grad, grad→hvp and hvp→d3 have first-order Taylor remainders of order 2."""
    family = _draw_family(data, name)
    rng = np.random.default_rng(data.draw(seeds, label="point"))
    pairs = zip(("lower", "upper"), levels(family, backend_name), levels(family, "numpy"), strict=True)
    for level, obj, ref in pairs:
        theta = _point(family, rng, level)
        h, u = _direction(family, level, ref, theta, rng), _direction(family, level, ref, theta, rng)
        what = f"{name}/{level}/{backend_name}"
        assert_taylor_order2(obj.value, theta, h, obj.grad(theta) @ h, what=f"{what}: value->grad")
        assert_taylor_order2(obj.grad, theta, h, obj.hvp(theta, h), what=f"{what}: grad->hvp")
        # D(∇²L(θ)u)[h] = D³L(θ)[u, h, ·] = d3(θ, u, h) (D³L is symmetric)
        assert_taylor_order2(lambda x: obj.hvp(x, u), theta, h, obj.d3(theta, u, h), what=f"{what}: hvp->d3")


def _close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    # 1e-10 relative on the vector's scale: entries that cancel to ~0 differ by round-off relative
    # to the largest entry, not to themselves.
    scale = float(np.max(np.abs(expected), initial=0.0))
    assert_close(actual, expected, rtol=1e-10, atol=1e-10 * scale, what=what)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=10)
@given(data=st.data())
def test_numpy_analytic_oracles_match_torch_autograd(name: str, data: st.DataObject) -> None:
    family = _draw_family(data, name)
    rng = np.random.default_rng(data.draw(seeds, label="point"))
    theta = _point(family, rng)
    u, v = rng.standard_normal(theta.size), rng.standard_normal(theta.size)
    for level, ref, auto in zip(("lower", "upper"), levels(family, "numpy"), levels(family, "torch"), strict=True):
        what = f"{name}/{level}"
        _close(auto.value(theta), ref.value(theta), f"{what}: value")
        _close(auto.grad(theta), ref.grad(theta), f"{what}: grad")
        _close(auto.hvp(theta, u), ref.hvp(theta, u), f"{what}: hvp")
        _close(auto.d3(theta, u, v), ref.d3(theta, u, v), f"{what}: d3")


@pytest.mark.parametrize("name", [n for n in NAMES if sample(n).stochastic])
@settings(max_examples=10)
@given(data=st.data())
def test_losses_are_means_over_rows(name: str, backend_name: str, data: st.DataObject) -> None:
    """Every batch value is a mean over its rows, so a uniform batch is unbiased: the size-weighted
    average over a partition of the rows equals the full value (and gradient)."""
    family = _draw_family(data, name)
    rng = np.random.default_rng(data.draw(seeds, label="point"))
    theta = _point(family, rng)
    for level, obj in zip(("lower", "upper"), levels(family, backend_name), strict=True):
        n_rows = obj.objective.n_rows
        assert n_rows is not None and n_rows >= 1
        order = rng.permutation(n_rows)
        parts = [p for p in np.array_split(order, min(3, n_rows)) if p.size]
        weights = [p.size / n_rows for p in parts]
        value = sum(w * obj.value(theta, p) for w, p in zip(weights, parts, strict=True))
        grad = sum(w * obj.grad(theta, p) for w, p in zip(weights, parts, strict=True))
        assert_close(value, obj.value(theta), what=f"{name}/{level}: value")
        _close(grad, obj.grad(theta), f"{name}/{level}: grad")
        assert_close(obj.value(theta, np.arange(n_rows)), obj.value(theta), what=f"{name}/{level}: full batch")
