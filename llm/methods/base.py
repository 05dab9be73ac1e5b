"""The method protocol: a frozen dataclass of hyper-parameters whose ``plan`` maps a task to a core run.

A method never optimises by itself. ``plan(task)`` builds objectives (:mod:`llm.objectives`) over the
forget set D_f and the retain set D_r, a core solver with its hyper-parameters and a
:class:`~ofmu_theory.MiniBatch` sampler; :mod:`llm.unlearn` executes it (:func:`llm.runner.execute`).

Shared optimiser settings (OpenUnlearning's TOFU recipe is the dataclass default; ``preset("embedded")``
gives our defaults for the small embedded GPT-2, which that recipe does not move at lr 1e-5):

* AdamW = the core's :class:`~ofmu_theory.transforms.Adam` with decoupled ``weight_decay``;
* η_k = :func:`ofmu_theory.epochs.lr_schedule` (cosine from ``lr`` after a linear warm-up of
  ``warmup_epochs``; OpenUnlearning decays linearly after its warm-up — the core has
  no warm-up + linear schedule);
* one step = one forget batch of ``batch_size`` rows and one retain batch of ``retain_batch_size`` rows per
  rank; effective batch = ``batch_size × world_size`` (no gradient accumulation);
* ``max_steps = round(epochs × sampler.steps_per_epoch())``, an epoch being one pass over D_f
  (OpenUnlearning's ``anchor: forget``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar

from torch import nn

from llm import objectives
from llm.data.schema import QAItem
from llm.objectives import Reference, TokenRows
from llm.runner import Plan
from ofmu_theory import options as flat
from ofmu_theory.epochs import lr_schedule, steps_for, warmup_steps
from ofmu_theory.modules import ModuleParams
from ofmu_theory.objectives import Objective
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.registry import Registry
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.steps import StepRule
from ofmu_theory.transforms import Adam
from ofmu_theory.validation import (  # noqa: F401 (checks re-exported for the methods)
    check_choice,
    check_nonnegative,
    check_positive,
    coerce_field,
)

#: Unlearning methods by name; each entry is a :class:`Method` subclass (its fields are the config).
METHODS: Registry[type[Method]] = Registry("method")


def bench_order() -> tuple[str, ...]:
    """Every registered method in table order (``bench_rank``, then name): the benches' default methods."""
    return tuple(sorted(METHODS.names(), key=lambda name: (METHODS.get(name).bench_rank, name)))
PRESETS: tuple[str, ...] = ("openunlearning", "embedded")
RETAIN_LOSSES: tuple[str, ...] = ("nll", "kl")


@dataclass(frozen=True, kw_only=True, eq=False)
class UnlearnTask:
    """What a method works on.

    Attributes:
        model: the working model (a copy of the target; a PeftModel under LoRA) in eval mode.
        params: θ — every trainable tensor, or the adapters, or a method's subset (RMU).
        tokenizer: the tokenizer.
        forget_items: D_f as QA items (IdkDPO re-encodes them with IdK answers).
        forget: D_f tokenised (question, answer).
        retain: D_r tokenised.
        template: the prompt template.
        max_length: the longest tokenised sequence.
        seed: the run's seed (sampler, IdK answer choice, RMU's steering vector).
        rank, world_size: data-parallel position (per-rank disjoint batches).
        runtime: how the model runs (device, precision, checkpointing, attention; :func:`llm.runtime.configure`).
        make_reference: builds π_ref where the model cannot be deep-copied (a sharded run,
            :func:`llm.sharding.sharded_reference`); None: a frozen copy of ``model``.
    """

    model: nn.Module
    params: ModuleParams
    tokenizer: Any
    forget_items: tuple[QAItem, ...]
    forget: TokenRows
    retain: TokenRows
    template: Any
    max_length: int
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    runtime: dict[str, Any] = field(default_factory=dict)
    make_reference: Callable[[], Reference] | None = None

    @cached_property
    def reference(self) -> Reference:
        """π_ref: a frozen copy of the starting model, or the base model with LoRA adapters disabled (run under
        the same autocast as θ's forward passes)."""
        if self.make_reference is not None:
            return self.make_reference()
        return Reference.of(self.model, autocast_dtype=getattr(self.params, "autocast_dtype", None))

    def problem(self, *, lower: Objective, upper: Objective, name: str) -> BilevelProblem:
        """Lower level = the forget objective (MAXIMISED, sense "max"), upper level = the retain objective."""
        return BilevelProblem(name=name, lower=lower, upper=upper, theta0=self.params.vector(), sense="max")


