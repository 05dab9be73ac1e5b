"""Sharded parameters (PyTorch FSDP2): θ as the module's DTensor shards, gradients reduced by FSDP.

Under ``torch.distributed.fsdp.fully_shard`` every parameter of a module is a DTensor sharded along its
first dimension over the ranks of a device mesh; FSDP all-gathers a block's parameters just before the
block runs and frees them after, and its backward reduce-scatters the gradient of each block onto the
sharded ``.grad`` as the mean over ranks. The core then works with those shards unchanged:

* θ, every transform's state (Adam moments) and the finite-difference points θ ± h·v are tuples of
  DTensors with the parameters' placements; element-wise arithmetic stays local to each rank's shard and
  the torch backend's reductions (``vdot``, ``norm``, ``isfinite``) sum local partial results with one
  all-reduce (:mod:`ofmu_theory.backends.torch_backend`). No rank holds the full θ outside FSDP's gathers.
* :class:`ShardedParams` evaluates the module at θ by copying θ's local shards into the module's own
  sharded parameters (FSDP gathers from them), so θ is never substituted with ``functional_call``: FSDP's
  pre-forward hook would overwrite a substituted tensor with its own gathered one.
* :class:`ShardedObjective` takes gradients with ``loss.backward()`` (FSDP's reduce-scatter runs in its
  backward hooks and does not fire under ``torch.autograd.grad``) and returns the sharded ``.grad`` — the
  gradient is **already reduced** (the mean over ranks), so no second all-reduce runs. Values are scalars
  and are averaged with :func:`ofmu_theory.distributed.mean_across_ranks`.

FSDP has no double backward, so these objectives give first-order oracles only: OFMU runs its
finite-difference path (``hvp="fd"``); the exact and forward-over-reverse HVPs refuse with one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ofmu_theory.backends import get_backend
from ofmu_theory.distributed import mean_across_ranks
from ofmu_theory.modules import Forward, ModuleParams
from ofmu_theory.objectives import Batch, Objective

FIRST_ORDER_ONLY = ("sharded (FSDP) parameters have first-order oracles only (FSDP has no double backward): "
                    "use OFMU's finite-difference path, hvp='fd'")


def _is_dtensor(t: Any) -> bool:
    from torch.distributed.tensor import DTensor  # noqa: PLC0415

    return isinstance(t, DTensor)


def is_sharded(module: nn.Module) -> bool:
    """True when ``module``'s parameters are DTensors (``fully_shard`` was applied)."""
    return any(_is_dtensor(p) for p in module.parameters())


@dataclass(frozen=True)
class ShardedParams(ModuleParams):
    """:class:`ModuleParams` of a module sharded with FSDP2: θ is a tuple of DTensor shards.

    Attributes:
        shards: the sharded parameters (DTensors) in θ's order, kept from construction: FSDP swaps the
            module's registered parameters for gathered plain tensors while a group is unsharded, and
            reduces the gradients into these objects' ``.grad``.

    ``vector()`` returns copies (the module's own parameters are the scratch into which each evaluation
    point is copied, so a θ that aliased them would change under the core's feet).
    """

    shards: tuple[nn.Parameter, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def of(cls, module: nn.Module, names: Sequence[str] | None = None) -> ShardedParams:
        base = ModuleParams.of(module, names)
        params = dict(module.named_parameters())
        shards = tuple(params[n] for n in base.names)
        if not all(_is_dtensor(p) for p in shards):
            raise ValueError("ShardedParams needs a module sharded with torch.distributed.fsdp.fully_shard "
                             "(and not yet run: its parameters must be the sharded DTensors)")
        return cls(module=base.module, names=base.names, shards=shards)

    def _parameters(self) -> tuple[nn.Parameter, ...]:
        return self.shards

    def vector(self) -> tuple[torch.Tensor, ...]:
        """The current values as θ: copies of the module's sharded parameters (DTensors)."""
        return tuple(p.detach().clone() for p in self._parameters())

    def reshard(self) -> None:
        """Free every gathered group (FSDP keeps the root's gathered after a forward pass with no backward),
        so that the next forward pass gathers the values just assigned."""
        from torch.distributed.fsdp import FSDPModule  # noqa: PLC0415

        for m in self.module.modules():
            if isinstance(m, FSDPModule):
                m.reshard()

    @torch.no_grad()
    def assign(self, params: Sequence[torch.Tensor]) -> None:
        """Copy θ's local shards into the module's sharded parameters (what FSDP gathers from)."""
        self.reshard()
        for target, value in zip(self._parameters(), params, strict=True):
            if value is not target:
                target.to_local().copy_(value.to_local())

    def forward_with(self, params: Sequence[torch.Tensor]) -> Forward:
        """``forward(*args, **kwargs)`` running the module at θ = ``params`` (copied into its parameters)."""
        self.assign(params)
        return self.module

    def grads(self) -> tuple[torch.Tensor, ...]:
        """The sharded gradients FSDP's backward left in ``.grad`` (zeros where none), cleared after."""
        out = []
        for p in self._parameters():
            out.append(torch.zeros_like(p).detach() if p.grad is None else p.grad.detach())
            p.grad = None
        return tuple(out)

    def clear_grads(self) -> None:
        for p in self._parameters():
            p.grad = None


class ShardedObjective(Objective):
    """First-order oracles of ``loss_fn(params, batch)`` on a module sharded with FSDP2.

    Args:
        loss_fn: the loss, built with ``params.loss(fn)``: it copies θ into the module and runs it.
        params: the sharded module's parameters (θ's order).
        n_rows: data rows a batch indexes.

    ``value`` is the mean over ranks of the per-rank losses (each rank evaluates its own shard of the
    batch); the gradient is the one FSDP reduced (the mean over ranks), not reduced again.
    """

    reduce = None  # gradients arrive reduced; nothing is differentiated through a reduction here

    def __init__(self, loss_fn: Callable[[tuple[Any, ...], Batch], Any], *, params: ShardedParams,
                 n_rows: int | None = None) -> None:
        self.backend = get_backend("torch")
        self.loss_fn, self.params, self.n_rows = loss_fn, params, n_rows
        self.has_third_order = False

    def value(self, theta: Sequence[Any], batch: Batch = None) -> Any:
        with torch.no_grad():
            return mean_across_ranks(self.loss_fn(tuple(theta), batch).detach())

    def value_and_grad(self, theta: Sequence[Any], batch: Batch = None, *, create_graph: bool = False):
        if create_graph:
            raise ValueError(FIRST_ORDER_ONLY)
        self.params.clear_grads()
        with torch.enable_grad():
            loss = self.loss_fn(tuple(theta), batch)
            loss.backward()
        return mean_across_ranks(loss.detach()), self.params.grads()

    def hvp(self, theta: Sequence[Any], v: Sequence[Any], batch: Batch = None, *, create_graph: bool = False):
        raise ValueError(FIRST_ORDER_ONLY)

    def hvp_fwd_rev(self, theta: Sequence[Any], v: Sequence[Any], batch: Batch = None):
        raise ValueError(FIRST_ORDER_ONLY)
