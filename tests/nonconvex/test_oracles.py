"""Derivative oracles of every non-convex family: Taylor tests in both backends, numpy vs torch.

The numpy backend uses the families' hand-derived gradients, HVPs and third-order products; the
torch backend differentiates the same array-API value function with autograd, so agreement to
1e-10 checks the algebra, and the Taylor tests check each backend on its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ofmu_theory.family import FAMILIES
from tests.nonconvex.oracles import NAMES, assert_taylor, both_levels, random_point, sample, unit
from tests.strategies import nonconvex_params, seeds
from tests.support import assert_close

LEVELS = ("lower", "upper")
# backend_name is a plain string fixture: nothing to reset between hypothesis examples.
FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def _instance(name: str, data: st.DataObject):
    return sample(name, data.draw(seeds, label="seed"), **data.draw(nonconvex_params[name], label="params"))


@pytest.mark.parametrize("name", NAMES)
@settings(suppress_health_check=FIXTURE_OK)
@given(data=st.data())
def test_taylor_orders(name: str, backend_name: str, data: st.DataObject) -> None:
    """value → grad, grad → hvp and hvp → d3 (where the backend has d3) have O(t²) remainders."""
    family = _instance(name, data)
    rng = np.random.default_rng(data.draw(seeds, label="point seed"))
    theta = random_point(family, rng)
    h, u = unit(rng, theta.size), unit(rng, theta.size)
    for level, o in both_levels(family, backend_name).items():
        what = f"{name}/{level}/{backend_name}"
        assert_taylor(o.value, theta, h, lambda d: o.grad(theta) @ d, what=f"{what}: value->grad")
        assert_taylor(o.grad, theta, h, lambda d: o.hvp(theta, d), what=f"{what}: grad->hvp")
        if o.has_d3:
            # D(H(θ)u)[h] = D³L[u, h, ·] = d3(θ, u, h) by symmetry of D³L.
            assert_taylor(lambda th: o.hvp(th, u), theta, h, lambda d: o.d3(theta, u, d), what=f"{what}: hvp->d3")


def _assert_rel(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    # Norm-wise relative 1e-10 (tighter than the default 4·√eps): entries of a gradient can be
    # ~0 while the vector is not, so the tolerance scales with ‖expected‖, not entry-wise. The
    # absolute 1e-13 (directions are unit vectors) covers outputs that are tiny only through
    # cancellation of O(1) terms, e.g. p − e_y in a saturated softmax, whose round-off is ~1e-16.
    scale = float(np.linalg.norm(np.atleast_1d(expected)))
    assert_close(actual, expected, rtol=1e-10, atol=1e-10 * scale + 1e-13, what=what)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_numpy_matches_torch_autograd(name: str, data: st.DataObject) -> None:
    """Analytic numpy value/grad/hvp/d3 equal torch autograd to 1e-10 at random points."""
    family = _instance(name, data)
    rng = np.random.default_rng(data.draw(seeds, label="point seed"))
    theta = random_point(family, rng)
    u, v = unit(rng, theta.size), unit(rng, theta.size)
    ours, ref = both_levels(family, "numpy"), both_levels(family, "torch")
    for level in LEVELS:
        a, b, what = ours[level], ref[level], f"{name}/{level}"
        _assert_rel(a.value(theta), b.value(theta), f"{what}: value")
        _assert_rel(a.grad(theta), b.grad(theta), f"{what}: grad")
        _assert_rel(a.hvp(theta, u), b.hvp(theta, u), f"{what}: hvp")
        if a.has_d3:
            _assert_rel(a.d3(theta, u, v), b.d3(theta, u, v), f"{what}: d3")


def test_every_family_has_third_order_oracles_in_both_backends() -> None:
    """Analytic d3 in numpy (two_layer_net: forward-mode derivative of its HVP), autograd in torch."""
    for name in NAMES:
        family = sample(name, train_steps=0) if name == "two_layer_net" else sample(name)
        for backend in ("numpy", "torch"):
            for o in both_levels(family, backend).values():
                assert o.has_d3, (name, backend)


@pytest.mark.parametrize("name", [n for n in NAMES if FAMILIES.get(n).stochastic])
@given(data=st.data())
def test_stochastic_batches_agree_and_average(name: str, data: st.DataObject) -> None:
    """Mini-batch oracles agree across backends, and the full objective is the row-weighted mean
    of the batch objectives over a partition (so a uniform batch is unbiased)."""
    family = _instance(name, data)
    batch_seed = data.draw(seeds, label="batch seed")
    rng = np.random.default_rng(batch_seed)
    theta = random_point(family, rng)
    u, v = unit(rng, theta.size), unit(rng, theta.size)
    ours, ref = both_levels(family, "numpy"), both_levels(family, "torch")
    lower, upper = family.objectives()
    for level, obj in zip(LEVELS, (lower, upper), strict=True):
        n = obj.n_rows
        parts = np.array_split(rng.permutation(n), min(n, 3))
        weights = [len(p) / n for p in parts]
        for oracle in ("value", "grad"):
            full = getattr(ours[level], oracle)(theta)
            mixed = sum(w * getattr(ours[level], oracle)(theta, p) for w, p in zip(weights, parts, strict=True))
            _assert_rel(mixed, full, f"{level}: batch-weighted {oracle}")
        batch = parts[0]
        _assert_rel(ours[level].grad(theta, batch), ref[level].grad(theta, batch), f"{level}: batch grad")
        _assert_rel(ours[level].hvp(theta, v, batch), ref[level].hvp(theta, v, batch), f"{level}: batch hvp")
        _assert_rel(ours[level].d3(theta, v, u, batch), ref[level].d3(theta, v, u, batch), f"{level}: batch d3")
