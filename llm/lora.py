"""LoRA through peft: θ = the adapter tensors only; the base weights never move.

``apply_lora`` wraps a model in a ``PeftModel`` (the base model is modified in place by peft, so pass a
copy); :func:`adapter_names` lists the adapter tensors, which are the only entries of θ
(``ModuleParams.of(model, names=adapter_names(model))``). The reference model of NPO / IdkDPO / KL /
RMU is then the same PeftModel with its adapters disabled (:class:`llm.objectives.Reference`).
:func:`merged` returns a plain model with the adapters folded into the weights, for saving and evaluation.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LoraOptions:
    """peft ``LoraConfig`` settings.

    Attributes:
        r: adapter rank.
        alpha: ``lora_alpha`` (the update is scaled by alpha / r).
        dropout: ``lora_dropout`` (0 keeps the losses deterministic in θ).
        target_modules: module name suffixes to adapt, or ``"all-linear"`` (every linear / Conv1D layer
            except the output head).
    """

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] | str = "all-linear"

    def __post_init__(self) -> None:
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"r must be an int >= 1, got r={self.r!r}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got alpha={self.alpha!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got dropout={self.dropout!r}")
        if not self.target_modules:
            raise ValueError("target_modules must name at least one module (or be 'all-linear')")


def _peft() -> Any:
    try:
        import peft  # noqa: PLC0415 - optional 'llm' extra
    except ImportError:
        raise ValueError("LoRA needs the peft package: pip install peft") from None
    return peft


def is_peft(model: nn.Module) -> bool:
    """True for a peft ``PeftModel``."""
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def apply_lora(
    model: nn.Module, options: LoraOptions, *, target_modules: Sequence[str] | None = None, seed: int = 0
) -> nn.Module:
    """Wrap ``model`` (modified in place) in a PeftModel with fresh adapters (B = 0: the output is unchanged).

    Args:
        target_modules: overrides ``options.target_modules`` (RMU adapts only its trainable modules).
        seed: seeds the random initialisation of the A matrices (the global torch RNG is left untouched).
    """
    import torch  # noqa: PLC0415

    peft = _peft()
    targets = list(target_modules) if target_modules is not None else options.target_modules
    if isinstance(targets, tuple):
        targets = list(targets)
    fan_in_fan_out = any(type(m).__name__ == "Conv1D" for m in model.modules())  # GPT-2 stores weights transposed
    config = peft.LoraConfig(r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
                             target_modules=targets, bias="none", fan_in_fan_out=fan_in_fan_out)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wrapped = peft.get_peft_model(model, config)
    names = adapter_names(wrapped)
    if not names:
        raise ValueError(f"LoRA target_modules={targets!r} matched no module of {type(model).__name__}")
    logger.info("LoRA r=%d on %d adapter tensors (%d parameters)", options.r, len(names),
                sum(p.numel() for n, p in wrapped.named_parameters() if n in set(names)))
    return wrapped


def adapter_names(model: nn.Module) -> tuple[str, ...]:
    """Names of the LoRA adapter tensors (``lora_A`` / ``lora_B``) of a PeftModel."""
    return tuple(n for n, _ in model.named_parameters() if ".lora_A." in n or ".lora_B." in n)


def base_names(model: nn.Module) -> tuple[str, ...]:
    """Names of every parameter that is not an adapter tensor."""
    adapters = set(adapter_names(model))
    return tuple(n for n, _ in model.named_parameters() if n not in adapters)


def merged(model: nn.Module) -> nn.Module:
    """A plain model equal to ``model`` with its adapters folded into the weights (``model`` is left as is)."""
    if not is_peft(model):
        return model
    return copy.deepcopy(model).merge_and_unload()
