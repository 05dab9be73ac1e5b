"""Data parallelism: average every oracle output across ranks (torch.distributed).

Each rank evaluates its losses on its own mini-batch (``MiniBatch(rank=..., world_size=...)``
gives disjoint shards), and ``mean_across_ranks`` is passed as ``TorchObjective(reduce=...)``:
every value, gradient and Hessian-vector product is all-reduced to the mean over ranks before
the core sees it. Everything downstream (Sim, norms, ∇Φ, ∇F, step sizes) is then identical on all
ranks and equal to a single process's result on the union of the ranks' batches.

In graph mode (the exact and forward-over-reverse ∇²Φ paths) the reduction is itself
differentiable, in reverse mode (its backward all-reduces the upstream gradient, so the chain
rule's cross-rank terms are kept) and in forward mode (its tangent is the mean of the tangents);
a product taken back through the graph holds each rank's share of the data and the evaluator
averages it once more.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when torch.distributed is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _AllReduceMean(torch.autograd.Function):
    """y = mean over ranks of x, differentiable in reverse and forward mode (and again)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.detach().clone()
        dist.all_reduce(out)
        return out / dist.get_world_size()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return _AllReduceMean.apply(grad)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        return _AllReduceMean.apply(tangent)


def _mean(t: torch.Tensor, size: int) -> torch.Tensor:
    if t.requires_grad or _is_dual(t):
        return _AllReduceMean.apply(t)
    out = t.detach().clone()
    dist.all_reduce(out)
    return out / size


def _is_dual(t: torch.Tensor) -> bool:
    import torch.autograd.forward_ad as fwAD

    return fwAD.unpack_dual(t).tangent is not None


def mean_across_ranks(x: Any) -> Any:
    """All-reduce mean of a tensor or a tuple of tensors (identity in a single process)."""
    _, size = world()
    if size == 1:
        return x
    if isinstance(x, tuple):
        return tuple(_mean(t, size) for t in x)
    return _mean(x, size)
