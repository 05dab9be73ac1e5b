"""numpy backend: a parameter vector is one flat float ``np.ndarray``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ofmu_theory.backends import BACKENDS
from ofmu_theory.backends.base import Backend


class NumpyBackend(Backend):
    """Flat float64 (or float32) numpy vectors; no autodiff (families give analytic oracles)."""

    name = "numpy"
    differentiable = False

    def vdot(self, a: np.ndarray, b: np.ndarray) -> np.floating:
        return np.vdot(a, b)

    def axpy(self, alpha: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return alpha * x + y

    def scale(self, alpha: Any, x: np.ndarray) -> np.ndarray:
        return alpha * x

    def mul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x * y

    def div(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x / y

    def map(self, fn: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
        return fn(x)

    def zeros_like(self, x: np.ndarray) -> np.ndarray:
        return np.zeros_like(x)

    def full_like(self, x: np.ndarray, value: float) -> np.ndarray:
        return np.full_like(x, value)

    def numel(self, x: np.ndarray) -> int:
        return int(x.size)

    def isfinite(self, x: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(x)))

    def sqrt(self, s: Any) -> Any:
        return np.sqrt(s)

    def item(self, s: Any) -> float:
        return float(s)

    def detach(self, x: np.ndarray) -> np.ndarray:
        return x

    def copy(self, x: np.ndarray) -> np.ndarray:
        return np.array(x, copy=True)

    def to_numpy(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64).ravel().copy()

    def from_numpy(self, flat: np.ndarray, like: np.ndarray) -> np.ndarray:
        flat = np.asarray(flat)
        if flat.size != like.size:
            raise ValueError(f"cannot shape {flat.size} values like a vector of size {like.size}")
        return flat.astype(like.dtype, copy=True).reshape(like.shape)

    def eps(self, x: np.ndarray) -> float:
        return float(np.finfo(x.dtype).eps)

    def validate(self, x: Any, *, name: str) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy array for the numpy backend, got {type(x).__name__}")
        if x.ndim != 1:
            raise ValueError(f"{name} must be a 1-D vector, got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
        return x


NUMPY = BACKENDS.register("numpy")(NumpyBackend())
