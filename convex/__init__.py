"""Convex problem families with exact references (Φ concave, upper level convex).

Each module registers one family in :data:`ofmu_theory.family.FAMILIES`:

* ``least_squares_projection``: max −½‖Aθ − b‖² (A wide), min ½‖θ − c‖²; closed-form θ* and θ_ρ.
* ``coupled_quadratic``: classical bilevel, lower level strongly convex in y; closed-form θ* and θ_ρ.
* ``wide_quadratic``: classical bilevel, lower level PL in y (C wide); closed-form θ* and θ_ρ.
* ``l1_regression``: ℓ1-ball-constrained wide regression, constraint active at θ*; two-stage cvxpy reference.
* ``logistic_forget``: ridge logistic retain loss, concave soft-label forget loss (stochastic); cvxpy reference.
"""

from convex.coupled_quadratic import CoupledQuadratic
from convex.l1_regression import L1Reference, L1Regression
from convex.least_squares_projection import LeastSquaresProjection
from convex.logistic_forget import LogisticForget, LogisticReference
from convex.wide_quadratic import WideQuadratic

__all__ = [
    "CoupledQuadratic",
    "L1Reference",
    "L1Regression",
    "LeastSquaresProjection",
    "LogisticForget",
    "LogisticReference",
    "WideQuadratic",
]
