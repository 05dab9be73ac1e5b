"""Hypothesis strategies shared by the whole suite (built constructively, never by rejection).

Matrices come from seeds: a strategy draws sizes, a spectrum and a seed, and numpy builds the
matrix as Q·diag(λ)·Qᵀ (SPD) or U·diag(s)·Vᵀ (rectangular, given rank and condition number).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
from hypothesis import strategies as st

from ofmu_theory.family import FAMILIES

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


# problem families
# Each family declares its small, valid test parameters (``Family.test_params``, a strategy); tests draw
# instances as FAMILIES.get(name).sample(seed=seed, **params). The mappings below list the registry,
# so a new family is drawn by every parametrised family test without an edit here.


class FamilyParams(Mapping[str, st.SearchStrategy[dict]]):
    """The registered families of one kind (convex or not) → their ``test_params()`` strategies.

    Args:
        convex: True for the families in convex/ (``Family.convex``), False for the others.
    """

    def __init__(self, *, convex: bool) -> None:
        import convex as _convex  # noqa: F401, PLC0415  (registers the families)
        import nonconvex as _nonconvex  # noqa: F401, PLC0415

        self.convex = convex

    def __getitem__(self, name: str) -> st.SearchStrategy[dict]:
        cls = FAMILIES.get(name)
        if cls.convex is not self.convex:
            raise KeyError(f"family {name!r} is {'not ' if self.convex else ''}convex")
        return cls.test_params()

    def __iter__(self) -> Iterator[str]:
        return iter([name for name in FAMILIES.names() if FAMILIES.get(name).convex is self.convex])

    def __len__(self) -> int:
        return len(list(iter(self)))


convex_params = FamilyParams(convex=True)
nonconvex_params = FamilyParams(convex=False)


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
