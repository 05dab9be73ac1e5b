"""Objectives: one scalar loss with its first-, second- and (optionally) third-order oracles.

The core only ever talks to an :class:`Objective`. Two implementations cover everything:

* :class:`NumpyObjective` wraps analytic numpy oracles (closed-form families);
* :class:`TorchObjective` wraps a loss ``loss_fn(params, batch) -> 0-d tensor`` and derives
  every oracle by autograd, so an ``nn.Module`` (through ``torch.func.functional_call``) or a
  Hugging Face model plugs in unchanged.

:class:`ArrayObjective` is how synthetic families define a loss once for both backends: an
array-API value function (numpy and torch share ``@``, ``exp``, ``log1p``...) plus analytic numpy
derivatives; ``.to("numpy")`` uses the analytic ones, ``.to("torch")`` uses autograd on the same
value function, which makes the two backends an independent check of each other.

A *batch* is ``None`` (the full data) or a 1-D integer array of row indices.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from ofmu_theory.backends import Backend, Scalar, Vec, get_backend

Batch = np.ndarray | None


class Objective(ABC):
    """A scalar function L(θ; batch) with oracles.

    Attributes:
        backend: the backend whose vectors this objective reads and returns.
        n_rows: number of data rows a batch indexes (``None``: the objective has no data and
            ignores batches).
        has_third_order: whether :meth:`d3` is available.
    """

    backend: Backend
    n_rows: int | None = None
    has_third_order: bool = False

    @abstractmethod
    def value(self, theta: Vec, batch: Batch = None) -> Scalar:
        """L(θ)."""

    @abstractmethod
    def value_and_grad(self, theta: Vec, batch: Batch = None, *, create_graph: bool = False) -> tuple[Scalar, Vec]:
        """(L(θ), ∇L(θ)); with ``create_graph`` both stay differentiable in θ (autodiff backends)."""

    @abstractmethod
    def hvp(self, theta: Vec, v: Vec, batch: Batch = None, *, create_graph: bool = False) -> Vec:
        """Exact Hessian-vector product ∇²L(θ)·v."""

    def hvp_fwd_rev(self, theta: Vec, v: Vec, batch: Batch = None) -> Vec:
        """∇²L(θ)·v by forward-mode differentiation of the reverse-mode gradient."""
        raise NotImplementedError(f"{type(self).__name__} has no forward-over-reverse HVP")

    def d3(self, theta: Vec, u: Vec, v: Vec, batch: Batch = None) -> Vec:
        """Third-order product D³L(θ)[u, v, ·] = ∇_θ⟨∇²L(θ)u, v⟩."""
        raise NotImplementedError(f"{type(self).__name__} has no third-order oracle")


class NumpyObjective(Objective):
    """Analytic numpy oracles ``value(θ, batch)``, ``grad(θ, batch)``, ``hvp(θ, v, batch)``,
    optional ``d3(θ, u, v, batch)``."""

    def __init__(
        self,
        *,
        value: Callable[[np.ndarray, Batch], float],
        grad: Callable[[np.ndarray, Batch], np.ndarray],
        hvp: Callable[[np.ndarray, np.ndarray, Batch], np.ndarray],
        d3: Callable[[np.ndarray, np.ndarray, np.ndarray, Batch], np.ndarray] | None = None,
        n_rows: int | None = None,
    ) -> None:
        self.backend = get_backend("numpy")
        self._value, self._grad, self._hvp, self._d3 = value, grad, hvp, d3
        self.n_rows = n_rows
        self.has_third_order = d3 is not None

    def value(self, theta: np.ndarray, batch: Batch = None) -> float:
        return float(self._value(theta, batch))

    def value_and_grad(self, theta: np.ndarray, batch: Batch = None, *, create_graph: bool = False):
        return float(self._value(theta, batch)), np.asarray(self._grad(theta, batch))

    def hvp(self, theta: np.ndarray, v: np.ndarray, batch: Batch = None, *, create_graph: bool = False):
        return np.asarray(self._hvp(theta, v, batch))

    def d3(self, theta: np.ndarray, u: np.ndarray, v: np.ndarray, batch: Batch = None) -> np.ndarray:
        if self._d3 is None:
            raise NotImplementedError("this numpy objective provides no third-order oracle d3")
        return np.asarray(self._d3(theta, u, v, batch))


class TorchObjective(Objective):
    """Autograd oracles for ``loss_fn(params, batch) -> 0-d tensor``.

    Args:
        loss_fn: the loss; ``params`` is the tuple of parameter tensors (the vector θ).
        n_rows: data rows a batch indexes (``None`` for data-free losses).
        reduce: optional function applied to every value, gradient and HVP before it is
            returned (data parallelism: an all-reduce mean across ranks, differentiable for
            outputs that stay in an autograd graph; a derivative taken back through them on one
            rank is that rank's share and is averaged once more, see ``Evaluator.graph_reduce``).
    """

    def __init__(
        self,
        loss_fn: Callable[[tuple[Any, ...], Batch], Any],
        *,
        n_rows: int | None = None,
        reduce: Callable[[Any], Any] | None = None,
    ) -> None:
        self.backend = get_backend("torch")
        self.loss_fn = loss_fn
        self.n_rows = n_rows
        self.reduce = reduce
        self.has_third_order = True

    def _finish(self, x: Any) -> Any:
        return x if self.reduce is None else self.reduce(x)

    def _leaves(self, theta: Sequence[Any], create_graph: bool) -> tuple[Any, ...]:
        if create_graph and all(t.requires_grad for t in theta):
            return tuple(theta)
        return tuple(t.detach().requires_grad_(True) for t in theta)

    def _grad(self, loss: Any, leaves: tuple[Any, ...], create_graph: bool) -> tuple[Any, ...]:
        import torch

        grads = torch.autograd.grad(loss, leaves, create_graph=create_graph, allow_unused=True)
        return tuple(torch.zeros_like(p) if g is None else g for g, p in zip(grads, leaves, strict=True))

    @staticmethod
    def _vjp_of_grad(grad: tuple[Any, ...], leaves: tuple[Any, ...], w: Sequence[Any], *,
                     create_graph: bool) -> tuple[Any, ...]:
        """∇(⟨∇L, w⟩) = ∇²L·w by a second backward; zero where ∇L does not depend on θ (L linear in a tensor)."""
        import torch

        pairs = [(g, x) for g, x in zip(grad, w, strict=True) if g.requires_grad]
        if not pairs:  # autograd refuses outputs without a graph: the Hessian is zero
            return tuple(map(torch.zeros_like, leaves))
        hv = torch.autograd.grad([g for g, _ in pairs], leaves, grad_outputs=[x for _, x in pairs],
                                 create_graph=create_graph, allow_unused=True)
        return tuple(torch.zeros_like(p) if h is None else h for h, p in zip(hv, leaves, strict=True))

    def value(self, theta: Sequence[Any], batch: Batch = None) -> Any:
        import torch

        with torch.no_grad():
            return self._finish(self.loss_fn(tuple(theta), batch).detach())

    def value_and_grad(self, theta: Sequence[Any], batch: Batch = None, *, create_graph: bool = False):
        import torch

        with torch.enable_grad():
            leaves = self._leaves(theta, create_graph)
            loss = self.loss_fn(leaves, batch)
            grad = self._grad(loss, leaves, create_graph)
        if not create_graph:
            loss, grad = loss.detach(), tuple(g.detach() for g in grad)
        return self._finish(loss), self._finish(grad)

    def hvp(self, theta: Sequence[Any], v: Sequence[Any], batch: Batch = None, *, create_graph: bool = False):
        import torch

        with torch.enable_grad():
            leaves = self._leaves(theta, create_graph)
            grad = self._grad(self.loss_fn(leaves, batch), leaves, True)
            hv = self._vjp_of_grad(grad, leaves, tuple(v), create_graph=create_graph)
        if not create_graph:
            hv = tuple(h.detach() for h in hv)
        return self._finish(hv)

    def hvp_fwd_rev(self, theta: Sequence[Any], v: Sequence[Any], batch: Batch = None):
        import torch

        def grad_fn(params: tuple[Any, ...]) -> tuple[Any, ...]:
            with torch.enable_grad():
                return self._grad(self.loss_fn(params, batch), params, False)

        return self._finish(self.backend.jvp(grad_fn, tuple(theta), tuple(v)))

    def d3(self, theta: Sequence[Any], u: Sequence[Any], v: Sequence[Any], batch: Batch = None):
        import torch

        with torch.enable_grad():
            leaves = tuple(t.detach().requires_grad_(True) for t in theta)
            grad = self._grad(self.loss_fn(leaves, batch), leaves, True)
            hu = self._vjp_of_grad(grad, leaves, tuple(u), create_graph=True)
            inner = sum(torch.sum(h * w) for h, w in zip(hu, v, strict=True))
            if isinstance(inner, torch.Tensor) and inner.requires_grad:
                out = self._grad(inner, leaves, False)
            else:  # the Hessian does not depend on θ (e.g. a quadratic): no third-order term
                out = tuple(map(torch.zeros_like, leaves))
        return self._finish(tuple(o.detach() for o in out))


@dataclass(frozen=True, kw_only=True)
class ArrayObjective:
    """A loss written once for both backends (how synthetic families define their objectives).

    Args:
        value: ``value(theta, data, xp)``: array-API code (``xp`` is ``numpy`` or ``torch``)
            returning the scalar loss; ``theta`` is a flat vector.
        grad: analytic numpy gradient ``grad(theta, data)``.
        hvp: analytic numpy Hessian-vector product ``hvp(theta, v, data)``.
        d3: optional analytic numpy third-order product ``d3(theta, u, v, data)``.
        data: named arrays; those listed in ``row_keys`` have one row per data point and are
            sliced by a batch, the others are shared constants.
        row_keys: names of the row-indexed arrays (empty: a data-free, deterministic objective).
    """

    value: Callable[[Any, Mapping[str, Any], ModuleType], Any]
    grad: Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray]
    hvp: Callable[[np.ndarray, np.ndarray, Mapping[str, np.ndarray]], np.ndarray]
    d3: Callable[[np.ndarray, np.ndarray, np.ndarray, Mapping[str, np.ndarray]], np.ndarray] | None = None
    data: Mapping[str, np.ndarray] = field(default_factory=dict)
    row_keys: tuple[str, ...] = ()

    @property
    def n_rows(self) -> int | None:
        if not self.row_keys:
            return None
        sizes = {len(self.data[k]) for k in self.row_keys}
        if len(sizes) != 1:
            raise ValueError(f"row-indexed arrays {self.row_keys} have different lengths {sorted(sizes)}")
        return sizes.pop()

    def _slice(self, data: Mapping[str, Any], batch: Batch) -> Mapping[str, Any]:
        if batch is None or not self.row_keys:
            return data
        return {k: (v[batch] if k in self.row_keys else v) for k, v in data.items()}

    def to(self, backend: str | Backend, *, dtype: Any = None, device: Any = None) -> Objective:
        """This objective as a numpy (analytic oracles) or torch (autograd) :class:`Objective`."""
        backend = get_backend(backend)
        if backend.name == "numpy":
            d = self.data
            return NumpyObjective(
                value=lambda th, b: self.value(th, self._slice(d, b), np),
                grad=lambda th, b: self.grad(th, self._slice(d, b)),
                hvp=lambda th, v, b: self.hvp(th, v, self._slice(d, b)),
                d3=None if self.d3 is None else (lambda th, u, v, b: self.d3(th, u, v, self._slice(d, b))),
                n_rows=self.n_rows,
            )
        import torch

        dtype = dtype or torch.float64
        tdata = {
            k: torch.as_tensor(v, dtype=dtype if np.issubdtype(np.asarray(v).dtype, np.floating) else None, device=device)
            for k, v in self.data.items()
        }

        def loss_fn(params: tuple[Any, ...], batch: Batch) -> Any:
            rows = None if batch is None else torch.as_tensor(batch, dtype=torch.long, device=device)
            return self.value(params[0], self._slice(tdata, rows), torch)

        return TorchObjective(loss_fn, n_rows=self.n_rows)
