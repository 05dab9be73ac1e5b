"""Losses of the convex families, each written once as array-API code plus analytic numpy oracles.

Every loss comes as a private ``_x_value(theta, data, xp)`` (numpy or torch), ``_x_grad``,
``_x_hvp`` and ``_x_d3`` (∇_θ⟨∇²L(θ)u, v⟩) in numpy; :func:`quadratic`, :func:`mean_quadratic`,
:func:`soft_label_ce` and :func:`logistic` assemble them into an
:class:`~ofmu_theory.objectives.ArrayObjective`.
"""

from __future__ import annotations

from functools import partial
from types import ModuleType
from typing import Any

import numpy as np
from scipy.special import expit

from ofmu_theory.objectives import ArrayObjective


def zero_d3(theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    """The third-order product of a quadratic: 0."""
    return np.zeros_like(theta)


# --- s·½‖Jθ − e‖² (no rows: a deterministic objective) ----------------------------------------
def _sq_value(theta: Any, data: Any, xp: ModuleType, *, sign: float) -> Any:
    r = data["J"] @ theta - data["e"]  # (k,)
    return sign * 0.5 * xp.sum(r**2)


def _sq_grad(theta: np.ndarray, data: Any, *, sign: float) -> np.ndarray:
    return sign * (data["J"].T @ (data["J"] @ theta - data["e"]))


def _sq_hvp(theta: np.ndarray, v: np.ndarray, data: Any, *, sign: float) -> np.ndarray:
    return sign * (data["J"].T @ (data["J"] @ v))


def quadratic(J: np.ndarray, e: np.ndarray, *, sign: float = 1.0) -> ArrayObjective:
    """L(θ) = s·½‖Jθ − e‖² (s = ``sign``); ∇L = s·Jᵀ(Jθ − e), ∇²L = s·JᵀJ, D³L = 0."""
    return ArrayObjective(
        value=partial(_sq_value, sign=sign),
        grad=partial(_sq_grad, sign=sign),
        hvp=partial(_sq_hvp, sign=sign),
        d3=zero_d3,
        data={"J": J, "e": e},
    )


# --- s·(1/2n)‖Aθ − b‖² (rows: a mini-batch is an unbiased estimate) ---------------------------
def _msq_value(theta: Any, data: Any, xp: ModuleType, *, sign: float) -> Any:
    r = data["A"] @ theta - data["b"]  # (n,)
    return sign * 0.5 * xp.mean(r**2)


def _msq_grad(theta: np.ndarray, data: Any, *, sign: float) -> np.ndarray:
    a = data["A"]
    return sign * (a.T @ (a @ theta - data["b"])) / len(a)


def _msq_hvp(theta: np.ndarray, v: np.ndarray, data: Any, *, sign: float) -> np.ndarray:
    a = data["A"]
    return sign * (a.T @ (a @ v)) / len(a)


def mean_quadratic(A: np.ndarray, b: np.ndarray, *, sign: float = 1.0) -> ArrayObjective:
    """L(θ) = s·(1/2n)Σᵢ(aᵢᵀθ − bᵢ)² over the rows (aᵢ, bᵢ) of (A, b); rows are batchable."""
    return ArrayObjective(
        value=partial(_msq_value, sign=sign),
        grad=partial(_msq_grad, sign=sign),
        hvp=partial(_msq_hvp, sign=sign),
        d3=zero_d3,
        data={"A": A, "b": b},
        row_keys=("A", "b"),
    )


# --- logistic pieces --------------------------------------------------------------------------
def softplus(z: Any, xp: ModuleType) -> Any:
    """log(1 + eᶻ) without overflow, for numpy and torch (autograd-exact at every z)."""
    return xp.logaddexp(xp.zeros_like(z), z)


def _dsigmoid(z: np.ndarray) -> np.ndarray:
    """σ'(z) = σ(z)σ(−z)."""
    return expit(z) * expit(-z)


# --- −(1/n)Σ CE(pᵢ, σ(xᵢᵀθ)): the concave soft-label forget loss -----------------------------
def _ce_value(theta: Any, data: Any, xp: ModuleType) -> Any:
    z = data["X"] @ theta  # (n,)
    # CE(p, σ(z)) = −p log σ(z) − (1 − p) log σ(−z) = softplus(z) − p z
    return -xp.mean(softplus(z, xp) - data["p"] * z)


def _ce_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    x = data["X"]
    return -(x.T @ (expit(x @ theta) - data["p"])) / len(x)


def _ce_hvp(theta: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    x = data["X"]
    return -(x.T @ (_dsigmoid(x @ theta) * (x @ v))) / len(x)


def _ce_d3(theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    x = data["X"]
    z = x @ theta
    d2 = _dsigmoid(z) * (1.0 - 2.0 * expit(z))  # σ''(z)
    return -(x.T @ (d2 * (x @ u) * (x @ v))) / len(x)


def soft_label_ce(X: np.ndarray, p: np.ndarray) -> ArrayObjective:
    """L_f(θ) = −(1/n)Σᵢ CE(pᵢ, σ(xᵢᵀθ)) = −(1/n)Σᵢ [softplus(xᵢᵀθ) − pᵢ xᵢᵀθ] (concave).

    ∇L_f = −(1/n)Xᵀ(σ(Xθ) − p), ∇²L_f = −(1/n)Xᵀdiag(σ')X, D³L_f[u, v] = −(1/n)Xᵀ(σ''⊙Xu⊙Xv).
    """
    return ArrayObjective(value=_ce_value, grad=_ce_grad, hvp=_ce_hvp, d3=_ce_d3, data={"X": X, "p": p}, row_keys=("X", "p"))


# --- (1/n)Σ log(1 + exp(−yᵢxᵢᵀθ)) + λ/2‖θ‖²: the retain loss ---------------------------------
def _lg_value(theta: Any, data: Any, xp: ModuleType, *, lam: float) -> Any:
    w = data["y"] * (data["X"] @ theta)  # (n,) margins
    return xp.mean(softplus(-w, xp)) + 0.5 * lam * xp.sum(theta**2)


def _lg_grad(theta: np.ndarray, data: Any, *, lam: float) -> np.ndarray:
    x, y = data["X"], data["y"]
    w = y * (x @ theta)
    return -(x.T @ (y * expit(-w))) / len(x) + lam * theta


def _lg_hvp(theta: np.ndarray, v: np.ndarray, data: Any, *, lam: float) -> np.ndarray:
    x, y = data["X"], data["y"]
    w = y * (x @ theta)
    return (x.T @ (_dsigmoid(w) * (x @ v))) / len(x) + lam * v


def _lg_d3(theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Any, *, lam: float) -> np.ndarray:
    x, y = data["X"], data["y"]
    w = y * (x @ theta)
    h3 = _dsigmoid(w) * (1.0 - 2.0 * expit(w))  # d³/dw³ softplus(−w); times y³ = y below
    return (x.T @ (h3 * y * (x @ u) * (x @ v))) / len(x)


def logistic(X: np.ndarray, y: np.ndarray, *, lam: float) -> ArrayObjective:
    """L_r(θ) = (1/n)Σᵢ log(1 + exp(−yᵢxᵢᵀθ)) + λ/2‖θ‖², labels yᵢ ∈ {−1, 1}.

    With wᵢ = yᵢxᵢᵀθ: ∇L_r = −(1/n)Xᵀ(y⊙σ(−w)) + λθ, ∇²L_r = (1/n)Xᵀdiag(σ'(w))X + λI,
    D³L_r[u, v] = (1/n)Xᵀ(σ'(w)(1 − 2σ(w)) ⊙ y ⊙ Xu ⊙ Xv).
    """
    return ArrayObjective(
        value=partial(_lg_value, lam=lam),
        grad=partial(_lg_grad, lam=lam),
        hvp=partial(_lg_hvp, lam=lam),
        d3=partial(_lg_d3, lam=lam),
        data={"X": X, "y": y},
        row_keys=("X", "y"),
    )
