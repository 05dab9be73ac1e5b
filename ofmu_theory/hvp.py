"""Hessian-vector product strategies, for the losses (H_f p, H_r q inside ∇Φ) and for Φ itself.

* ``exact``   — the objective's own second-order oracle (analytic for numpy families, double
  backward for torch); ∇²Φ·w by one more backward pass through the graph of ∇Φ (torch) or by
  the analytic formula with third-order oracles (numpy).
* ``fd``      — central (or forward) differences of gradients: first-order only, so it works
  with any kernel (fused attention) and at scale; relative step h = ε(1 + rms θ)/rms v.
* ``fwd_rev`` — forward-mode differentiation (dual tensors) of the reverse-mode gradient (torch).

A strategy is chosen by name (``make_strategy``); register a new one with ``@HVP_STRATEGIES.register``.
A strategy sees the evaluator that owns it only through :class:`Oracles` (the oracles it may call and the
counts it adds to), so this module does not import :mod:`ofmu_theory.evaluator`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from ofmu_theory.backends import Backend, Vec
from ofmu_theory.objectives import Batch, Objective
from ofmu_theory.oracle_types import CallCounts, PhiPoint
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.registry import Registry
from ofmu_theory.sampler import Batches


class Oracles(Protocol):
    """What a strategy may use of its evaluator (:class:`ofmu_theory.evaluator.Evaluator` is one).

    A strategy adds the products it takes itself to ``counts`` (``hvp`` for ∇²L·v, ``third`` for a
    product through the graph of ∇Φ_β when β > 0, ``grad`` for each gradient of a finite difference);
    the oracles below count their own calls.
    """

    problem: BilevelProblem
    backend: Backend
    counts: CallCounts
    graph_reduce: Callable[[Vec], Vec] | None  # data parallel: averages a graph-derived product over ranks

    @property
    def uses_similarity(self) -> bool:
        """β > 0 and a similarity term: ∇²Φ_β·w is then third order in the losses."""

    def exact_hvp(self, objective: Objective, theta: Vec, v: Vec, batch: Batch, *, create_graph: bool = False) -> Vec:
        """∇²L(θ)·v by the objective's own second-order oracle (counted)."""

    def phi_hvp_analytic(self, theta: Vec, v: Vec, batches: Batches) -> Vec:
        """∇²Φ_β(θ)·v by the closed-form derivative of ∇Φ_β (third-order oracles; counted)."""

    def phi(self, theta: Vec, batches: Batches, *, create_graph: bool = False, coin: int | None = None) -> PhiPoint:
        """Φ_β, ∇Φ_β and R at θ (counted)."""


