"""Fine-tuning a causal LM on QA pairs through the core (the target and retain models of ``prepare``).

The recipe is a single-level run of the core's ``scalarized`` solver with ``forget_weight = 0``: the
upper objective is the NLL over the training rows' answer tokens, the lower objective is the data-free
:func:`llm.objectives.null` (never read), the transform is AdamW (the core's :class:`Adam` with
decoupled weight decay), η_k a cosine schedule after a linear warm-up, and :class:`MiniBatch` draws
``epochs · ⌈N / batch⌉`` batches of the training rows (its lower side is ``batch_lower=None``):

.. math:: θ_{k+1} = θ_k − η_k(\\mathrm{Adam}(∇NLL(θ_k; B_k)) + λ_{wd}θ_k)

TOFU's recipe is 5 epochs at lr 1e-5, weight decay 0.01, effective batch 32, one warm-up epoch
(:data:`TOFU_RECIPE`); the embedded GPT-2, trained from scratch, needs a larger step and more epochs
(:data:`EMBEDDED_RECIPE`, measured to memorise the corpus; see docs/llm.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from llm import objectives
from llm.data.schema import QAItem
from llm.runner import Plan, execute
from ofmu_theory.distributed import world
from ofmu_theory.epochs import batches_per_epoch, lr_schedule, steps_for, warmup_steps
from ofmu_theory.modules import ModuleParams
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.result import Result
from ofmu_theory.runinfo import progress_label
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.solvers import Scalarized
from ofmu_theory.transforms import Adam

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainRecipe:
    """Fine-tuning settings.

    Attributes:
        epochs: passes over the training rows.
        lr: peak step size.
        batch_size: rows per step.
        warmup_epochs: linear warm-up length.
        weight_decay: AdamW's decoupled weight decay.
        lora_r: train LoRA adapters of this rank on every linear layer instead of every weight, then fold them
            into the weights (None: full fine-tuning). The saved model is a plain model either way.
        lora_alpha: the adapters' α (None: 2 · lora_r).
    """

    epochs: float = 5.0
    lr: float = 1e-5
    batch_size: int = 32
    warmup_epochs: float = 1.0
    weight_decay: float = 0.01
    lora_r: int | None = None
    lora_alpha: float | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got batch_size={self.batch_size!r}")
        if self.warmup_epochs < 0 or self.weight_decay < 0:
            raise ValueError(f"warmup_epochs and weight_decay must be >= 0, got {self.warmup_epochs}, {self.weight_decay}")
        if self.lora_r is None and self.lora_alpha is not None:
            raise ValueError(f"lora_alpha applies with lora_r only, got lora_alpha={self.lora_alpha!r}")

    def lora(self) -> Any:
        """The :class:`~llm.lora.LoraOptions` of a LoRA recipe (None: full fine-tuning)."""
        if self.lora_r is None:
            return None
        from llm.lora import LoraOptions  # noqa: PLC0415

        return LoraOptions(r=self.lora_r, alpha=self.lora_alpha if self.lora_alpha is not None else 2.0 * self.lora_r)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("lora_r", "lora_alpha"):  # absent while unset: entries prepared before the option keep their key
            if out[name] is None:
                del out[name]
        return out


TOFU_RECIPE = TrainRecipe()
EMBEDDED_RECIPE = TrainRecipe(epochs=40.0, lr=3e-3, batch_size=32, warmup_epochs=1.0, weight_decay=0.01)


def training_plan(model: nn.Module, rows: objectives.TokenRows, recipe: TrainRecipe, *, seed: int,
                  names: Sequence[str] | None = None) -> Plan:
    """The core run that fine-tunes the parameters ``names`` of ``model`` (None: every one) on ``rows``."""
    params = ModuleParams.of(model) if names is None else ModuleParams.of(model, names=names)
    n = len(rows)
    per_epoch = batches_per_epoch(n, recipe.batch_size * world()[1])
    steps = steps_for(recipe.epochs, per_epoch)
    problem = BilevelProblem(name="finetune", lower=objectives.null(params), upper=objectives.nll(params, rows),
                             theta0=params.vector(), sense="max")
    solver = Scalarized(forget_weight=0.0, retain_weight=1.0,
                        eta=lr_schedule(recipe.lr, steps=steps,
                                        warmup=warmup_steps(recipe.warmup_epochs, per_epoch, steps)),
                        transform=Adam(weight_decay=recipe.weight_decay), max_steps=steps)
    rank, size = world()
    sampler = MiniBatch(n_lower=0, n_upper=n, batch_lower=None, batch_upper=min(recipe.batch_size, max(1, n // size)),
                        seed=seed, rank=rank, world_size=size)
    return Plan(problem=problem, solver=solver, sampler=sampler, params=params)


def finetune(
    model: nn.Module, tokenizer: Any, template: Any, items: Sequence[QAItem], recipe: TrainRecipe, *, seed: int = 0,
    max_length: int = 256, progress: bool = False, label: str = "fine-tuning",
) -> Result:
    """Fine-tune ``model`` in place on ``items`` (question → answer) and return the core's result.

    Args:
        label: the progress bar's label.

    Raises:
        ValueError: empty ``items``, or the core reports a divergence (the model is then left unchanged).
    """
    if not items:
        raise ValueError("the training set is empty")
    rows = objectives.encode_rows(tokenizer, template, [(i.question, i.answer) for i in items], name="train",
                                  max_length=max_length)
    for p in model.parameters():
        p.requires_grad_(True)
    trained, names = model, None
    if recipe.lora() is not None:
        from llm.lora import adapter_names, apply_lora  # noqa: PLC0415

        trained = apply_lora(model, recipe.lora(), seed=seed)  # injects the adapters into model's own modules
        names = adapter_names(trained)
    plan = training_plan(trained, rows, recipe, seed=seed, names=names)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with progress_label(label):
            result = execute(plan, progress=progress)
    if not result.success:
        raise ValueError(f"fine-tuning diverged after {result.nit} steps ({result.message}); lower lr={recipe.lr}")
    plan.params.assign(result.theta)
    if trained is not model:
        trained.merge_and_unload()  # folds the adapters into model's weights, in place: model is plain again
    losses = result.trace["loss_r"]
    logger.info("fine-tuned %d steps on %d rows: NLL %.4f -> %.4f in %.1f s", result.nit, len(rows), losses[0],
                losses[-1], result.wall_s)
    return result
