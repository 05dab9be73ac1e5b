"""torch backend: a parameter vector is a tuple of tensors (any dtype, any device).

Tuples rather than one flat tensor let an ``nn.Module``'s parameters be used in place; the
arithmetic uses ``torch._foreach_*`` kernels when no autograd graph is being recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD

from ofmu_theory.backends import BACKENDS
from ofmu_theory.backends.base import Backend

TorchVec = tuple[torch.Tensor, ...]

try:
    from torch.distributed.tensor import DTensor as _DTensor
except ImportError:  # a torch build without torch.distributed
    _DTensor = None


def _plain(alpha: Any) -> bool:
    return isinstance(alpha, (int, float)) or (isinstance(alpha, torch.Tensor) and not alpha.requires_grad)


def _sharded(a: TorchVec) -> bool:
    """True when ``a`` holds DTensors (parameters sharded by FSDP2, :mod:`ofmu_theory.sharded`)."""
    return _DTensor is not None and isinstance(a[0], _DTensor)


def _global_sum(local: torch.Tensor, a: TorchVec) -> torch.Tensor:
    """Sum over the ranks of ``a``'s device mesh of a per-rank partial sum (one all-reduce for the whole vector)."""
    import torch.distributed as dist  # noqa: PLC0415

    dist.all_reduce(local, group=a[0].device_mesh.get_group())
    return local


def _no_graph(*vectors: TorchVec) -> bool:
    """True when no tensor of ``vectors`` needs a graph (the ``torch._foreach_*`` kernels are not differentiable)."""
    return not any(t.requires_grad or fwAD.unpack_dual(t).tangent is not None for v in vectors for t in v)