class HVPStrategy(ABC):
    """How ∇²L·v and ∇²Φ·w are computed."""

    name: str = ""

    def check(self, ev: Oracles) -> None:
        """Raise a ValueError when the strategy cannot run on ``ev``'s problem."""

    def needs_graph(self, ev: Oracles) -> bool:
        """Whether F_ρ's evaluation point must be built with an autograd graph."""
        return False

    @abstractmethod
    def loss_hvp(self, ev: Oracles, objective: Objective, theta: Vec, v: Vec, batch: Batch, *, g0: Vec | None) -> Vec:
        """∇²L(θ)·v for one loss (``g0`` = ∇L(θ) when already known)."""

    @abstractmethod
    def phi_hvp(self, ev: Oracles, theta: Vec, w: Vec, batches: Batches, point: PhiPoint) -> Vec:
        """∇²Φ_β(θ)·w (``point`` = the Φ evaluation at θ, with a graph if ``needs_graph``)."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}


HVP_STRATEGIES: Registry[type[HVPStrategy]] = Registry("HVP strategy")
FD_SCHEMES: tuple[str, ...] = ("central", "forward")


def make_strategy(name: str, *, fd_eps: float | None = None, fd_scheme: str = "central") -> HVPStrategy:
    """Build the strategy called ``name``; finite-difference options apply to "fd" only."""
    cls = HVP_STRATEGIES.get(name)
    if cls is FiniteDifference:
        return FiniteDifference(eps=fd_eps, scheme=fd_scheme)
    return cls()


def _reduced(ev: Oracles, x: Vec) -> Vec:
    return x if ev.graph_reduce is None else ev.graph_reduce(x)


def _third_or_second(ev: Oracles) -> None:
    if ev.uses_similarity:
        ev.counts.third += 1
    else:
        ev.counts.hvp += 1


@HVP_STRATEGIES.register("exact")
class Exact(HVPStrategy):
    name = "exact"

    def check(self, ev: Oracles) -> None:
        p = ev.problem
        if ev.backend.differentiable or not ev.uses_similarity:
            return
        if not (p.lower.has_third_order and p.upper.has_third_order):
            raise ValueError(
                f"hvp='exact' with beta > 0 needs third-order oracles on the {ev.backend.name} backend and "
                f"problem {p.name!r} provides none; use hvp='fd' or the torch backend"
            )

    def needs_graph(self, ev: Oracles) -> bool:
        return ev.backend.differentiable

    def loss_hvp(self, ev, objective, theta, v, batch, *, g0):
        return ev.exact_hvp(objective, theta, v, batch)

    def phi_hvp(self, ev, theta, w, batches, point):
        if point.graph:
            _third_or_second(ev)
            return _reduced(ev, ev.backend.vjp(point.grad_phi, theta, w))
        return ev.phi_hvp_analytic(theta, w, batches)


@HVP_STRATEGIES.register("fd")
class FiniteDifference(HVPStrategy):
    """Finite differences of gradients with step h = eps·(1 + rms(θ))/rms(v).

    Args:
        eps: base relative step (default ε_mach^(1/3) central, ε_mach^(1/2) forward).
        scheme: "central" (error O(h²), two gradients) or "forward" (O(h), one gradient).
    """

    name = "fd"

    def __init__(self, *, eps: float | None = None, scheme: str = "central") -> None:
        if scheme not in FD_SCHEMES:
            raise ValueError(f"fd_scheme must be 'central' or 'forward', got {scheme!r}")
        if eps is not None and not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"fd_eps must be a finite number > 0, got fd_eps={eps!r}")
        self.eps, self.scheme = eps, scheme

    def step(self, ev: Oracles, theta: Vec, v: Vec) -> float:
        b = ev.backend
        n = b.numel(theta)
        v_rms = b.item(b.norm(v)) / math.sqrt(n)
        if v_rms == 0.0:
            return 0.0
        base = self.eps or b.eps(theta) ** (1 / 3 if self.scheme == "central" else 1 / 2)
        theta_rms = b.item(b.norm(b.detach(theta))) / math.sqrt(n)
        return base * (1.0 + theta_rms) / v_rms

    def _difference(self, ev: Oracles, fn: Any, theta: Vec, v: Vec, f0: Vec | None) -> Vec:
        b = ev.backend
        h = self.step(ev, theta, v)
        if h == 0.0:
            return b.zeros_like(v)
        theta = b.detach(theta)
        plus = fn(b.axpy(h, v, theta))
        if self.scheme == "forward":
            base = f0 if f0 is not None else fn(theta)
            return b.scale(1.0 / h, b.sub(plus, b.detach(base)))
        minus = fn(b.axpy(-h, v, theta))
        return b.scale(0.5 / h, b.sub(plus, minus))

    def loss_hvp(self, ev, objective, theta, v, batch, *, g0):
        def grad(at: Vec) -> Vec:
            ev.counts.grad += 1
            return objective.value_and_grad(at, batch)[1]

        return self._difference(ev, grad, theta, v, g0)

    def phi_hvp(self, ev, theta, w, batches, point):
        # the same estimator at θ ± h·w as at θ (the randomised one's pick included: common random numbers)
        return self._difference(ev, lambda at: ev.phi(at, batches, coin=point.coin).grad_phi, theta, w, point.grad_phi)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "eps": self.eps, "scheme": self.scheme}


@HVP_STRATEGIES.register("fwd_rev")
class ForwardOverReverse(HVPStrategy):
    name = "fwd_rev"

    def check(self, ev: Oracles) -> None:
        if not ev.backend.differentiable:
            raise ValueError(f"hvp='fwd_rev' needs an autodiff backend (torch); problem uses {ev.backend.name}")

    def loss_hvp(self, ev, objective, theta, v, batch, *, g0):
        ev.counts.hvp += 1
        return objective.hvp_fwd_rev(theta, v, batch)

    def phi_hvp(self, ev, theta, w, batches, point):
        _third_or_second(ev)
        return _reduced(ev, ev.backend.jvp(lambda at: ev.phi(at, batches, create_graph=True, coin=point.coin).grad_phi,
                                           theta, w))
