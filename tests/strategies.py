"""Hypothesis strategies shared by the whole suite (built constructively, never by rejection).

Matrices come from seeds: a strategy draws sizes, a spectrum and a seed, and numpy builds the
matrix as Q·diag(λ)·Qᵀ (SPD) or U·diag(s)·Vᵀ (rectangular, given rank and condition number).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

seeds = st.integers(min_value=0, max_value=2**31 - 1)
small_dims = st.integers(min_value=2, max_value=8)
conditions = st.floats(min_value=1.0, max_value=1e3, allow_nan=False, allow_infinity=False)
rhos = st.floats(min_value=1e-2, max_value=1e3, allow_nan=False, allow_infinity=False)
betas = st.sampled_from([0.0, 0.1, 0.5, 1.0])
sims = st.sampled_from(["signed", "squared", "none"])


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A Haar-random orthogonal n×n matrix."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spd_matrix(rng: np.random.Generator, n: int, mu: float, L: float) -> np.ndarray:
    """Q·diag(λ)·Qᵀ with λ log-spaced in [mu, L] (endpoints included)."""
    lam = np.geomspace(mu, L, n) if n > 1 else np.array([L])
    q = orthogonal(rng, n)
    return (q * lam) @ q.T


def rect_matrix(rng: np.random.Generator, m: int, n: int, rank: int, cond: float) -> np.ndarray:
    """U·diag(s)·Vᵀ of the given rank with singular values log-spaced in [1/cond, 1]·(scale 1)."""
    rank = min(rank, m, n)
    s = np.geomspace(1.0, 1.0 / cond, rank) if rank > 1 else np.array([1.0])
    u = orthogonal(rng, m)[:, :rank]
    v = orthogonal(rng, n)[:, :rank]
    return (u * s) @ v.T


@st.composite
def spd_matrices(draw: st.DrawFn, n: st.SearchStrategy[int] = small_dims) -> np.ndarray:
    """SPD matrices with condition number in [1, 1e3]."""
    size, cond, seed = draw(n), draw(conditions), draw(seeds)
    return spd_matrix(np.random.default_rng(seed), size, 1.0, cond)


@st.composite
def vectors(draw: st.DrawFn, n: int, scale: float = 1.0) -> np.ndarray:
    """Standard normal vectors of size n (drawn from a seed)."""
    return scale * np.random.default_rng(draw(seeds)).standard_normal(n)


# nonconvex families
# Small, valid parameters for each family in nonconvex/ (keys are registry names); instances are
# drawn as FAMILIES.get(name).sample(seed=seed, **params). Sizes stay tiny so tests run fast.


@st.composite
def matrix_factorisation_params(draw: st.DrawFn) -> dict:
    """m, n ≥ rank, width ≥ rank, condition number in [1, 100]."""
    rank = draw(st.integers(1, 3))
    return {
        "m": draw(st.integers(rank, 6)),
        "n": draw(st.integers(rank, 6)),
        "rank": rank,
        "width": draw(st.integers(rank, rank + 2)),
        "cond": draw(st.floats(1.0, 100.0)),
        "init_scale": draw(st.floats(0.1, 2.0)),
    }


@st.composite
def two_layer_net_params(draw: st.DrawFn) -> dict:
    """A tiny network and data set; few training steps (tests that need a trained θ_0 set more)."""
    n_classes = draw(st.integers(2, 4))
    return {
        "n_features": draw(st.integers(1, 4)),
        "n_classes": n_classes,
        "hidden": draw(st.integers(1, 6)),
        "n_per_class": draw(st.integers(2, 8)),
        "forget": draw(st.sampled_from(["class", "random"])),
        "forget_class": draw(st.integers(0, n_classes - 1)),
        "lam": draw(st.sampled_from([0.0, 1e-3, 0.1])),
        "train_steps": draw(st.integers(0, 10)),
    }


nonconvex_params = {
    "shen_chen": st.just({}),
    "bome_toy": st.fixed_dictionaries({"init_scale": st.floats(0.1, 3.0)}),
    "matrix_factorisation": matrix_factorisation_params(),
    "two_layer_net": two_layer_net_params(),
}


# convex families
# Small, valid parameters for each family in convex/ (keys are registry names); instances are drawn
# as FAMILIES.get(name).sample(seed=seed, **params). Sizes and spectra stay small so tests run fast.


@st.composite
def least_squares_params(draw: st.DrawFn) -> dict:
    """A wide m×d matrix (d > m) of rank ≤ m, condition number in [1, 1e3], ‖A‖ in [0.5, 2]."""
    m = draw(st.integers(1, 5))
    return {
        "m": m,
        "d": draw(st.integers(m + 1, m + 6)),
        "rank": draw(st.integers(1, m)),
        "cond": draw(conditions),
        "scale": draw(st.floats(0.5, 2.0)),
    }


@st.composite
def coupled_quadratic_params(draw: st.DrawFn) -> dict:
    """x ∈ R^n, y ∈ R^p, A ∈ R^{p×n} with condition number in [1, 1e3]."""
    return {
        "n": draw(st.integers(1, 4)),
        "p": draw(st.integers(1, 5)),
        "cond": draw(conditions),
        "scale": draw(st.floats(0.5, 2.0)),
    }


@st.composite
def wide_quadratic_params(draw: st.DrawFn) -> dict:
    """C ∈ R^{q×p} wide (p > q) of rank ≤ q, B ∈ R^{q×n}."""
    q = draw(st.integers(1, 3))
    return {
        "n": draw(st.integers(1, 3)),
        "p": draw(st.integers(q + 1, q + 4)),
        "q": q,
        "rank": draw(st.integers(1, q)),
        "cond": draw(st.floats(1.0, 100.0)),
        "scale": draw(st.floats(0.5, 2.0)),
    }


@st.composite
def l1_regression_params(draw: st.DrawFn) -> dict:
    """Forget rows n_t < d, retain rows n_v ≥ d, a sparse planted model."""
    n_t = draw(st.integers(1, 4))
    d = draw(st.integers(n_t + 2, n_t + 8))
    return {
        "n_t": n_t,
        "d": d,
        "n_v": draw(st.integers(d, d + 10)),
        "nnz": draw(st.integers(1, min(3, d))),
        "noise": draw(st.sampled_from([0.05, 0.1, 0.5])),
        "radius_frac": draw(st.floats(0.2, 0.8)),
    }


@st.composite
def logistic_forget_params(draw: st.DrawFn) -> dict:
    """Forget rows n_f < d, ridge weight in [0.01, 1], target probability in [0.1, 0.9]."""
    n_f = draw(st.integers(1, 4))
    return {
        "n_r": draw(st.integers(1, 20)),
        "n_f": n_f,
        "d": draw(st.integers(n_f + 1, n_f + 5)),
        "lam": draw(st.floats(0.01, 1.0)),
        "p": draw(st.floats(0.1, 0.9)),
    }


convex_params = {
    "least_squares_projection": least_squares_params(),
    "coupled_quadratic": coupled_quadratic_params(),
    "wide_quadratic": wide_quadratic_params(),
    "l1_regression": l1_regression_params(),
    "logistic_forget": logistic_forget_params(),
}


# nonconvex families (continued)


@st.composite
def hyper_cleaning_params(draw: st.DrawFn) -> dict:
    """A few noisy training and clean validation rows, ridge weight in [0.01, 1]."""
    return {
        "n_train": draw(st.integers(1, 12)),
        "n_val": draw(st.integers(1, 12)),
        "n_features": draw(st.integers(1, 4)),
        "n_classes": draw(st.integers(2, 4)),
        "corruption": draw(st.floats(0.0, 0.5)),
        "reg": draw(st.floats(0.01, 1.0)),
    }


nonconvex_params["hyper_cleaning"] = hyper_cleaning_params()


# solver parts (constraints, transforms, step sizes)

step_sizes = st.floats(min_value=-3.0, max_value=1.0).map(lambda e: 10.0**e)
"""Step sizes log-uniform in [1e-3, 10]: from timid to far past any stable step."""


@st.composite
def constraint_sets(draw: st.DrawFn, d: int):
    """An ℓ1 ball (radius in [0.05, 2]) or a box [lo, hi] (possibly masked) in R^d."""
    from ofmu_theory import Box, L1Ball

    if draw(st.booleans()):
        return L1Ball(radius=draw(st.floats(0.05, 2.0)))
    lo = draw(st.floats(-1.0, 0.5))
    mask = np.random.default_rng(draw(seeds)).integers(0, 2, d).astype(float) if draw(st.booleans()) else None
    return Box(lo=lo, hi=lo + draw(st.floats(0.05, 1.5)), mask=mask)


@st.composite
def transforms(draw: st.DrawFn):
    """SGD, heavy-ball momentum (optionally Nesterov) or Adam, with optional weight decay and clipping."""
    from ofmu_theory import Adam, Momentum, Sgd

    decay = draw(st.sampled_from([0.0, 0.0, 0.01, 0.5]))
    clip = draw(st.sampled_from([None, None, 0.5]))
    kind = draw(st.sampled_from(["sgd", "momentum", "adam"]))
    if kind == "sgd":
        return Sgd(weight_decay=decay, clip_norm=clip)
    if kind == "momentum":
        return Momentum(momentum=draw(st.floats(0.0, 0.95)), nesterov=draw(st.booleans()), weight_decay=decay, clip_norm=clip)
    return Adam(weight_decay=decay, clip_norm=clip)