class TorchBackend(Backend):
    """Tuples of tensors with autograd (reverse-over-reverse) and forward-mode (dual tensors)."""

    name = "torch"
    differentiable = True

    def vdot(self, a: TorchVec, b: TorchVec) -> torch.Tensor:
        if _sharded(a) and _no_graph(a, b):
            # DTensors cannot flatten an unevenly sharded dimension: dot the local shards, then one all-reduce
            acc = torch.promote_types(a[0].dtype, torch.float32)
            local = [torch.dot(x.to_local().reshape(-1).to(acc), y.to_local().reshape(-1).to(acc))
                     for x, y in zip(a, b, strict=True)]
            return _global_sum(torch.stack(local).sum(), a)
        # one dot product per tensor and one sum (a Python sum of per-tensor reductions costs 3 kernels each)
        acc = torch.promote_types(a[0].dtype, torch.float32)
        dots = [torch.dot(x.reshape(-1).to(acc), y.reshape(-1).to(acc)) for x, y in zip(a, b, strict=True)]
        return dots[0] if len(dots) == 1 else torch.stack(dots).sum()

    def norm(self, a: TorchVec) -> torch.Tensor:
        if _sharded(a) and _no_graph(a):  # local squared norms, one all-reduce (not one per tensor)
            acc = torch.promote_types(a[0].dtype, torch.float32)
            local = torch._foreach_norm([t.to_local().to(acc) for t in a])
            return torch.sqrt(_global_sum(torch.stack(local).square().sum(), a))
        if _no_graph(a):
            acc = torch.promote_types(a[0].dtype, torch.float32)
            norms = torch._foreach_norm([t.to(acc) for t in a] if a[0].dtype != acc else list(a))
            return torch.linalg.vector_norm(torch.stack(norms))
        return self.sqrt(self.vdot(a, a))

    def axpy(self, alpha: Any, x: TorchVec, y: TorchVec) -> TorchVec:
        if _plain(alpha) and not any(t.requires_grad for t in (*x, *y)):
            alpha = float(alpha)
            return tuple(torch._foreach_add(list(y), list(x), alpha=alpha))
        return tuple(yi + alpha * xi for xi, yi in zip(x, y, strict=True))

    def axpby(self, alpha: float, x: TorchVec, beta: float, y: TorchVec) -> TorchVec:
        if _no_graph(x, y):  # one new vector: β·y, then += α·x in place
            out = torch._foreach_mul(list(y), float(beta))
            torch._foreach_add_(out, list(x), alpha=float(alpha))
            return tuple(out)
        return super().axpby(alpha, x, beta, y)

    def scale(self, alpha: Any, x: TorchVec) -> TorchVec:
        if _plain(alpha) and not any(t.requires_grad for t in x):
            return tuple(torch._foreach_mul(list(x), float(alpha)))
        return tuple(alpha * xi for xi in x)

    def mul(self, x: TorchVec, y: TorchVec) -> TorchVec:
        if _no_graph(x, y):
            return tuple(torch._foreach_mul(list(x), list(y)))
        return tuple(a * b for a, b in zip(x, y, strict=True))

    def div(self, x: TorchVec, y: TorchVec) -> TorchVec:
        if _no_graph(x, y):
            return tuple(torch._foreach_div(list(x), list(y)))
        return tuple(a / b for a, b in zip(x, y, strict=True))

    def sqrt_plus(self, x: TorchVec, eps: float) -> TorchVec:
        if _no_graph(x):
            return tuple(torch._foreach_add(torch._foreach_sqrt(list(x)), float(eps)))
        return tuple(t.sqrt() + eps for t in x)

    def map(self, fn: Callable[[Any], Any], x: TorchVec) -> TorchVec:
        return tuple(fn(t) for t in x)

    def adam_step(self, g: TorchVec, m: TorchVec, v: TorchVec, *, b1: float, b2: float, eps: float,
                  count: int) -> tuple[TorchVec, TorchVec, TorchVec]:
        if not _no_graph(g, m, v):
            return super().adam_step(g, m, v, b1=b1, b2=b2, eps=eps, count=count)
        # The generic operations in the same order, but in place on the buffers allocated here: five new
        # vectors instead of ten (each allocation of a large tensor costs page faults on CPU).
        g = list(g)
        m_new = torch._foreach_mul(list(m), b1)
        torch._foreach_add_(m_new, g, alpha=1 - b1)
        g2 = torch._foreach_mul(g, g)
        v_new = torch._foreach_mul(list(v), b2)
        torch._foreach_add_(v_new, g2, alpha=1 - b2)
        del g2
        denom = torch._foreach_mul(v_new, 1.0 / (1 - b2**count))
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, float(eps))
        u = torch._foreach_mul(m_new, 1.0 / (1 - b1**count))
        torch._foreach_div_(u, denom)
        return tuple(u), tuple(m_new), tuple(v_new)

    def zeros_like(self, x: TorchVec) -> TorchVec:
        return tuple(torch.zeros_like(t) for t in x)

    def full_like(self, x: TorchVec, value: float) -> TorchVec:
        return tuple(torch.full_like(t, value) for t in x)

    def numel(self, x: TorchVec) -> int:
        return sum(t.numel() for t in x)

    def isfinite(self, x: TorchVec) -> bool:
        if _sharded(x):  # count the local non-finite entries, one all-reduce: the same answer on every rank
            bad = torch.stack([(~torch.isfinite(t.to_local())).sum() for t in x]).sum().to(torch.float64)
            return bool(_global_sum(bad, x) == 0)
        # Fast path: one fused norm kernel and one host synchronisation. A non-finite entry makes the sum of
        # norms non-finite; a finite sum proves every entry finite. Only a non-finite sum (a non-finite entry,
        # or finite entries whose norm overflows) takes the exact per-tensor check.
        if _no_graph(x) and bool(torch.isfinite(torch.stack(torch._foreach_norm(list(x))).sum())):
            return True
        return bool(torch.stack([torch.isfinite(t).all() for t in x]).all())

    def sqrt(self, s: Any) -> Any:
        return torch.sqrt(s) if isinstance(s, torch.Tensor) else float(np.sqrt(s))

    def item(self, s: Any) -> float:
        return float(s.detach().item()) if isinstance(s, torch.Tensor) else float(s)

    def detach(self, x: TorchVec) -> TorchVec:
        return tuple(t.detach() for t in x)

    def copy(self, x: TorchVec) -> TorchVec:
        return tuple(t.detach().clone() for t in x)

    def to_numpy(self, x: TorchVec) -> np.ndarray:
        if _sharded(x):  # gathers every shard: only for recorded iterates, never inside a step
            x = tuple(t.detach().full_tensor() for t in x)
        return np.concatenate([t.detach().to(torch.float64).cpu().reshape(-1).numpy() for t in x])

    def from_numpy(self, flat: np.ndarray, like: TorchVec) -> TorchVec:
        flat = np.asarray(flat, dtype=np.float64).ravel()
        if flat.size != self.numel(like):
            raise ValueError(f"cannot shape {flat.size} values like a vector of size {self.numel(like)}")
        out, start = [], 0
        for t in like:
            chunk = torch.from_numpy(flat[start : start + t.numel()].copy()).reshape(t.shape)
            out.append(chunk.to(dtype=t.dtype, device=t.device))
            start += t.numel()
        return tuple(out)

    def eps(self, x: TorchVec) -> float:
        return float(torch.finfo(x[0].dtype).eps)

    def validate(self, x: Any, *, name: str) -> TorchVec:
        if isinstance(x, torch.Tensor):
            x = (x,)
        if not isinstance(x, Sequence) or len(x) == 0 or not all(isinstance(t, torch.Tensor) for t in x):
            raise TypeError(f"{name} must be a tensor or a non-empty sequence of tensors for the torch backend")
        if not all(t.is_floating_point() for t in x):
            raise TypeError(f"{name} must hold floating-point tensors, got {[t.dtype for t in x]}")
        return tuple(x)

    # --- differentiation ----------------------------------------------------------------
    def requires_grad(self, x: TorchVec) -> TorchVec:
        return tuple(t.detach().requires_grad_(True) for t in x)

    def vjp(self, out: TorchVec, wrt: TorchVec, cotangent: TorchVec) -> TorchVec:
        grads = torch.autograd.grad(out, wrt, grad_outputs=cotangent, allow_unused=True)
        return tuple(torch.zeros_like(w) if g is None else g for g, w in zip(grads, wrt, strict=True))

    def jvp(self, fn: Callable[[TorchVec], TorchVec], x: TorchVec, tangent: TorchVec) -> TorchVec:
        with fwAD.dual_level():
            dual = tuple(
                fwAD.make_dual(t.detach().requires_grad_(True), v.detach()) for t, v in zip(x, tangent, strict=True)
            )
            out = fn(dual)
            tangents = []
            for o in out:
                primal, tan = fwAD.unpack_dual(o)
                tangents.append(torch.zeros_like(primal).detach() if tan is None else tan.detach())
        return tuple(tangents)


TORCH = BACKENDS.register("torch")(TorchBackend())
