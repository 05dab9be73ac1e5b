"""How a model runs inside the losses: device, bf16 autocast, gradient checkpointing, attention kernel.

**bf16 = fp32 master parameters + autocast.** θ (the tensors the core updates: AdamW moments, the
finite-difference points θ ± h·v, line searches) stays in float32; only the model's forward pass runs in
``torch.autocast(dtype=torch.bfloat16)`` (matrix products in bf16, reductions / softmax / norms in fp32;
the losses take their log-softmax in at least float32, :mod:`llm.losses`). bf16 *parameters* were not
chosen: bf16 keeps 8 significant bits, so a relative change below 2⁻⁹ ≈ 0.2 % of a weight rounds to no
change at all — TOFU's AdamW steps (lr 1e-5 on weights of ~1e-2, i.e. ~0.1 %) and the finite-difference
perturbations θ + h·v (h·v ~ 1e-5) would mostly vanish. Autocast is available on CUDA and on CPU
(``torch.autocast("cpu", torch.bfloat16)``); where it is not, asking for bf16 is an error.

Finite differences of bf16 gradients are noisier than of fp32 ones (each gradient carries bf16's ~0.4 %
relative rounding): measured on the embedded model, the relative error of a finite-difference HVP along a
gradient direction is ~10 % under bf16 against ~0.1 % in fp32 (``python -m llm.benchmark`` prints the
table; docs/llm-performance.md). OFMU's exact path differentiates the bf16 forward exactly instead.

**Gradient checkpointing** uses the Hugging Face model's own switch (``activation_checkpointing_enable``,
``gradient_checkpointing_enable`` in older transformers), with two changes that the losses need:

* the losses call the model through ``torch.func.functional_call`` with θ substituted, and autograd
  recomputes a checkpointed layer during the *backward* pass, after ``functional_call`` has put the
  module's own tensors back — a plain checkpoint would recompute with the wrong weights (silently: the
  gradient would be taken at the module's stored θ_0, not at θ). :class:`ReparametrizedCheckpoint`
  captures the layer's tensors at forward time and re-installs them for the recomputation;
* Hugging Face checkpoints a layer only when ``layer.training`` is set, and the losses run the model in
  eval mode (no dropout: finite differences and line searches need a deterministic loss).
  :func:`eval_mode` therefore sets ``training`` on the checkpointed layers alone; their submodules
  (dropout, attention) stay in eval mode.

Non-reentrant checkpointing (``use_reentrant=False``) supports ``torch.autograd.grad`` and double
backward, so OFMU's exact path works with it (tests/llm/test_runtime.py).

**Attention.** The finite-difference path needs first derivatives only and keeps whatever kernel the
model uses (``sdpa``, ``flash_attention_2``). Exact HVPs (OFMU ``hvp="exact"`` / ``"fwd_rev"``)
differentiate through a gradient: fused kernels have no double backward, so :func:`configure` switches
the model to eager attention and composite layer norms (:mod:`llm.higher_order`), logs it, and records it
in the run's ``runtime`` block.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from llm.higher_order import make_third_order_safe
from ofmu_theory.modules import Forward, ModuleParams

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


# --- device -----------------------------------------------------------------------------------------


def resolve_device(device: str | None, model: nn.Module | None = None) -> torch.device:
    """The device a run uses: ``None`` = where ``model`` is; ``"auto"`` = CUDA when available, else CPU;
    ``"cuda"`` = ``cuda:$LOCAL_RANK`` under torchrun (``cuda:0`` otherwise); or an explicit ``"cuda:N"``.

    Raises:
        ValueError: an unknown device, or CUDA asked for where none is available.
    """
    if device is None:
        return next(model.parameters()).device if model is not None else torch.device("cpu")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got device={device!r}") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here (use --device cpu)")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got device={device!r}")
    return resolved


# --- precision --------------------------------------------------------------------------------------


def check_bf16(device: torch.device) -> None:
    """Raise a ValueError when ``torch.autocast`` cannot run bf16 on ``device``'s type."""
    available = getattr(torch.amp, "is_autocast_available", None)
    if available is not None and not available(device.type):
        raise ValueError(f"bf16 needs torch.autocast on {device.type}, which this torch build does not offer")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"bf16 autocast: {torch.cuda.get_device_name(device)} does not support bfloat16")


@dataclass(frozen=True)
class ModelParams(ModuleParams):
    """:class:`ModuleParams` whose forward pass runs under ``torch.autocast(autocast_dtype)`` when set.

    θ keeps the module's dtype (float32 master parameters); only the forward computation is cast.
    """

    autocast_dtype: torch.dtype | None = None

    @classmethod
    def of(cls, module: nn.Module, names: Sequence[str] | None = None, *,
           autocast_dtype: torch.dtype | None = None) -> ModelParams:
        base = ModuleParams.of(module, names)
        return cls(base.module, base.names, autocast_dtype)

    def forward_with(self, params: Sequence[torch.Tensor]) -> Forward:
        forward = super().forward_with(params)
        if self.autocast_dtype is None:
            return forward
        device_type, dtype = params[0].device.type, self.autocast_dtype

        def cast_forward(*args: Any, **kwargs: Any) -> Any:
            with torch.autocast(device_type, dtype=dtype):
                return forward(*args, **kwargs)

        return cast_forward


