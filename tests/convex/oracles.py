"""Helpers for the convex-family tests: numpy views of oracles in either backend, dense Hessians, F_ρ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from convex._affine import AffineQuadratic
from ofmu_theory.family import FAMILIES, Family
from tests.strategies import convex_params
from tests.support import Oracles, oracles, sample, unit  # noqa: F401 (re-exported)

NAMES = tuple(convex_params)
"""Every registered convex family."""
QUADRATIC = tuple(name for name in NAMES if issubclass(FAMILIES.get(name), AffineQuadratic))
"""The convex families with a quadratic lower and upper level (closed-form θ* and θ_ρ, ``rate_params``)."""


def levels(family: Family, backend: str = "numpy") -> tuple[Oracles, Oracles]:
    """(lower, upper) oracles."""
    lower, upper = family.objectives()
    return oracles(lower, backend), oracles(upper, backend)


def mask_of(family: Family, n: int) -> np.ndarray:
    block = family.block()
    return np.ones(n) if block is None else np.asarray(block, dtype=np.float64)


@dataclass(frozen=True)
class Penalised:
    """F_ρ(θ) = L_upper(θ) + ρ‖P∇Φ(θ)‖² with β = 0, Φ = σ·L_lower, built from numpy oracles only.

    ∇F_ρ = ∇L_upper + 2ρ∇²Φ P∇Φ and ∇²F_ρ w = ∇²L_upper w + 2ρ(∇²Φ P∇²Φ w + D³Φ[P∇Φ, w]).
    """

    lower: Oracles
    upper: Oracles
    mask: np.ndarray
    sigma: float
    rho: float

    def value(self, theta: np.ndarray) -> float:
        g = self.mask * self.sigma * self.lower.grad(theta)
        return self.upper.value(theta) + self.rho * float(g @ g)

    def grad(self, theta: np.ndarray) -> np.ndarray:
        g = self.mask * self.sigma * self.lower.grad(theta)
        return self.upper.grad(theta) + 2.0 * self.rho * self.sigma * self.lower.hvp(theta, g)

    def hessp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        s = self.sigma
        g = self.mask * s * self.lower.grad(theta)
        hw = self.mask * s * self.lower.hvp(theta, w)
        return self.upper.hvp(theta, w) + 2.0 * self.rho * (s * self.lower.hvp(theta, hw) + s * self.lower.d3(theta, g, w))

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        h = np.stack([self.hessp(theta, e) for e in np.eye(theta.size)], axis=1)
        return 0.5 * (h + h.T)


def penalised(family: Family, rho: float) -> Penalised:
    lower, upper = levels(family, "numpy")
    n = family.theta0().size
    return Penalised(lower, upper, mask_of(family, n), 1.0 if family.sense == "max" else -1.0, rho)


def minimise(fun: Callable[[np.ndarray], float], start: np.ndarray, penal: Penalised) -> np.ndarray:
    """scipy trust-exact on F_ρ with the exact Hessian from the oracles."""
    from scipy.optimize import minimize

    options = {"gtol": 1e-12, "maxiter": 500}
    res = minimize(fun, start, jac=penal.grad, hess=penal.hessian, method="trust-exact", options=options)
    return res.x


def slope(xs: np.ndarray, ys: np.ndarray) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])
