"""Small smooth test problems with analytic oracles up to third order (for the core's own tests).

``poly_objective``: L(θ) = s·(½θᵀQθ + qᵀθ + (c/4)Σθᵢ⁴ + a·Σ sin θᵢ), with
∇L = s(Qθ + q + cθ³ + a cos θ), ∇²L v = s(Qv + 3cθ²v − a sin θ·v), D³L[u,v] = s(6cθ − a cos θ)·u·v.
"""

from __future__ import annotations

import numpy as np

from ofmu_theory import ArrayObjective, BilevelProblem, Constants
from tests.strategies import spd_matrix


def poly_objective(Q: np.ndarray, q: np.ndarray, *, c: float, a: float, sign: float = 1.0) -> ArrayObjective:
    def value(th, D, xp):
        return sign * (0.5 * th @ (D["Q"] @ th) + D["q"] @ th + c / 4 * (th**4).sum() + a * xp.sin(th).sum())

    return ArrayObjective(
        value=value,
        grad=lambda th, D: sign * (D["Q"] @ th + D["q"] + c * th**3 + a * np.cos(th)),
        hvp=lambda th, v, D: sign * (D["Q"] @ v + 3 * c * th**2 * v - a * np.sin(th) * v),
        d3=lambda th, u, v, D: sign * (6 * c * th - a * np.cos(th)) * u * v,
        data={"Q": Q, "q": q},
    )


def least_squares(rng: np.random.Generator, m: int, d: int) -> tuple[ArrayObjective, ArrayObjective, np.ndarray, float]:
    """Lower max −½‖Aθ − b‖² (A wide), upper ½‖θ − c‖²; returns (lower, upper, θ*, L)."""
    return least_squares_from(rng.standard_normal((m, d)), rng.standard_normal(m), rng.standard_normal(d))


def least_squares_from(A: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[ArrayObjective, ArrayObjective, np.ndarray, float]:
    """:func:`least_squares` with given ``A`` (m × d), ``b`` and ``c``."""
    zeros = lambda th, u, v, D: np.zeros_like(th)  # noqa: E731
    lower = ArrayObjective(
        value=lambda th, D, xp: -0.5 * ((D["A"] @ th - D["b"]) ** 2).sum(),
        grad=lambda th, D: -D["A"].T @ (D["A"] @ th - D["b"]),
        hvp=lambda th, v, D: -D["A"].T @ (D["A"] @ v),
        d3=zeros,
        data={"A": A, "b": b},
    )
    upper = ArrayObjective(
        value=lambda th, D, xp: 0.5 * ((th - D["c"]) ** 2).sum(),
        grad=lambda th, D: th - D["c"],
        hvp=lambda th, v, D: v,
        d3=zeros,
        data={"c": c},
    )
    theta_star = c + np.linalg.pinv(A) @ (b - A @ c)
    return lower, upper, theta_star, float(np.linalg.norm(A, 2) ** 2)


def to_backend(x: np.ndarray, backend: str):
    if backend == "numpy":
        return np.array(x, dtype=np.float64)
    import torch

    return (torch.tensor(x, dtype=torch.float64),)


def make_problem(lower: ArrayObjective, upper: ArrayObjective, theta0: np.ndarray, backend: str, **kw) -> BilevelProblem:
    return BilevelProblem(name="test", lower=lower.to(backend), upper=upper.to(backend), theta0=to_backend(theta0, backend), **kw)


def poly_problem(seed: int, d: int, backend: str, *, sense: str = "max", block=None) -> BilevelProblem:
    """A non-quadratic problem: concave-ish lower (maximised), convex-ish upper, third derivatives ≠ 0."""
    rng = np.random.default_rng(seed)
    lower = poly_objective(spd_matrix(rng, d, 0.5, 3.0), rng.standard_normal(d), c=0.3, a=0.5, sign=-1.0 if sense == "max" else 1.0)
    upper = poly_objective(spd_matrix(rng, d, 1.0, 2.0), rng.standard_normal(d), c=0.2, a=0.3)
    theta0 = 0.5 * rng.standard_normal(d)
    blk = None if block is None else to_backend(np.asarray(block, dtype=float), backend)
    return make_problem(lower, upper, theta0, backend, sense=sense, block=blk, constants=Constants())
