"""Sharded LLM unlearning (``--shard fsdp`` under torchrun): the model's blocks wrapped with FSDP2.

With ``RunSettings(shard="fsdp")`` :func:`llm.unlearn.build_task` wraps every transformer block of the working
copy, then the root, with ``torch.distributed.fsdp.fully_shard`` over all the ranks of the process group.
Every parameter becomes a DTensor holding 1/W of the tensor on each rank; FSDP gathers one block's weights
just before it runs and frees them after, and reduce-scatters the gradients in the backward pass. The core
then runs on the shards (:mod:`ofmu_theory.sharded`: θ, Adam's moments and the finite-difference points
stay sharded; gradients arrive averaged by FSDP, so the replicated mode's gradient all-reduce is off).
Each rank still draws its own disjoint shard of every batch, and token means are global, as in the
replicated mode (:mod:`llm.distributed`).

What this module adds to llm/: choosing the blocks (:func:`shard_model`), the sharded θ with the run's
autocast (:class:`ShardedModelParams`), a sharded frozen reference model (FSDP modules cannot be deep-copied:
the copy is made before sharding), the refusals (:func:`check_sharding`) and the export of the final model
as an ordinary state dict on rank 0 (:func:`gather_full_model`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from llm.runtime import ModelParams
from ofmu_theory.sharded import ShardedParams

SHARD_MODES: tuple[str, ...] = ("fsdp",)


@dataclass(frozen=True)
class ShardedModelParams(ModelParams, ShardedParams):
    """θ = the sharded (DTensor) parameters of an FSDP2 model, forward passes under the run's autocast."""

    @classmethod
    def of(cls, module: nn.Module, names: Any = None, *,
           autocast_dtype: torch.dtype | None = None) -> ShardedModelParams:
        base = ShardedParams.of(module, names)
        return cls(module=base.module, names=base.names, shards=base.shards, autocast_dtype=autocast_dtype)


def check_sharding(shard: str | None, *, lora: bool, double_backward: bool, reason: str = "this method",
                   need_group: bool = True) -> None:
    """Refuse what a sharded run cannot do, with one line each.

    Raises:
        ValueError: an unknown mode, LoRA, a method that differentiates through gradients (OFMU
            ``hvp="exact"`` / ``"fwd_rev"``; ``reason`` names it), or no process group (with ``need_group``:
            the command line checks the rest before the group exists).
    """
    if shard is None:
        return
    if shard not in SHARD_MODES:
        raise ValueError(f"shard must be None or one of {SHARD_MODES}, got shard={shard!r}")
    if lora:
        raise ValueError("--lora with --shard fsdp is not supported: LoRA trains a few adapter tensors, which fit "
                         "one device; run LoRA without --shard (replicated data parallel)")
    if double_backward:
        raise ValueError(f"{reason} cannot run with --shard fsdp (it differentiates through gradients and FSDP has "
                         "no double backward): use OFMU's first-order finite-difference path, --set hvp=fd")
    import torch.distributed as dist  # noqa: PLC0415

    if need_group and not (dist.is_available() and dist.is_initialized()):
        raise ValueError("--shard fsdp needs a process group: launch with torchrun "
                         "(torchrun --nproc_per_node=N -m llm.cli llm unlearn ... --shard fsdp)")


def blocks_of(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks of a Hugging Face model (its ``GradientCheckpointingLayer`` modules).

    Raises:
        ValueError: a model with no such layer.
    """
    from transformers.modeling_layers import GradientCheckpointingLayer  # noqa: PLC0415

    blocks = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    if not blocks:
        raise ValueError(f"--shard fsdp: {type(model).__name__} has no transformer blocks "
                         "(GradientCheckpointingLayer) to shard")
    return blocks


def shard_model(model: nn.Module) -> int:
    """``fully_shard`` every transformer block of ``model``, then the root (in place, over the default process
    group's ranks); returns the number of blocks. Embeddings, the final norm and the (tied) head live in the
    root's group."""
    from torch.distributed.fsdp import fully_shard  # noqa: PLC0415

    blocks = blocks_of(model)
    for block in blocks:
        fully_shard(block)
    fully_shard(model)
    return len(blocks)


def sharded_reference(model: nn.Module, device: torch.device,
                      autocast_dtype: torch.dtype | None) -> Callable[[], Any]:
    """A factory of π_ref for a sharded run: a frozen copy of the unsharded ``model``, moved to ``device`` and
    sharded like the working model (built only when a method asks for a reference)."""

    def make() -> Any:
        from llm.objectives import Reference  # noqa: PLC0415 - llm.objectives imports this package's peers

        ref = copy.deepcopy(model).eval().to(device)
        for p in ref.parameters():
            p.requires_grad_(False)
        shard_model(ref)
        return Reference(ref, adapters_off=False, autocast_dtype=autocast_dtype)

    return make


def gather_full_model(sharded: nn.Module, like: nn.Module, *, device: torch.device | str = "cpu") -> nn.Module | None:
    """The final weights as an ordinary model on rank 0's ``device`` (None on the other ranks); every rank must
    call it.

    The full state dict is gathered to rank 0's CPU memory (``torch.distributed.checkpoint.state_dict`` with
    ``full_state_dict=True, cpu_offload=True``) and loaded into a copy of the unsharded ``like`` (the target
    the run started from), so the output folder is a safetensors model that loads without torch.distributed.
    """
    import torch.distributed as dist  # noqa: PLC0415
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict  # noqa: PLC0415

    from torch.distributed.fsdp import FSDPModule  # noqa: PLC0415

    for m in sharded.modules():  # registered parameters = the shards (a forward pass may have left some gathered)
        if isinstance(m, FSDPModule):
            m.reshard()
    state = get_model_state_dict(sharded, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if dist.get_rank() != 0:
        return None
    out = copy.deepcopy(like).to("cpu").eval()
    missing, unexpected = out.load_state_dict(state, strict=False)
    tied = {n for n, _ in out.named_parameters(remove_duplicate=False)} - {n for n, _ in out.named_parameters()}
    if unexpected or set(missing) - tied:
        raise ValueError(f"the gathered state dict does not fit the model: missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}")
    return out.to(device)