@dataclass(frozen=True, kw_only=True)
class Method(ABC):
    """Shared hyper-parameters (OpenUnlearning's TOFU defaults; see the module docstring).

    Attributes:
        epochs: passes over D_f.
        lr: peak step size η of AdamW.
        batch_size: forget rows per step and rank.
        retain_batch_size: retain rows per step and rank (None: ``batch_size``).
        weight_decay: AdamW's decoupled weight decay.
        warmup_epochs: linear warm-up length.
        clip_norm: clip each gradient to this norm (None: no clipping).

    Class attributes:
        name: the registry name.
        bench_rank: the method's place in the bench tables (ascending, ties by name): OpenUnlearning's
            methods and BLUR 10 to 70, OFMU (the subject) 100; the default 90 puts a new method after them.
        test_settings: hyper-parameters the test suite adds for its 2-layer GPT-2 (e.g. RMU's layer).
    """

    name: ClassVar[str] = ""
    bench_rank: ClassVar[int] = 90
    test_settings: ClassVar[Mapping[str, Any]] = {}
    #: Our defaults for the embedded GPT-2 (overrides of the dataclass defaults), see docs/llm.md.
    EMBEDDED: ClassVar[Mapping[str, Any]] = {}

    epochs: float = 10.0
    lr: float = 1e-5
    batch_size: int = 32
    retain_batch_size: int | None = None
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    clip_norm: float | None = None

    def __post_init__(self) -> None:
        check_positive(epochs=self.epochs, lr=self.lr)
        check_nonnegative(weight_decay=self.weight_decay, warmup_epochs=self.warmup_epochs)
        for name in ("batch_size", "retain_batch_size"):
            value = getattr(self, name)
            if value is None and name == "retain_batch_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {name}={value!r}")
        if self.clip_norm is not None:
            check_positive(clip_norm=self.clip_norm)

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str = "openunlearning", **overrides: Any) -> Method:
        """The config with ``"openunlearning"`` (dataclass) or ``"embedded"`` defaults, then ``overrides``.

        Raises:
            ValueError: an unknown preset or an unknown / mistyped field (naming it and the valid ones).
        """
        check_choice("preset", name, PRESETS)
        values = dict(cls.EMBEDDED) if name == "embedded" else {}
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Method:
        """Build from a mapping of field values (e.g. parsed ``--set key=value`` or a checkpoint's config)."""
        valid = cls.options()
        unknown = sorted(set(values) - set(valid) - {"method"})
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for method {cls.name!r}; valid: {', '.join(sorted(valid))}")
        return flat.build(cls, {k: _coerce(cls, k, v) for k, v in values.items() if k != "method"})

    @classmethod
    def options(cls) -> dict[str, Any]:
        """Every option by its flat name (a held solver configuration's fields included) → its default."""
        return flat.defaults(cls)

    def to_dict(self) -> dict[str, Any]:
        """The method name and every hyper-parameter, flat (plain JSON values)."""
        values = flat.flat_dict(self)
        return {"method": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}}

    def with_budget(self, **budget: Any) -> Method:
        """The same method with shared budget fields (epochs, batch sizes) replaced."""
        return replace(self, **{k: v for k, v in budget.items() if v is not None})

    # --- hooks for subclasses ----------------------------------------------------------------------
    def trainable(self, model: nn.Module) -> tuple[str, ...] | None:
        """Parameter names θ is restricted to (None: all parameters, or all adapters under LoRA)."""
        return None

    def lora_targets(self, model: nn.Module) -> tuple[str, ...] | None:
        """Module names LoRA adapts for this method (None: the LoRA options' targets)."""
        return None

    def needs_double_backward(self) -> bool:
        """True when the plan differentiates through a gradient (exact HVPs): the model is then made safe
        for third-order autodiff (:func:`llm.higher_order.make_third_order_safe`)."""
        return False

    def double_backward_reason(self) -> str:
        """Why :meth:`needs_double_backward` (for the log line and the run's ``runtime`` record)."""
        return self.name

    @abstractmethod
    def plan(self, task: UnlearnTask) -> Plan:
        """The core run that unlearns ``task``."""

    # --- helpers shared by the plans --------------------------------------------------------------------
    def sampler(self, task: UnlearnTask, *, n_lower: int | None = None) -> MiniBatch:
        """Seeded epoch-wise batches: lower side over D_f, upper side over D_r, this rank's shard."""
        n_f, n_r = n_lower or len(task.forget), len(task.retain)
        # a batch never exceeds its set (per rank), so one batch never holds a row twice
        per_rank_f, per_rank_r = max(1, n_f // task.world_size), max(1, n_r // task.world_size)
        return MiniBatch(n_lower=n_f, n_upper=n_r, batch_lower=min(self.batch_size, per_rank_f),
                         batch_upper=min(self.retain_batch_size or self.batch_size, per_rank_r),
                         seed=task.seed, rank=task.rank, world_size=task.world_size)

    def max_steps(self, sampler: MiniBatch) -> int:
        """round(epochs × steps per epoch), at least 1 (:func:`ofmu_theory.epochs.steps_for`)."""
        return steps_for(self.epochs, sampler.steps_per_epoch())

    def eta(self, sampler: MiniBatch, *, lr: float | None = None) -> StepRule:
        """Cosine step sizes from ``lr`` after ``warmup_epochs`` of linear warm-up (η_k > 0 for every k taken)."""
        steps, per_epoch = self.max_steps(sampler), sampler.steps_per_epoch()
        return lr_schedule(lr or self.lr, steps=steps, warmup=warmup_steps(self.warmup_epochs, per_epoch, steps))

    def adamw(self) -> Adam:
        """The core's Adam with decoupled weight decay (AdamW) and optional clipping."""
        return Adam(weight_decay=self.weight_decay, clip_norm=self.clip_norm)


@dataclass(frozen=True, kw_only=True)
class WithRetain(Method):
    """Methods whose total loss is γ·L_forget + α·L_retain (OpenUnlearning's GradDiff family).

    Attributes:
        gamma: γ, the forget weight.
        alpha: α, the retain weight.
        retain_loss: ``"nll"`` (NLL on D_r) or ``"kl"`` (KL(p_ref ‖ p_θ) on D_r).
    """

    gamma: float = 1.0
    alpha: float = 1.0
    retain_loss: str = "nll"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_nonnegative(gamma=self.gamma, alpha=self.alpha)
        check_choice("retain_loss", self.retain_loss, RETAIN_LOSSES)

    def retain_objective(self, task: UnlearnTask) -> Objective:
        """NLL on D_r, or KL to the reference model on D_r."""
        if self.retain_loss == "kl":
            return objectives.kl(task.params, task.retain, task.reference)
        return objectives.nll(task.params, task.retain)


def _coerce(cls: type, name: str, value: Any) -> Any:
    """CLI and JSON values to the option's declared type (ints for float fields, tuples for lists); a value of
    another type is a ValueError naming the option (:func:`ofmu_theory.options.coerce_option`)."""
    return flat.coerce_option(cls, name, value)
