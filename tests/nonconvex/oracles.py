"""Numpy-in, numpy-out views of an objective's oracles in either backend (for the tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ofmu_theory.family import Family
from tests.strategies import nonconvex_params
from tests.support import Oracles, assert_taylor_order2, oracles, sample, unit  # noqa: F401 (re-exported)

NAMES = tuple(nonconvex_params)
"""Every registered non-convex family."""


def both_levels(family: Family, backend: str) -> dict[str, Oracles]:
    lower, upper = family.objectives()
    return {"lower": oracles(lower, backend), "upper": oracles(upper, backend)}


def random_point(family: Family, rng: np.random.Generator, scale: float = 0.5) -> np.ndarray:
    """θ_0 plus a Gaussian perturbation (θ_0 sits where each family is interesting)."""
    theta0 = family.theta0()
    return theta0 + scale * rng.standard_normal(theta0.shape)


def hessian(hvp: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """Dense symmetric Hessian from n HVPs."""
    h = np.stack([hvp(e) for e in np.eye(n)], axis=1)
    return 0.5 * (h + h.T)


def assert_taylor(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    h: np.ndarray,
    df: Callable[[np.ndarray], Any],
    *,
    what: str,
    scales: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01),
) -> None:
    """:func:`tests.support.assert_taylor_order2` along s·h for the first s in ``scales`` that
    passes (``df(h)`` is the claimed derivative along h, linear in h).

    assert_taylor_order2 fits t ∈ [1e-4, 1e-1]; along a unit h that grid can sit before the
    asymptotic regime (oscillating or saturating losses: slope > 2.2) or, along a shorter h, under
    its round-off floor. A wrong derivative adds t·s·e to the remainder, an order-1 term that
    dominates the small t at every scale, so trying a few scales does not hide bugs larger than
    ~1e-4 relative (the 1e-10 numpy/torch comparison catches smaller ones).
    """
    errors = []
    for s in scales:
        try:
            assert_taylor_order2(f, x, s * h, df(s * h), what=f"{what} (|h| = {s * np.linalg.norm(h):.3g})")
            return
        except AssertionError as err:
            errors.append(str(err))
    raise AssertionError("\n".join(errors))
