"""Helpers shared by the convex families: parameter checks and seeded random matrices."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

MAX_COND = 1e6
"""Largest condition number a family accepts (keeps pseudo-inverses and references accurate in float64)."""


def reject_unknown(family: str, sample: Callable[..., Any], unknown: Mapping[str, Any]) -> None:
    """A ValueError naming the first unknown parameter and listing the valid ones of ``sample``."""
    if unknown:
        valid = [n for n, p in inspect.signature(sample).parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        bad = sorted(unknown)[0]
        raise ValueError(f"unknown parameter {bad!r} for {family}; valid parameters: {', '.join(valid)}")


def check_seed(seed: object) -> int:
    """A seed for ``np.random.default_rng``: a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got seed={seed!r}")
    return int(seed)


def check_int(name: str, value: object, *, low: int, high: int | None = None, why: str = "") -> int:
    """``value`` as an int in [low, high]; a ValueError naming ``name`` otherwise."""
    reason = f" ({why})" if why else ""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {name}={value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}{reason}, got {name}={value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}{reason}, got {name}={value}")
    return int(value)


def check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """``value`` as a finite float in the interval given; a ValueError naming ``name`` otherwise."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {name}={value!r}") from None
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {name}={value!r}")
    if low is not None and (x < low or (open_low and x == low)):
        raise ValueError(f"{name} must be {'>' if open_low else '>='} {low}, got {name}={value!r}")
    if high is not None and (x > high or (open_high and x == high)):
        raise ValueError(f"{name} must be {'<' if open_high else '<='} {high}, got {name}={value!r}")
    return x


def check_rho(rho: object) -> float:
    """A penalty parameter ρ ≥ 0 (ρ = 0 gives the upper level's own minimiser)."""
    return check_float("rho", rho, low=0.0)


def orthonormal_columns(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """The first k columns of a Haar-random orthogonal n×n matrix."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r)))[:, :k]


def spectral_matrix(rng: np.random.Generator, m: int, n: int, *, rank: int, cond: float, scale: float) -> np.ndarray:
    """U·diag(s)·Vᵀ (m×n) of the given rank, s log-spaced from ``scale`` down to ``scale/cond``.

    U and V are Haar-random (U drawn first); the rank-th singular value is exactly ``scale/cond``
    (with rank 1 the only singular value is ``scale`` and ``cond`` plays no role).
    """
    s = scale * (np.geomspace(1.0, 1.0 / cond, rank) if rank > 1 else np.ones(1))
    u = orthonormal_columns(rng, m, rank)
    v = orthonormal_columns(rng, n, rank)
    return (u * s) @ v.T


def pinv_rank(a: np.ndarray, rank: int) -> np.ndarray:
    """Moore–Penrose pseudo-inverse of a matrix whose rank is known (SVD truncated at ``rank``).

    Truncating at the known rank, rather than at a relative cutoff, keeps the round-off
    singular values (~1e-16·‖a‖) of a constructed rank-deficient matrix out of the inverse.
    """
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return (vt[:rank].T / s[:rank]) @ u[:, :rank].T

