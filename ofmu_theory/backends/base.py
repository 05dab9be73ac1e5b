"""The backend contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

Vec = Any
"""A parameter vector: ``np.ndarray`` (numpy backend) or ``tuple[torch.Tensor, ...]`` (torch)."""
Scalar = Any
"""A backend scalar: a numpy float or a 0-d tensor (possibly part of an autograd graph)."""


class Backend(ABC):
    """Vector arithmetic and (for autodiff backends) differentiation hooks.

    Attributes:
        name: registry name.
        differentiable: True when ``requires_grad``/``vjp``/``jvp`` are available, i.e. the
            exact Hessian-vector product of Φ can be taken through an autograd graph.
    """

    name: str = ""
    differentiable: bool = False

    # --- vector space -------------------------------------------------------------------
    @abstractmethod
    def vdot(self, a: Vec, b: Vec) -> Scalar:
        """Inner product ⟨a, b⟩ (accumulated in at least float32)."""

    def norm(self, a: Vec) -> Scalar:
        """Euclidean norm ‖a‖."""
        return self.sqrt(self.vdot(a, a))

    @abstractmethod
    def axpy(self, alpha: float | Scalar, x: Vec, y: Vec) -> Vec:
        """α·x + y."""

    @abstractmethod
    def scale(self, alpha: float | Scalar, x: Vec) -> Vec:
        """α·x."""

    def axpby(self, alpha: float, x: Vec, beta: float, y: Vec) -> Vec:
        """α·x + β·y (α, β Python floats)."""
        return self.axpy(alpha, x, self.scale(beta, y))

    def add(self, x: Vec, y: Vec) -> Vec:
        """x + y."""
        return self.axpy(1.0, x, y)

    def sub(self, x: Vec, y: Vec) -> Vec:
        """x − y."""
        return self.axpy(-1.0, y, x)

    @abstractmethod
    def mul(self, x: Vec, y: Vec) -> Vec:
        """Elementwise product (used for block and update masks)."""

    @abstractmethod
    def div(self, x: Vec, y: Vec) -> Vec:
        """Elementwise quotient."""

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], x: Vec) -> Vec:
        """Apply an elementwise array function (``np.sqrt``-like for numpy, ``torch.sqrt``-like for torch)."""

    def sqrt_plus(self, x: Vec, eps: float) -> Vec:
        """Elementwise √x + eps (Adam's denominator)."""
        return self.map(lambda t: t**0.5 + eps, x)

    def adam_step(self, g: Vec, m: Vec, v: Vec, *, b1: float, b2: float, eps: float, count: int) -> tuple[Vec, Vec, Vec]:
        """Adam's moments and direction (u, m', v'): m' = b1·m + (1 − b1)·g, v' = b2·v + (1 − b2)·g²,
        u = (m'/(1 − b1^count)) / (√(v'/(1 − b2^count)) + eps). Backends may fuse it (same operations)."""
        m = self.axpy(1 - b1, g, self.scale(b1, m))
        v = self.axpy(1 - b2, self.mul(g, g), self.scale(b2, v))
        denom = self.sqrt_plus(self.scale(1.0 / (1 - b2**count), v), eps)
        return self.div(self.scale(1.0 / (1 - b1**count), m), denom), m, v

    @abstractmethod
    def zeros_like(self, x: Vec) -> Vec:
        """A zero vector with the structure of x."""

    @abstractmethod
    def full_like(self, x: Vec, value: float) -> Vec:
        """A constant vector with the structure of x."""

    @abstractmethod
    def numel(self, x: Vec) -> int:
        """Number of scalar entries."""

    @abstractmethod
    def isfinite(self, x: Vec) -> bool:
        """True when every entry is finite."""

    @abstractmethod
    def sqrt(self, s: Scalar) -> Scalar:
        """Square root of a backend scalar (differentiable where the backend is)."""

    @abstractmethod
    def item(self, s: Scalar) -> float:
        """A backend scalar as a Python float."""

    @abstractmethod
    def detach(self, x: Vec) -> Vec:
        """The same values, cut from any autograd graph."""

    @abstractmethod
    def copy(self, x: Vec) -> Vec:
        """An independent copy."""

    @abstractmethod
    def to_numpy(self, x: Vec) -> np.ndarray:
        """All entries as one flat float64 numpy array."""

    @abstractmethod
    def from_numpy(self, flat: np.ndarray, like: Vec) -> Vec:
        """Inverse of :meth:`to_numpy` with the structure, dtype and device of ``like``."""

    @abstractmethod
    def eps(self, x: Vec) -> float:
        """Machine epsilon of x's floating dtype."""

    @abstractmethod
    def validate(self, x: Vec, *, name: str) -> Vec:
        """Check that x is a vector of this backend (type, floating dtype); return it normalised."""

    # --- differentiation (autodiff backends only) --------------------------------------
    def requires_grad(self, x: Vec) -> Vec:
        """Leaves that record an autograd graph."""
        raise NotImplementedError(f"the {self.name} backend has no autograd")

    def vjp(self, out: Vec, wrt: Vec, cotangent: Vec) -> Vec:
        """Jᵀ·cotangent for ``out`` computed from ``wrt`` with a graph."""
        raise NotImplementedError(f"the {self.name} backend has no autograd")

    def jvp(self, fn: Callable[[Vec], Vec], x: Vec, tangent: Vec) -> Vec:
        """Forward-mode directional derivative J_fn(x)·tangent."""
        raise NotImplementedError(f"the {self.name} backend has no forward-mode autodiff")
