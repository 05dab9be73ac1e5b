"""Helpers shared by the non-convex families: parameter validation (errors name the bad
parameter), identity equality, read-only arrays, small dense third-order tensors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class IdentityEq:
    """Equality and hashing by identity.

    A family instance holds numpy arrays, so the dataclass ``__eq__`` would raise on them, and
    :class:`~ofmu_theory.family.Family`'s own (with ``eq=False`` below it) compares only the seed,
    calling instances with the same seed but different parameters equal. Mixed in before Family.
    """

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def merge_params(family: str, defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with ``given``; an unknown name raises a ValueError listing the valid ones."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "(none)"
        raise ValueError(f"unknown parameter {unknown[0]!r} for {family}; valid parameters: {valid}")
    return {**defaults, **given}


def check_seed(seed: Any) -> int:
    """A seed is an integer >= 0 (what ``np.random.default_rng`` accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed=!r}")
    return int(seed)


def check_int(name: str, value: Any, *, low: int, high: int | None = None) -> int:
    """An integer in [low, high]."""
    bad = isinstance(value, bool) or not isinstance(value, (int, np.integer))
    if bad or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {bound}, got {name}={value!r}")
    return int(value)


def check_float(name: str, value: Any, *, low: float, high: float = np.inf, low_open: bool = False) -> float:
    """A finite real number in [low, high] (or (low, high] with ``low_open``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = np.nan
    too_low = x <= low if low_open else x < low
    if isinstance(value, bool) or not np.isfinite(x) or too_low or x > high:
        left = "(" if low_open else "["
        raise ValueError(f"{name} must be a finite number in {left}{low}, {high}], got {name}={value!r}")
    return x


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {name}={value!r}")
    return str(value)


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only float64 copy (instances are frozen; so is their data)."""
    out = np.array(a, dtype=np.float64 if np.issubdtype(np.asarray(a).dtype, np.floating) else None, copy=True)
    out.setflags(write=False)
    return out


def sym_d3(t: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Σ_ij T_ijk u_i v_j for a dense symmetric third-order tensor T (small families)."""
    return np.einsum("ijk,i,j->k", t, u, v)


def sym_tensor2(xxx: float, xxy: float, xyy: float, yyy: float) -> np.ndarray:
    """The symmetric 2×2×2 tensor with the given distinct entries (index 0 = x, 1 = y)."""
    t = np.empty((2, 2, 2))
    t[0, 0, 0] = xxx
    t[0, 0, 1] = t[0, 1, 0] = t[1, 0, 0] = xxy
    t[0, 1, 1] = t[1, 0, 1] = t[1, 1, 0] = xyy
    t[1, 1, 1] = yyy
    return t
