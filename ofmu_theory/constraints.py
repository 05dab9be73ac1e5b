"""Convex constraint sets Θ for constrained lower levels (projected steps, gradient mapping).

With a constraint the lower level's stationarity residual is the (ascent) gradient mapping

    G_η(θ) = (Π_Θ(θ + η ∇Φ(θ)) − θ) / η,

which equals ∇Φ in the interior; the penalty becomes ρ‖G_η‖² and every update is projected.
A constraint supplies the projection Π and its vector-Jacobian product JΠ(x)ᵀw (almost
everywhere; both sets here are polyhedral, so Π is piecewise affine).

Like objectives, a constraint is written once (:class:`ArrayConstraint`, array-API projection +
analytic numpy VJP) and converted with ``.to(backend)``: the torch version differentiates the
same projection code with autograd.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ofmu_theory.backends import Backend, Vec, get_backend


class Constraint(ABC):
    """A closed convex set Θ with projection and its VJP, for one backend."""

    backend: Backend

    @abstractmethod
    def project(self, theta: Vec) -> Vec:
        """Π_Θ(θ)."""

    @abstractmethod
    def project_vjp(self, theta: Vec, w: Vec) -> Vec:
        """JΠ_Θ(θ)ᵀ w."""


@dataclass(frozen=True, kw_only=True)
class ArrayConstraint(ABC):
    """A constraint written once for both backends.

    Subclasses implement ``_project(x, xp)`` (array-API code over a flat vector) and
    ``_project_vjp(x, w)`` (analytic numpy).
    """

    @abstractmethod
    def _project(self, x: Any, xp: ModuleType) -> Any: ...

    @abstractmethod
    def _project_vjp(self, x: np.ndarray, w: np.ndarray) -> np.ndarray: ...

    def contains(self, x: np.ndarray, *, tol: float = 1e-9) -> bool:
        """Whether the flat numpy vector x lies in Θ (up to tol)."""
        return bool(np.linalg.norm(self._project(np.asarray(x), np) - x) <= tol * (1 + np.linalg.norm(x)))

    def to(self, backend: str | Backend) -> Constraint:
        backend = get_backend(backend)
        spec = self
        if backend.name == "numpy":

            class _Numpy(Constraint):
                def project(self, theta: np.ndarray) -> np.ndarray:
                    return spec._project(theta, np)

                def project_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
                    return spec._project_vjp(theta, w)

            out: Constraint = _Numpy()
        else:
            import torch

            class _Torch(Constraint):
                def project(self, theta: tuple[Any, ...]) -> tuple[Any, ...]:
                    with torch.no_grad():
                        return (spec._project(theta[0], torch),)

                def project_vjp(self, theta: tuple[Any, ...], w: tuple[Any, ...]) -> tuple[Any, ...]:
                    with torch.enable_grad():
                        x = theta[0].detach().requires_grad_(True)
                        (g,) = torch.autograd.grad(spec._project(x, torch), x, grad_outputs=w[0])
                    return (g,)

            out = _Torch()
        out.backend = backend
        return out


def _index(mask: np.ndarray | None, n: int) -> np.ndarray:
    return np.arange(n) if mask is None else np.flatnonzero(mask)


@dataclass(frozen=True, kw_only=True)
class Box(ArrayConstraint):
    """Θ = {θ : lo ≤ θ_i ≤ hi for i in the mask} (coordinates outside the mask are free).

    Attributes:
        lo, hi: the bounds (scalars).
        mask: 0/1 array selecting the constrained coordinates (``None``: all).
    """

    lo: float
    hi: float
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.lo < self.hi:
            raise ValueError(f"Box needs lo < hi, got lo={self.lo}, hi={self.hi}")

    def _project(self, x: Any, xp: ModuleType) -> Any:
        if self.mask is None:
            return xp.clip(x, self.lo, self.hi)
        m = xp.asarray(self.mask, dtype=x.dtype) if xp is np else _torch_like(self.mask, x)
        return m * xp.clip(x, self.lo, self.hi) + (1 - m) * x

    def _project_vjp(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        inside = (x > self.lo) & (x < self.hi)
        if self.mask is not None:
            inside = inside | (np.asarray(self.mask) == 0)
        return np.where(inside, w, 0.0)


def _torch_like(arr: np.ndarray, like: Any) -> Any:
    import torch

    return torch.as_tensor(arr, dtype=like.dtype, device=like.device)


def _l1_threshold(abs_x: np.ndarray, radius: float) -> float:
    """τ ≥ 0 with Σ max(|x_i| − τ, 0) = radius (Duchi et al. 2008), for ‖x‖₁ > radius."""
    u = np.sort(abs_x)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, u.size + 1)
    rho = np.nonzero(u * k > css - radius)[0][-1]
    return float((css[rho] - radius) / (rho + 1))


@dataclass(frozen=True, kw_only=True)
class L1Ball(ArrayConstraint):
    """Θ = {θ : ‖θ‖₁ ≤ radius}; projection by sorting (Duchi et al. 2008)."""

    radius: float

    def __post_init__(self) -> None:
        if not self.radius > 0:
            raise ValueError(f"L1Ball radius must be > 0, got {self.radius}")

    def _project(self, x: Any, xp: ModuleType) -> Any:
        if xp is np:
            if np.abs(x).sum() <= self.radius:
                return np.array(x, copy=True)
            tau = _l1_threshold(np.abs(x), self.radius)
            return np.sign(x) * np.maximum(np.abs(x) - tau, 0.0)
        import torch

        if float(torch.abs(x.detach()).sum()) <= self.radius:
            return x.clone()
        tau = _l1_threshold(np.abs(x.detach().cpu().numpy()), self.radius)
        # τ depends on x; recompute it from the active set so autograd sees the dependence.
        active = torch.abs(x.detach()) > tau
        tau_t = (torch.abs(x)[active].sum() - self.radius) / active.sum()
        return torch.sign(x) * torch.clamp(torch.abs(x) - tau_t, min=0.0)

    def _project_vjp(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        if np.abs(x).sum() <= self.radius:
            return np.array(w, copy=True)
        tau = _l1_threshold(np.abs(x), self.radius)
        support = np.abs(x) > tau
        s = np.sign(x) * support
        out = np.where(support, w, 0.0)
        return out - s * (s @ w) / max(int(support.sum()), 1)
