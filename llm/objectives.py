"""The unlearning losses of a causal LM as functions of θ, handed to the core as :class:`TorchObjective`.

Every objective is ``TorchObjective(ModuleParams.loss(fn), n_rows=N)`` over one pre-tokenised set
(:class:`TokenRows`): a *batch* is a 1-D numpy array of row indices (``None``: all rows), exactly what
:class:`ofmu_theory.MiniBatch` draws; the loss collates those rows and runs the model with θ
substituted (``torch.func.functional_call``; θ is every trainable tensor, or only the LoRA adapters).
The model runs in eval mode inside every loss (no dropout), so each loss is a deterministic function of
θ and the batch — finite-difference HVPs and line searches need that. How the forward pass runs (device,
bf16 autocast, gradient checkpointing) is the params' business (:class:`llm.runtime.ModelParams`).

**Data parallel.** With a process group of W > 1 ranks every objective gets
``reduce=mean_across_ranks`` and each rank evaluates its own shard of the batch. Losses that are means over
rows (NPO, SimNPO, DPO, RMU) then equal one process's loss on the union, since every rank holds the same
number of rows; the token-weighted NLL divides by the global token count (:func:`token_mean`) for the same
reason. The KL retain loss averages over each rank's own padded positions (as OpenUnlearning's under DDP):
its mean over ranks is close to, not equal to, the single-process value on the combined batch.

The core MAXIMISES the lower (forget) objective and minimises the upper (retain) one, so the forget
objectives return the quantity to increase (formulas in :mod:`llm.losses`):

==========================  ===========================================  =========================
objective                   value                                        used by
==========================  ===========================================  =========================
:func:`nll`                 NLL (mean token CE over answer tokens)        forget: GA, GradDiff, BLUR,
                                                                         OFMU; retain: all but RMU
:func:`neg_npo`             −L_NPO(β)                                    NPO, OFMU(forget_loss=npo)
:func:`neg_simnpo`          −L_SimNPO(β, δ)                              SimNPO
:func:`neg_dpo`             −L_DPO(β), win = IdK answer, lose = answer   IdkDPO
:func:`neg_rmu`             −L_act(h_ℓ(x_f), c·u)                        RMU (forget)
:func:`kl`                  KL(p_ref ‖ p_θ) on retain                    GradDiff(retain_loss=kl)
:func:`rmu_retain`          L_act(h_ℓ(x_r), h_ℓ^ref(x_r))                RMU (retain)
:func:`null`                0 (no data)                                  training (prepare)
==========================  ===========================================  =========================

**Reference model** (:class:`Reference`): a frozen deep copy of the starting model for full
fine-tuning; with LoRA, the same PeftModel run with its adapters disabled (the base weights, which
LoRA never changes), so no second copy of the weights is held. Quantities of the reference that do
not depend on θ (s_ref of every forget / IdK row, RMU's reference activations) are computed once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from llm.distributed import sum_across_ranks
from llm.losses import (
    activation_loss,
    answer_lengths,
    dpo_loss,
    kl_to_reference,
    npo_loss,
    sequence_nll,
    simnpo_loss,
    token_nll,
)
from llm.runtime import autocast, eval_mode
from llm.tokenization import IGNORE_INDEX, Encoded, collate
from ofmu_theory.distributed import mean_across_ranks, world
from ofmu_theory.modules import Forward, ModuleParams
from ofmu_theory.objectives import Batch, TorchObjective
from ofmu_theory.sharded import ShardedObjective, ShardedParams


@dataclass(frozen=True, eq=False)
class TokenRows:
    """A pre-tokenised, row-indexed set of (prompt, answer) sequences.

    Attributes:
        name: a label for messages ("forget", "retain", "idk").
        rows: the encoded rows (labels mask the prompt with ``IGNORE_INDEX``).
        pad_token_id: the tokenizer's pad id (right padding).
    """

    name: str
    rows: tuple[Encoded, ...]
    pad_token_id: int

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError(f"the {self.name} set is empty")
        if self.pad_token_id is None:
            raise ValueError("pad_token_id is None: the tokenizer needs a pad token (see llm.models.set_pad_token)")

    def __len__(self) -> int:
        return len(self.rows)

    def indices(self, batch: Batch) -> np.ndarray:
        """The row indices of ``batch`` (``None``: all rows)."""
        if batch is None:
            return np.arange(len(self.rows))
        idx = np.asarray(batch)
        if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= len(self.rows):
            raise ValueError(f"batch must be a non-empty 1-D array of row indices in [0, {len(self.rows)})")
        return idx

    def collate(self, batch: Batch, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask``, ``labels`` (B, T) of the rows in ``batch``."""
        out = collate([self.rows[i] for i in self.indices(batch)], pad_token_id=self.pad_token_id)
        return {k: v.to(device) for k, v in out.items()} if device is not None else out