def autocast(dtype: torch.dtype | None, device: torch.device) -> Any:
    """``torch.autocast(device.type, dtype)``, or a no-op context when ``dtype`` is None."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


# --- gradient checkpointing -----------------------------------------------------------------------------


class ReparametrizedCheckpoint:
    """A layer's ``_gradient_checkpointing_func`` that recomputes with the tensors of the forward pass.

    ``fn`` reads the layer's parameters when it runs; under ``functional_call`` they are θ during the
    forward pass but the module's own tensors again when autograd recomputes the layer. This function
    captures the layer's tensors at forward time and re-installs them (``torch.func``'s reparametrisation)
    around the recomputation, then checkpoints non-reentrantly.
    """

    def __init__(self, layer: nn.Module, **checkpoint_kwargs: Any) -> None:
        self.layer = layer
        self.kwargs = {"use_reentrant": False, **checkpoint_kwargs}

    def __call__(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from torch.nn.utils.stateless import _reparametrize_module  # noqa: PLC0415 - what functional_call uses
        from torch.utils.checkpoint import checkpoint  # noqa: PLC0415

        layer = self.layer
        current = dict(layer.named_parameters(remove_duplicate=False))
        current.update(layer.named_buffers(remove_duplicate=False))

        def run(*inner: Any, **inner_kwargs: Any) -> Any:
            with _reparametrize_module(layer, current):
                return fn(*inner, **inner_kwargs)

        return checkpoint(run, *args, **{**self.kwargs, **kwargs})


def _checkpointing_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(getattr(m, "_gradient_checkpointing_func", None),
                                                     ReparametrizedCheckpoint)]


def enable_checkpointing(model: nn.Module) -> int:
    """Turn on the Hugging Face model's gradient checkpointing (non-reentrant) with
    :class:`ReparametrizedCheckpoint` on every checkpointed layer; returns the number of layers.

    Raises:
        ValueError: the model does not support gradient checkpointing.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft PeftModel
    if not getattr(base, "supports_gradient_checkpointing", False):
        raise ValueError(f"{type(base).__name__} does not support gradient checkpointing")
    if hasattr(base, "activation_checkpointing_enable"):  # transformers >= 5.2x
        base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    from transformers.modeling_layers import GradientCheckpointingLayer  # noqa: PLC0415

    layers = [m for m in base.modules() if isinstance(m, GradientCheckpointingLayer) and m.gradient_checkpointing]
    if not layers:
        raise ValueError(f"{type(base).__name__} has no layer that gradient checkpointing applies to")
    for layer in layers:
        layer._gradient_checkpointing_func = ReparametrizedCheckpoint(layer)
    return len(layers)


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """``module.eval()`` for the duration (no dropout), except the ``training`` flag of the layers that
    gradient checkpointing applies to (Hugging Face checks it); restores the previous mode after."""
    was = module.training
    module.eval()
    for layer in _checkpointing_layers(module):
        layer.training = True  # the flag only: the layer's submodules (dropout) stay in eval mode
    try:
        yield
    finally:
        module.train(was)


# --- the whole configuration ----------------------------------------------------------------------------


def _attn_of(model: nn.Module) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None) if config is not None else None


def configure(model: nn.Module, *, device: torch.device, attn_implementation: str | None, double_backward: bool,
              reason: str = "") -> dict[str, Any]:
    """Move ``model`` to ``device`` and choose its attention kernel (in place); returns the record.

    Args:
        attn_implementation: the kernel asked for (None: keep the model's).
        double_backward: the losses will be differentiated through a gradient (exact HVPs): eager attention
            and composite layer norms (:func:`llm.higher_order.make_third_order_safe`), said in a log line.
        reason: why double backward is needed (for the log line and the record).
    """
    model.to(device)
    if attn_implementation is not None:
        if not hasattr(model, "set_attn_implementation"):
            raise ValueError(f"{type(model).__name__} cannot switch its attention implementation")
        model.set_attn_implementation(attn_implementation)
    record: dict[str, Any] = {"device": str(device), "attn_implementation": _attn_of(model),
                              "attn_requested": attn_implementation}
    if double_backward:
        before = _attn_of(model)
        norms = make_third_order_safe(model)
        record.update(attn_implementation=_attn_of(model), composite_layer_norms=norms,
                      attn_reason=f"{reason}: double backward through the model; fused attention kernels "
                                  f"(sdpa, flash) have none, torch's layer-norm third derivative is wrong")
        logger.info("%s: attention %s -> %s (fused kernels have no double backward), %d layer norms -> "
                    "composite", reason, before, record["attn_implementation"], norms)
    return record
