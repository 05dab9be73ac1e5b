"""Unlearning one method from a target model: build the task, run the plan through the core, save the result.

:func:`unlearn` copies the target model (optionally wrapping it with LoRA adapters), tokenises D_f and
D_r, asks the method for its :class:`~llm.runner.Plan` and executes it — with resumable checkpoints
and an optional utility floor — then writes θ back into the working model. :func:`save_unlearned`
writes the output folder atomically (built beside the target and renamed into place)::

    model/          safetensors weights + config + tokenizer (LoRA: adapters merged in)
    adapter/        LoRA only: the adapters (peft format, safetensors)
    result.json     status, trace, oracle counts, wall time, the method config, the run settings, the
                    effective batch size, device count and library versions (run_metadata)

A run the core ends with ``Status.DIVERGED`` is reported (``Unlearned.diverged``) and never saved.

**How the model runs** (:class:`RunSettings`, :mod:`llm.runtime`): ``device``, ``bf16`` (float32 master
parameters θ, forward passes under ``torch.autocast(bfloat16)``), ``gradient_checkpointing`` (the Hugging
Face switch, made correct under ``functional_call``) and ``attn_implementation``; a method that
differentiates through gradients (OFMU ``hvp="exact"``) gets eager attention, said in a log line and in
``result.json``'s ``runtime`` block. **Data parallel** (torchrun): each rank builds its own disjoint
shard of every batch (:mod:`llm.distributed`); ``result.json`` records the world size, the per-rank and
the effective (× world size) batch sizes.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from llm.checkpoint import has_checkpoint, load_checkpoint
from llm.data.schema import QAItem, check_disjoint
from llm.lora import LoraOptions, adapter_names, apply_lora, is_peft, merged
from llm.methods import Method, UnlearnTask
from llm.models.storage import save_pretrained
from llm.objectives import TokenRows, encode_rows
from llm.runner import Checkpointing, UtilityFloor, execute
from llm.runtime import DEVICES, ModelParams, check_bf16, configure, enable_checkpointing, resolve_device
from llm.sharding import (
    SHARD_MODES,
    ShardedModelParams,
    check_sharding,
    gather_full_model,
    shard_model,
    sharded_reference,
)
from ofmu_theory.distributed import world
from ofmu_theory.io import temp_dir, to_jsonable, write_json
from ofmu_theory.result import Result, Status
from ofmu_theory.runinfo import run_metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How a method is run (not part of the method's own config).

    Attributes:
        seed: sampler seed (also the IdK answer choice and RMU's steering vector).
        lora: LoRA options (None: full fine-tuning of the method's parameters).
        max_length: longest tokenised sequence.
        overflow: ``"error"`` or ``"truncate"`` for longer sequences.
        max_retain_nll: the utility floor (None: off): stop once the probe retain NLL exceeds it.
        floor_every: check period of the floor, in outer iterations.
        floor_probe: retain rows in the floor's probe (the first ones).
        checkpoint_every: save a resumable checkpoint every this many outer iterations (None: never).
        device: where the run happens: None = where the model is, ``"auto"`` (CUDA if available),
            ``"cpu"``, ``"cuda"`` (``cuda:$LOCAL_RANK`` under torchrun) or ``"cuda:N"``.
        bf16: forward passes under ``torch.autocast(bfloat16)``, θ kept in float32 (:mod:`llm.runtime`).
        gradient_checkpointing: recompute each transformer layer's activations in the backward pass.
        attn_implementation: the attention kernel (``"eager"``, ``"sdpa"``, ``"flash_attention_2"``; None:
            the model's). Methods that differentiate through gradients switch to eager whatever is asked.
        shard: ``"fsdp"``: shard the model over the process group's ranks with FSDP2 (:mod:`llm.sharding`);
            None: every rank holds the whole model (replicated data parallel). Left out of :meth:`to_dict`
            while None, so the records of unsharded runs are unchanged.
    """

    seed: int = 0
    lora: LoraOptions | None = None
    max_length: int = 256
    overflow: str = "error"
    max_retain_nll: float | None = None
    floor_every: int = 5
    floor_probe: int = 32
    checkpoint_every: int | None = None
    device: str | None = None
    bf16: bool = False
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None
    shard: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got seed={self.seed!r}")
        if self.overflow not in ("error", "truncate"):
            raise ValueError(f"overflow must be 'error' or 'truncate', got overflow={self.overflow!r}")
        if self.checkpoint_every is not None and (not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 1):
            raise ValueError(f"checkpoint_every must be an int >= 1 or None, got {self.checkpoint_every!r}")
        if self.floor_probe < 1:
            raise ValueError(f"floor_probe must be >= 1, got floor_probe={self.floor_probe!r}")
        if self.device is not None and self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            raise ValueError(f"device must be None, one of {DEVICES} or 'cuda:N', got device={self.device!r}")
        for name in ("bf16", "gradient_checkpointing"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {name}={getattr(self, name)!r}")
        if self.shard is not None and self.shard not in SHARD_MODES:
            raise ValueError(f"shard must be None or one of {SHARD_MODES}, got shard={self.shard!r}")

    def to_dict(self) -> dict[str, Any]:
        out = to_jsonable(asdict(self))
        if self.shard is None:  # the default stays out: existing records and cache keys are unchanged
            del out["shard"]
        return out


@dataclass(frozen=True, kw_only=True, eq=False)
class Unlearned:
    """The outcome of one method.

    Attributes:
        method: registry name; ``config``: its hyper-parameters.
        model: the working model with the final θ (a PeftModel under LoRA).
        result: the core's merged :class:`~ofmu_theory.result.Result`.
        status: the core's status name; ``diverged``: ``status == "DIVERGED"``.
        wall_s: seconds from the task build to the end of the run (reference model and s_ref included).
        effective_batch_size: forget rows per step over all ranks (per-rank batch × world size).
        world_size: data-parallel ranks.
        distributed: world size, backend, per-rank and effective forget / retain batch sizes.
        runtime: how the model ran (device, precision, gradient checkpointing, attention kernel and why).
        reference: which reference model the losses used (None when none).
        floor: the utility floor's record (None when off).
        settings: the run settings.
    """

    method: str
    config: dict[str, Any]
    model: nn.Module
    result: Result
    status: str
    diverged: bool
    wall_s: float
    effective_batch_size: int
    world_size: int
    distributed: dict[str, Any]
    runtime: dict[str, Any]
    reference: str | None
    floor: dict[str, Any] | None
    settings: RunSettings

    def record(self) -> dict[str, Any]:
        """Everything ``result.json`` holds except the run metadata."""
        return {
            "method": self.method, "config": self.config, "status": self.status, "diverged": self.diverged,
            "message": self.result.message, "nit": self.result.nit, "wall_s": self.wall_s,
            "effective_batch_size": self.effective_batch_size, "world_size": self.world_size,
            "distributed": self.distributed, "runtime": self.runtime, "reference_model": self.reference,
            "utility_floor": self.floor, "settings": self.settings.to_dict(),
            "core": self.result.to_dict(),
        }


def _check_items(forget: Sequence[QAItem], retain: Sequence[QAItem]) -> None:
    if not forget:
        raise ValueError("the forget split is empty")
    if not retain:
        raise ValueError("the retain split is empty")
    check_disjoint(forget, retain)


def working_copy(method: Method, *, model: nn.Module, tokenizer: Any,
                 settings: RunSettings) -> tuple[nn.Module, ModelParams, dict[str, Any], Any]:
    """The model a run changes, θ, the record of how it runs and the reference-model factory of a sharded run
    (None otherwise) — the part of :func:`build_task` that does not depend on the data: ``model`` copied onto
    the run's device (left untouched), its attention kernel chosen (eager when the method differentiates
    through gradients), LoRA adapters added if asked, gradient checkpointing and bf16 autocast turned on if
    asked, the blocks sharded with FSDP2 if ``settings.shard``.

    Raises:
        ValueError: a tokenizer without a pad token, bf16 where autocast is unavailable, a model without
            gradient checkpointing support.
    """
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token; choose one (llm.models.set_pad_token / --pad-token)")
    device = resolve_device(settings.device, model)
    if settings.bf16:
        check_bf16(device)
    check_sharding(settings.shard, lora=settings.lora is not None, double_backward=method.needs_double_backward(),
                   reason=method.double_backward_reason())
    work = copy.deepcopy(model).eval()
    runtime = configure(work, device=device, attn_implementation=settings.attn_implementation,
                        double_backward=method.needs_double_backward(), reason=method.double_backward_reason())
    if settings.lora is not None:
        work = apply_lora(work, settings.lora, target_modules=method.lora_targets(work), seed=settings.seed)
        names: Sequence[str] | None = adapter_names(work)
    else:
        names = method.trainable(work)
        if names is None:
            names = [n for n, _ in work.named_parameters()]
    chosen = set(names)
    for name, p in work.named_parameters():
        p.requires_grad_(name in chosen)
    runtime["gradient_checkpointing"] = settings.gradient_checkpointing
    if settings.gradient_checkpointing:
        runtime["checkpointed_layers"] = enable_checkpointing(work)
    dtype = torch.bfloat16 if settings.bf16 else None
    weights = str(next(work.parameters()).dtype).removeprefix("torch.")
    runtime["precision"] = f"bf16 autocast, {weights} master parameters" if settings.bf16 else weights
    if settings.shard is None:
        return work, ModelParams.of(work, names=list(names), autocast_dtype=dtype), runtime, None
    runtime["shard"] = {"mode": settings.shard, "blocks": shard_model(work), "world_size": world()[1]}
    params = ShardedModelParams.of(work, names=list(names), autocast_dtype=dtype)
    return work, params, runtime, sharded_reference(model, device, dtype)


def build_task(
    method: Method, *, model: nn.Module, tokenizer: Any, template: Any, forget_items: Sequence[QAItem],
    retain_items: Sequence[QAItem], settings: RunSettings,
) -> UnlearnTask:
    """The :func:`working_copy` of ``model`` (copied, kernel chosen, LoRA, gradient checkpointing, bf16 autocast,
    θ chosen), then D_f and D_r tokenised. The record of these choices is ``task.runtime``.

    Raises:
        ValueError: an empty forget or retain split, a question in both, a tokenizer without a pad token, bf16
            where autocast is unavailable, a model without gradient checkpointing support.
    """
    _check_items(forget_items, retain_items)
    work, params, runtime, make_reference = working_copy(method, model=model, tokenizer=tokenizer, settings=settings)
    rank, size = world()
    encode = dict(max_length=settings.max_length, overflow=settings.overflow)
    return UnlearnTask(
        model=work, params=params, tokenizer=tokenizer, make_reference=make_reference,
        forget_items=tuple(forget_items),
        forget=encode_rows(tokenizer, template, [(i.question, i.answer) for i in forget_items], name="forget", **encode),
        retain=encode_rows(tokenizer, template, [(i.question, i.answer) for i in retain_items], name="retain", **encode),
        template=template, max_length=settings.max_length, seed=settings.seed, rank=rank, world_size=size,
        runtime=runtime,
    )


def unlearn(
    method: Method, *, model: nn.Module, tokenizer: Any, template: Any, forget_items: Sequence[QAItem],
    retain_items: Sequence[QAItem], settings: RunSettings = RunSettings(),
    checkpoint_dir: str | os.PathLike[str] | None = None, resume: bool = False, progress: bool = False,
) -> Unlearned:
    """Run ``method`` on a copy of ``model`` through the core (see the module docstring).

    Args:
        checkpoint_dir: where checkpoints go (needed with ``settings.checkpoint_every`` or ``resume``).
        resume: continue from the checkpoint in ``checkpoint_dir`` when there is one (its method config
            and run settings must equal these).
    """
    start = time.perf_counter()
    task = build_task(method, model=model, tokenizer=tokenizer, template=template, forget_items=forget_items,
                      retain_items=retain_items, settings=settings)
    plan = method.plan(task)
    meta = checkpoint_meta(method, settings, task.world_size)
    sharded = settings.shard is not None
    checkpointing = None
    if settings.checkpoint_every is not None:
        if checkpoint_dir is None:
            raise ValueError("checkpoint_every is set but no checkpoint_dir was given")
        checkpointing = Checkpointing(folder=Path(checkpoint_dir), every=settings.checkpoint_every, meta=meta,
                                      sharded=sharded)
    loaded = None
    if resume:
        if checkpoint_dir is None:
            raise ValueError("resume needs a checkpoint_dir")
        if has_checkpoint(checkpoint_dir):
            theta0 = plan.problem.theta0
            loaded = load_checkpoint(checkpoint_dir, device=theta0[0].device, expect_meta=meta,
                                     mesh=theta0[0].device_mesh if sharded else None)
            logger.info("resuming %s from step %d", method.name, loaded.state.k)
        else:
            logger.info("no checkpoint in %s: starting from step 0", checkpoint_dir)
    floor = None
    if settings.max_retain_nll is not None:
        probe = TokenRows(name="probe", rows=task.retain.rows[: settings.floor_probe],
                          pad_token_id=task.retain.pad_token_id)
        floor = UtilityFloor(params=task.params, probe=probe, max_retain_nll=settings.max_retain_nll,
                             every=settings.floor_every)
    result = execute(plan, callback=floor, checkpoint=checkpointing, resume=loaded, progress=progress)
    theta = result.theta
    if floor is not None and floor.tripped:
        theta = floor.last_good[1] if floor.last_good is not None else plan.problem.theta0
    task.params.assign(theta)
    if result.status is Status.DIVERGED:
        logger.error("%s diverged after %d steps: %s", method.name, result.nit, result.message)
    reference = task.__dict__.get("reference")
    final = task.model
    if sharded:  # rank 0 gets an ordinary model with the final weights (collective: every rank calls it)
        full = gather_full_model(task.model, model, device=plan.problem.theta0[0].device)
        final = full if full is not None else task.model
    return Unlearned(
        method=method.name, config=method.to_dict(), model=final, result=result, status=result.status.name,
        diverged=result.status is Status.DIVERGED, wall_s=time.perf_counter() - start,
        effective_batch_size=(plan.sampler.batch_lower or len(task.forget)) * task.world_size,
        world_size=task.world_size, distributed=distributed_record(plan.sampler, task), runtime=task.runtime,
        reference=None if reference is None else reference.kind, floor=None if floor is None else floor.to_dict(),
        settings=settings,
    )


def checkpoint_meta(method: Method, settings: RunSettings, world_size: int) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: the method config with its batch sizes made effective
    (per rank × ``world_size``, the rows one step sees) and the run settings except ``shard``.

    The union of the ranks' disjoint shards is one process's batch of that effective size (``MiniBatch``), so a
    checkpoint resumes on another number of ranks, sharded or not, with the per-rank batch that keeps the
    effective one. In a single process the stored config is the method's own.
    """
    config = method.to_dict()
    if world_size > 1:  # retain_batch_size None means "= batch_size", which scales with it
        config = {**config, **{k: config[k] * world_size for k in ("batch_size", "retain_batch_size")
                               if config.get(k) is not None}}
    settings_dict = {k: v for k, v in settings.to_dict().items() if k != "shard"}
    return {"method": config, "settings": settings_dict}


def distributed_record(sampler: Any, task: UnlearnTask) -> dict[str, Any]:
    """World size, backend and batch sizes: per rank and effective (per-rank batch × world size)."""
    import torch.distributed as dist  # noqa: PLC0415

    backend = dist.get_backend() if dist.is_available() and dist.is_initialized() else "none"
    per_f = sampler.batch_lower or len(task.forget)
    per_r = sampler.batch_upper or len(task.retain)
    shard = task.runtime.get("shard")
    return {"world_size": task.world_size, "backend": backend, "per_rank_batch_size": per_f,
            **({"shard": shard["mode"]} if shard else {}),
            "effective_batch_size": per_f * task.world_size, "per_rank_retain_batch_size": per_r,
            "effective_retain_batch_size": per_r * task.world_size}


def replace_folder(tmp: Path, target: Path) -> None:
    """Move the finished folder ``tmp`` to ``target``, replacing an older ``target`` (never leaving a half one)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_unlearned(unlearned: Unlearned, out: str | os.PathLike[str], *, tokenizer: Any,
                   metadata: dict[str, Any] | None = None) -> Path:
    """Write ``out/`` (model, adapter, result.json) atomically; a diverged run is refused.

    Raises:
        ValueError: when the run diverged (nothing is written).
    """
    if unlearned.diverged:
        raise ValueError(f"{unlearned.method} diverged ({unlearned.result.message}); nothing was saved")
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(f".{target.name}.", target.parent)
    try:
        model = unlearned.model
        save_pretrained(merged(model), tokenizer, tmp / "model")
        if is_peft(model):
            model.save_pretrained(str(tmp / "adapter"), safe_serialization=True)
        meta = run_metadata(seed=unlearned.settings.seed, config=unlearned.config)
        meta["devices"]["effective_batch_size"] = unlearned.effective_batch_size
        meta["distributed"] = unlearned.distributed
        meta["runtime"] = unlearned.runtime
        write_json(tmp / "result.json", {**unlearned.record(), "metadata": {**meta, **(metadata or {})}})
        replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def trace_summary(result: Result) -> dict[str, float]:
    """First and last finite values of the losses in the trace (for logs and the bench table)."""
    out: dict[str, float] = {}
    for name in ("loss_f", "loss_r"):
        if name in result.trace:
            col = result.trace[name]
            finite = col[np.isfinite(col)]
            if finite.size:
                out[f"{name}_first"], out[f"{name}_last"] = float(finite[0]), float(finite[-1])
    return out
