"""Update transforms (optax-style pairs of pure functions): what a solver does with a gradient.

The theory runs use :class:`Sgd` (the update is the gradient itself); model unlearning uses
:class:`Adam` (AdamW: decoupled weight decay is applied by the solver as θ ← θ − η·wd·θ).
Both clip the incoming gradient to ``clip_norm`` when it is set.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from ofmu_theory.backends import Backend, Vec
from ofmu_theory.states import STATES


class Transform(ABC):
    weight_decay: float = 0.0
    clip_norm: float | None = None

    @abstractmethod
    def init(self, backend: Backend, theta: Vec) -> Any:
        """The transform's state for parameters shaped like θ."""

    @abstractmethod
    def update(self, backend: Backend, grad: Vec, state: Any, theta: Vec | None = None) -> tuple[Vec, Any]:
        """(update direction u, new state) for the gradient at θ; the solver moves θ by ∓η·u."""

    def _clip(self, backend: Backend, grad: Vec) -> Vec:
        if self.clip_norm is None:
            return grad
        norm = backend.item(backend.norm(grad))
        return grad if norm <= self.clip_norm else backend.scale(self.clip_norm / norm, grad)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": type(self).__name__, **asdict(self)}  # type: ignore[call-overload]


def _check(weight_decay: float, clip_norm: float | None) -> None:
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if clip_norm is not None and not (math.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be > 0 or None, got {clip_norm!r}")


@dataclass(frozen=True)
class Sgd(Transform):
    """u = g (plain gradient steps)."""

    weight_decay: float = 0.0
    clip_norm: float | None = None

    def __post_init__(self) -> None:
        _check(self.weight_decay, self.clip_norm)

    def init(self, backend: Backend, theta: Vec) -> None:
        return None

    def update(self, backend: Backend, grad: Vec, state: None, theta: Vec | None = None) -> tuple[Vec, None]:
        return self._clip(backend, grad), None


@dataclass(frozen=True)
class Momentum(Transform):
    """Heavy-ball momentum (PyTorch's SGD convention): m ← μm + g; u = m (or g + μm, Nesterov).

    ``coupled_weight_decay`` is PyTorch SGD's ``weight_decay`` (g ← g + wd·θ before the momentum);
    ``weight_decay`` is the decoupled kind the solver applies (θ ← θ − η·wd·θ).
    """

    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    clip_norm: float | None = None
    coupled_weight_decay: float = 0.0

    def __post_init__(self) -> None:
        _check(self.weight_decay, self.clip_norm)
        _check(self.coupled_weight_decay, None)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")

    def init(self, backend: Backend, theta: Vec) -> Vec | None:
        return None

    def update(self, backend: Backend, grad: Vec, state: Vec | None, theta: Vec | None = None) -> tuple[Vec, Vec]:
        b = backend
        g = self._clip(b, b.detach(grad))
        if self.coupled_weight_decay:
            if theta is None:
                raise ValueError("Momentum with coupled_weight_decay needs theta")
            g = b.axpy(self.coupled_weight_decay, b.detach(theta), g)
        m = g if state is None else b.axpy(self.momentum, state, g)
        return (b.axpy(self.momentum, m, g) if self.nesterov else m), m


@STATES.register("adam_state")
class AdamState(NamedTuple):
    count: int
    m: Vec
    v: Vec


@dataclass(frozen=True)
class Adam(Transform):
    """u = m̂/(√v̂ + eps) with bias-corrected moments (Kingma & Ba); AdamW with weight_decay > 0."""

    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    clip_norm: float | None = None

    def __post_init__(self) -> None:
        _check(self.weight_decay, self.clip_norm)
        if not (0 <= self.b1 < 1 and 0 <= self.b2 < 1):
            raise ValueError(f"b1 and b2 must be in [0, 1), got b1={self.b1}, b2={self.b2}")
        if not self.eps > 0:
            raise ValueError(f"eps must be > 0, got {self.eps}")

    def init(self, backend: Backend, theta: Vec) -> AdamState:
        return AdamState(0, backend.zeros_like(theta), backend.zeros_like(theta))

    def update(self, backend: Backend, grad: Vec, state: AdamState, theta: Vec | None = None) -> tuple[Vec, AdamState]:
        b = backend
        g = self._clip(b, b.detach(grad))
        count = state.count + 1
        u, m, v = b.adam_step(g, state.m, state.v, b1=self.b1, b2=self.b2, eps=self.eps, count=count)
        return u, AdamState(count, m, v)
