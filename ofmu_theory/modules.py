"""nn.Module plumbing for the torch backend: parameters as the vector θ, losses as functions of θ.

``ModuleParams`` names the trainable tensors of a module; ``ModuleParams.loss(fn)`` turns a loss
written against the module (``fn(forward, batch)`` where ``forward(*inputs)`` runs the module)
into ``loss_fn(params, batch)`` for :class:`~ofmu_theory.objectives.TorchObjective`, through
``torch.func.functional_call`` — the module's own tensors are never copied into a flat vector and
are only overwritten by :meth:`ModuleParams.assign` when a run is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

Forward = Callable[..., Any]


@dataclass(frozen=True)
class ModuleParams:
    """The trainable parameters of ``module`` in a fixed order.

    Attributes:
        module: the model.
        names: parameter names (those with ``requires_grad``, or the given subset).
    """

    module: nn.Module
    names: tuple[str, ...]

    @classmethod
    def of(cls, module: nn.Module, names: Sequence[str] | None = None) -> ModuleParams:
        """All trainable parameters (``requires_grad``), or the named subset (LoRA adapters...)."""
        available = dict(module.named_parameters())
        if names is None:
            names = [n for n, p in available.items() if p.requires_grad]
        missing = [n for n in names if n not in available]
        if missing:
            raise ValueError(f"module has no parameters named {missing[:5]}")
        if not names:
            raise ValueError("module has no trainable parameters")
        return cls(module, tuple(names))

    def vector(self) -> tuple[torch.Tensor, ...]:
        """The current values as θ (detached views of the module's tensors)."""
        params = dict(self.module.named_parameters())
        return tuple(params[n].detach() for n in self.names)

    def forward_with(self, params: Sequence[torch.Tensor]) -> Forward:
        """``forward(*args, **kwargs)`` running the module with θ = ``params`` substituted."""
        mapping = dict(zip(self.names, params, strict=True))

        def forward(*args: Any, **kwargs: Any) -> Any:
            return functional_call(self.module, mapping, args, kwargs, strict=False)

        return forward

    def loss(self, fn: Callable[[Forward, Any], torch.Tensor]) -> Callable[[tuple[torch.Tensor, ...], Any], torch.Tensor]:
        """``loss_fn(params, batch) = fn(forward_with(params), batch)``."""

        def loss_fn(params: tuple[torch.Tensor, ...], batch: Any) -> torch.Tensor:
            return fn(self.forward_with(params), batch)

        return loss_fn

    @torch.no_grad()
    def assign(self, params: Sequence[torch.Tensor]) -> None:
        """Copy θ into the module's parameters (in place)."""
        current = dict(self.module.named_parameters())
        for name, value in zip(self.names, params, strict=True):
            current[name].copy_(value)

    def mask_like(self, masks: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """An update mask vector from per-name 0/1 tensors (names absent → all ones)."""
        vec = self.vector()
        return tuple(masks.get(n, torch.ones_like(v)).to(v) for n, v in zip(self.names, vec))