def _device(params: ModuleParams) -> torch.device:
    return params.module.get_parameter(params.names[0]).device


def logits_of(forward: Forward, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits (B, T, V) of a causal LM forward pass (no KV cache)."""
    return forward(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False).logits


def _objective(params: ModuleParams, n_rows: int | None, fn: Callable[[Forward, Batch], torch.Tensor]) -> TorchObjective:
    """The TorchObjective of ``fn`` (model in eval mode, :func:`llm.runtime.eval_mode`; under data
    parallelism every value, gradient and HVP is averaged across ranks, each rank evaluating its own shard
    of the batch)."""

    def loss(forward: Forward, batch: Batch) -> torch.Tensor:
        with eval_mode(params.module):
            return fn(forward, batch)

    if isinstance(params, ShardedParams):  # FSDP reduces the gradients; values are averaged inside
        return ShardedObjective(params.loss(loss), params=params, n_rows=n_rows)
    reduce = mean_across_ranks if world()[1] > 1 else None
    return TorchObjective(params.loss(loss), n_rows=n_rows, reduce=reduce)


# --- the reference model -----------------------------------------------------------------------


class Reference:
    """π_ref: a frozen copy of the starting model, or a PeftModel with its adapters disabled.

    Args:
        module: the frozen copy, or the PeftModel itself (``adapters_off=True``).
        adapters_off: run ``module`` inside ``disable_adapter()`` (LoRA).
        autocast_dtype: run the reference's forward passes under ``torch.autocast`` (bf16 runs), so that it
            computes the same function as the model at θ_0 (KL(π_ref ‖ π_θ0) = 0).
    """

    def __init__(self, module: nn.Module, *, adapters_off: bool, autocast_dtype: torch.dtype | None = None) -> None:
        self.module = module
        self.adapters_off = adapters_off
        self.autocast_dtype = autocast_dtype

    @classmethod
    def frozen_copy(cls, model: nn.Module, *, autocast_dtype: torch.dtype | None = None) -> Reference:
        """A deep copy of ``model`` in eval mode with every parameter frozen."""
        ref = copy.deepcopy(model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return cls(ref, adapters_off=False, autocast_dtype=autocast_dtype)

    @classmethod
    def of(cls, model: nn.Module, *, autocast_dtype: torch.dtype | None = None) -> Reference:
        """The base model with adapters disabled for a PeftModel, else a frozen copy."""
        if hasattr(model, "disable_adapter") and hasattr(model, "peft_config"):
            return cls(model, adapters_off=True, autocast_dtype=autocast_dtype)
        return cls.frozen_copy(model, autocast_dtype=autocast_dtype)

    @property
    def kind(self) -> str:
        return "base model with LoRA adapters disabled" if self.adapters_off else "frozen copy of the starting model"

    @contextmanager
    def _running(self) -> Iterator[nn.Module]:
        device = next(self.module.parameters()).device
        with torch.no_grad(), eval_mode(self.module), autocast(self.autocast_dtype, device), \
                (self.module.disable_adapter() if self.adapters_off else nullcontext()):
            yield self.module

    def logits(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Reference logits (B, T, V), without gradients."""
        with self._running() as module:
            return logits_of(module, inputs)

    def sequence_nll(self, rows: TokenRows, *, batch_size: int = 32) -> torch.Tensor:
        """s_ref(y|x) of every row (N,), float32 on the rows' device."""
        out = []
        device = next(self.module.parameters()).device
        for start in range(0, len(rows), batch_size):
            idx = np.arange(start, min(start + batch_size, len(rows)))
            inputs = rows.collate(idx, device)
            out.append(sequence_nll(self.logits(inputs), inputs["labels"]))
        return torch.cat(out)

    def activations(self, rows: TokenRows, layer: str, *, batch_size: int = 32) -> list[torch.Tensor]:
        """h_ℓ^ref of every row, unpadded: one (T_i, d) tensor per row."""
        device = next(self.module.parameters()).device
        out: list[torch.Tensor] = []
        with self._running() as module:
            block = module.get_submodule(layer)
            for start in range(0, len(rows), batch_size):
                idx = np.arange(start, min(start + batch_size, len(rows)))
                inputs = rows.collate(idx, device)
                h = capture_activation(module, block, inputs)
                out.extend(h[j, : len(rows.rows[i].input_ids)].detach() for j, i in enumerate(idx))
        return out


# --- activations (RMU) ----------------------------------------------------------------------------


class _Captured(Exception):
    def __init__(self, value: torch.Tensor) -> None:
        super().__init__("activation captured")
        self.value = value


def capture_activation(forward: Forward | nn.Module, block: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The output hidden states (B, T, d) of ``block`` in a forward pass; the layers after it are skipped."""

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        raise _Captured(output[0] if isinstance(output, tuple) else output)

    handle = block.register_forward_hook(hook)
    try:
        logits_of(forward, inputs)
    except _Captured as captured:
        return captured.value
    finally:
        handle.remove()
    raise RuntimeError("the hooked block did not run in the forward pass")


# --- objectives -------------------------------------------------------------------------------------


def token_mean(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Σ token NLL / number of answer tokens, the count taken over the GLOBAL batch (every rank's).

    In one process this is ``total / count``. Under data parallelism each rank returns
    ``total_r · W / Σ_r count_r``, so that the mean over ranks the core takes equals the token mean of the
    union of the ranks' batches — what one process sees on the combined batch. (A mean of per-rank token
    means would weight each rank's tokens by 1/count_r instead.)

    Raises:
        ValueError: the (global) batch has no answer token.
    """
    size = world()[1]
    n = sum_across_ranks(count)
    if int(n) == 0:
        raise ValueError("the batch has no answer token to score")
    return total * size / n.to(total.dtype) if size > 1 else total / n


def nll(params: ModuleParams, rows: TokenRows) -> TorchObjective:
    """NLL(θ; batch): the mean token cross-entropy over the batch's answer tokens (of every rank's batch
    under data parallelism, :func:`token_mean`)."""
    device = _device(params)

    def fn(forward: Forward, batch: Batch) -> torch.Tensor:
        inputs = rows.collate(batch, device)
        labels = inputs["labels"]
        total = token_nll(logits_of(forward, inputs), labels).sum()
        return token_mean(total, (labels[:, 1:] != IGNORE_INDEX).sum())

    return _objective(params, len(rows), fn)


def neg_npo(params: ModuleParams, rows: TokenRows, reference: Reference, *, beta: float) -> TorchObjective:
    """−L_NPO(θ; batch) with s_ref precomputed once per row."""
    device = _device(params)
    s_ref = reference.sequence_nll(rows).to(device)

    def fn(forward: Forward, batch: Batch) -> torch.Tensor:
        idx = rows.indices(batch)
        inputs = rows.collate(idx, device)
        s_theta = sequence_nll(logits_of(forward, inputs), inputs["labels"])
        return -npo_loss(s_theta, s_ref[torch.as_tensor(idx, device=device)], beta=beta)

    return _objective(params, len(rows), fn)


def neg_simnpo(params: ModuleParams, rows: TokenRows, *, beta: float, delta: float) -> TorchObjective:
    """−L_SimNPO(θ; batch) (no reference model)."""
    device = _device(params)

    def fn(forward: Forward, batch: Batch) -> torch.Tensor:
        inputs = rows.collate(batch, device)
        s_theta = sequence_nll(logits_of(forward, inputs), inputs["labels"])
        return -simnpo_loss(s_theta, answer_lengths(inputs["labels"]), beta=beta, delta=delta)

    return _objective(params, len(rows), fn)


def neg_dpo(params: ModuleParams, win: TokenRows, lose: TokenRows, reference: Reference, *, beta: float) -> TorchObjective:
    """−L_DPO(θ; batch): row i pairs ``win.rows[i]`` (preferred, the IdK answer) with ``lose.rows[i]``."""
    if len(win) != len(lose):
        raise ValueError(f"win and lose sets must be aligned, got {len(win)} and {len(lose)} rows")
    device = _device(params)
    ref_win, ref_lose = reference.sequence_nll(win).to(device), reference.sequence_nll(lose).to(device)

    def fn(forward: Forward, batch: Batch) -> torch.Tensor:
        idx = win.indices(batch)
        rows_t = torch.as_tensor(idx, device=device)
        w, l_ = win.collate(idx, device), lose.collate(idx, device)
        s_w = sequence_nll(logits_of(forward, w), w["labels"])
        s_l = sequence_nll(logits_of(forward, l_), l_["labels"])
        return -dpo_loss(s_w, ref_win[rows_t], s_l, ref_lose[rows_t], beta=beta)

    return _objective(params, len(win), fn)


def kl(params: ModuleParams, rows: TokenRows, reference: Reference) -> TorchObjective:
    """KL(p_ref ‖ p_θ) on the batch (reference logits recomputed per batch, without gradients)."""
    device = _device(params)

    def fn(forward: Forward, batch: Batch) -> torch.Tensor:
        inputs = rows.collate(batch, device)
        return kl_to_reference(logits_of(forward, inputs), reference.logits(inputs))

    return _objective(params, len(rows), fn)


def answer_mask(labels: torch.Tensor) -> torch.Tensor:
    """(B, T) True at answer positions (labels != IGNORE_INDEX), as RMU masks its activations."""
    return labels != IGNORE_INDEX


def neg_rmu(params: ModuleParams, rows: TokenRows, *, layer: str, control: torch.Tensor) -> TorchObjective:
    """−L_act(h_ℓ(x_f; θ), c·u): RMU's forget term, negated for maximisation.

    Args:
        layer: the module name whose output is h_ℓ.
        control: the steering vector c·u, shape (d,).
    """
    device = _device(params)
    block = params.module.get_submodule(layer)
    target = control.to(device).reshape(1, 1, -1)

    def fn(forward: Forward, batch: Batch) -> torch.Tensor:
        inputs = rows.collate(batch, device)
        h = capture_activation(forward, block, inputs)
        return -activation_loss(h, target, answer_mask(inputs["labels"]))

    return _objective(params, len(rows), fn)


def rmu_retain(params: ModuleParams, rows: TokenRows, reference: Reference, *, layer: str) -> TorchObjective:
    """L_act(h_ℓ(x_r; θ), h_ℓ^ref(x_r)): RMU's retain term (reference activations computed once)."""
    device = _device(params)
    block = params.module.get_submodule(layer)
    ref_h = [h.to(device) for h in reference.activations(rows, layer)]

    def fn(forward: Forward, batch: Batch) -> torch.Tensor:
        idx = rows.indices(batch)
        inputs = rows.collate(idx, device)
        h = capture_activation(forward, block, inputs)
        target = torch.zeros_like(h)
        for j, i in enumerate(idx):
            target[j, : ref_h[i].shape[0]] = ref_h[i]
        return activation_loss(h, target, answer_mask(inputs["labels"]))

    return _objective(params, len(rows), fn)


def null(params: ModuleParams) -> TorchObjective:
    """The constant 0 without data rows: the absent lower level of plain training (never read by
    ``scalarized`` with ``forget_weight=0``; its gradient is exactly zero)."""

    def loss_fn(theta: tuple[torch.Tensor, ...], batch: Batch) -> torch.Tensor:
        return sum((p.sum() * 0.0 for p in theta), torch.zeros((), device=theta[0].device))

    return TorchObjective(loss_fn, n_rows=None)


def encode_rows(
    tokenizer: Any, template: Any, pairs: Sequence[tuple[str, str]], *, name: str, max_length: int,
    overflow: str = "error",
) -> TokenRows:
    """Tokenise (question, answer) pairs into :class:`TokenRows` (prompt labels masked)."""
    from llm.tokenization import encode_pair

    rows = tuple(encode_pair(tokenizer, template, q, a, max_length=max_length, overflow=overflow) for q, a in pairs)
    return TokenRows(name=name, rows=rows, pad_token_id=tokenizer.pad_token_id)
