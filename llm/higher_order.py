"""Making a model safe for third-order autodiff (OFMU's exact ∇²Φ_β·v with β > 0).

∇²Φ_β·v differentiates Hessian-vector products once more, i.e. it needs third derivatives of the
model. Two PyTorch kernels get in the way on CPU:

* fused scaled-dot-product attention has no double backward (an error): the model is switched to
  eager attention;
* ``native_layer_norm``'s double backward is not itself differentiated correctly — the third
  derivative is silently wrong (``gradgradcheck`` of the layer-norm gradient fails in torch 2.13;
  tests/llm/test_higher_order.py), which made OFMU's exact and forward-over-reverse ∇²Φ·v disagree with
  finite differences by ~30 % on GPT-2. Every ``nn.LayerNorm`` is therefore switched to
  :class:`CompositeLayerNorm`, the same function written with elementary ops (mean, variance, rsqrt),
  whose derivatives of every order are exact. Parameters and state-dict keys are unchanged.

RMSNorm layers (Llama, SmolLM2) are already written with elementary ops in transformers.
"""

from __future__ import annotations

import torch
from torch import nn


class CompositeLayerNorm(nn.LayerNorm):
    """LayerNorm over the last dimension from elementary ops: y = (x − μ)/√(σ² + ε)·w + b."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.normalized_shape) != 1:
            raise ValueError(f"CompositeLayerNorm normalises the last dimension only, got {self.normalized_shape}")
        mean = x.mean(-1, keepdim=True)
        var = (x - mean).square().mean(-1, keepdim=True)  # biased, as layer_norm
        y = (x - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y


def make_third_order_safe(model: nn.Module) -> int:
    """Switch ``model`` (in place) to eager attention and composite layer norms; returns the number of
    layer norms switched."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    count = 0
    for module in model.modules():
        if type(module) is nn.LayerNorm:
            module.__class__ = CompositeLayerNorm
            count += 1
    return count
