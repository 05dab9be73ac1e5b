"""The method protocol: a frozen dataclass of hyper-parameters whose ``plan`` maps a task to a core run.

A method never optimises by itself. ``plan(task)`` builds objectives (``vision.objectives``) over the
forget set D_f and the retain set D_r, a core solver with its hyper-parameters, and a
:class:`~ofmu_theory.MiniBatch` sampler; :meth:`Method.unlearn`, written once, times the whole thing
(building the plan included: SalUn's mask, SCRUB's teacher logits), runs the solver through
:func:`vision.plan.execute` and reports an :class:`Unlearned`. A run the core ends with
``Status.DIVERGED`` is returned as such (``diverged=True``, the last finite iterate in the model).

Unlearning problems declare the forget loss as the lower level (maximised, ``sense="max"``: the core
ascends σL_f with σ = +1) and the retain loss as the upper level, except RL/SalUn whose lower level is
the random-label loss, minimised (``sense="min"``).
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch.nn as nn

from ofmu_theory import options as flat
from ofmu_theory.epochs import SCHEDULES, batches_per_epoch, lr_schedule, steps_for
from ofmu_theory.modules import ModuleParams
from ofmu_theory.objectives import Objective
from ofmu_theory.problem import BilevelProblem, Sense
from ofmu_theory.registry import Registry
from ofmu_theory.result import Result
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.steps import StepRule
from ofmu_theory.transforms import Momentum
from ofmu_theory.validation import (  # noqa: F401 (re-exported for the methods)
    check_choice,
    check_count,
    check_nonnegative,
    check_positive,
)
from vision.data import VisionDataset
from vision.objectives import Rows, check_bn_mode, cross_entropy, forget_objective
from vision.plan import Plan, execute, sgd_momentum
from vision.splits import Split

#: Unlearning methods by name; each entry is a :class:`Method` subclass (its fields are the config).
METHODS: Registry[type[Method]] = Registry("method")


def bench_order() -> tuple[str, ...]:
    """Every registered method in table order (``bench_rank``, then name): Retrain, the baselines, OFMU."""
    return tuple(sorted(METHODS.names(), key=lambda name: (METHODS.get(name).bench_rank, name)))


@dataclass(frozen=True, kw_only=True, eq=False)
class UnlearnTask:
    """What a method works on: a private copy of the Original model and the split's data as tensors.

    Attributes:
        model: a deep copy of the Original; methods run on it (θ_0 = its weights at the start).
        params: its trainable parameters as the core's θ.
        original: the Original model itself (left untouched; SCRUB's teacher).
        data: the dataset; ``split``: its forget / retain / test indices.
        seed: the run's seed (sampler, random labels).
        forget: D_f rows; ``retain``: D_r rows (positions ``split.forget`` / ``split.retain`` of ``data.train``).
    """

    model: nn.Module
    params: ModuleParams
    original: nn.Module
    data: VisionDataset
    split: Split
    seed: int
    forget: Rows
    retain: Rows

    @classmethod
    def build(cls, model: nn.Module, data: VisionDataset, split: Split, *, seed: int) -> UnlearnTask:
        """Copy ``model`` and gather D_f and D_r of ``split`` (non-empty, checked by ``Rows.of``)."""
        if split.num_classes != data.num_classes:
            raise ValueError(f"split has num_classes={split.num_classes}, {data.name} has {data.num_classes}")
        work = copy.deepcopy(model)
        return cls(
            model=work, params=ModuleParams.of(work), original=model, data=data, split=split, seed=int(seed),
            forget=Rows.of(data.train, split.forget, name="D_f"),
            retain=Rows.of(data.train, split.retain, name="D_r"),
        )

    def problem(self, *, lower: Objective, upper: Objective, sense: Sense = "max", name: str) -> BilevelProblem:
        """The problem over θ with θ_0 = the copied model's current weights."""
        return BilevelProblem(name=name, lower=lower, upper=upper, theta0=self.params.vector(), sense=sense)

    def unlearning_problem(self, *, name: str, bn_mode: str) -> BilevelProblem:
        """Lower level L_f = CE on D_f (maximised), upper level L_r = CE on D_r (arXiv 2509.22483, §3)."""
        return self.problem(
            lower=forget_objective(self.params, self.forget, bn_mode=bn_mode),
            upper=cross_entropy(self.params, self.retain, bn_mode=bn_mode), sense="max", name=name,
        )

    def sampler(self, *, forget_batch: int, retain_batch: int) -> MiniBatch:
        """Seeded epoch-wise batches: lower side over D_f, upper side over D_r."""
        return MiniBatch(n_lower=len(self.forget), n_upper=len(self.retain), batch_lower=forget_batch,
                         batch_upper=retain_batch, seed=self.seed)


@dataclass(frozen=True, kw_only=True, eq=False)
class Unlearned:
    """The outcome of one method on one task.

    Attributes:
        method: registry name.
        model: the unlearned model (the last finite iterate when diverged).
        wall_s: seconds from the start of :meth:`Method.unlearn` to the end of the core run.
        status: the core's ``Status`` name (``MAX_STEPS``, ``CONVERGED``, ``DIVERGED``, ``STOPPED``).
        diverged: ``status == "DIVERGED"``.
        nit: outer iterations the core completed.
        result: the core's :class:`~ofmu_theory.result.Result` (trace, oracle counts, options).
        config: the method's hyper-parameters.
    """

    method: str
    model: nn.Module
    wall_s: float
    status: str
    diverged: bool
    nit: int
    result: Result
    config: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Method(ABC):
    """Base of every method: ``plan`` is the only moving part; ``unlearn`` is shared.

    Class attributes:
        name: the registry name.
        bench_rank: the method's place in the bench tables (ascending, ties by name): Retrain 0 (the
            reference), the baselines 10 to 80, OFMU 100 (the subject); the default 90 puts a new method
            after the baselines.
        core_solver: the registered core solver the method hands its objectives to.
        test_settings: hyper-parameters giving the test suite's tiny budget (a few core steps on digits).
    """

    name: ClassVar[str] = ""
    bench_rank: ClassVar[int] = 90
    core_solver: ClassVar[str] = ""
    test_settings: ClassVar[Mapping[str, Any]] = {}

    @abstractmethod
    def plan(self, task: UnlearnTask) -> Plan:
        """The core run that unlearns ``task`` (objectives, solver, sampler, params to write into)."""

    @classmethod
    def options(cls) -> dict[str, Any]:
        """Every hyper-parameter by its flat name (a held solver configuration's fields included) → its default."""
        return flat.defaults(cls)

    def to_dict(self) -> dict[str, Any]:
        """The method name and every hyper-parameter, flat."""
        return {"method": self.name, **_plain(flat.flat_dict(self))}

    def unlearn(
        self, model: nn.Module, data: VisionDataset, split: Split, *, seed: int, progress: bool = False
    ) -> Unlearned:
        """Unlearn ``split.forget`` from ``model`` (left untouched) through the core; see :class:`Unlearned`."""
        start = time.perf_counter()
        task = UnlearnTask.build(model, data, split, seed=seed)
        plan = self.plan(task)
        done = execute(plan, progress=progress)
        r = done.result
        return Unlearned(
            method=self.name, model=plan.params.module, wall_s=time.perf_counter() - start, status=r.status.name,
            diverged=r.status.name == "DIVERGED", nit=r.nit, result=r, config=self.to_dict(),
        )


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in d.items()}


@dataclass(frozen=True, kw_only=True)
class SgdMethod(Method):
    """Shared optimiser settings of the SalUn-style methods (SGD, momentum 0.9, weight decay 5e-4).

    Attributes:
        epochs: passes over the set each method names in its docstring (may be fractional).
        lr: η (the initial one under a cosine schedule).
        batch_size: retain rows per step (D_r side of the sampler).
        forget_batch_size: forget rows per step (D_f side).
        momentum: μ of heavy-ball SGD.
        weight_decay: λ_wd, coupled as in PyTorch's ``SGD(weight_decay=...)``: added to the gradient before the
            momentum (g ← g + λ_wd θ; :func:`vision.plan.sgd_momentum`), not decoupled as in AdamW.
        schedule: ``"constant"`` η (SalUn's unlearning runs never reach their LR milestones) or ``"cosine"``.
        bn_mode: BatchNorm mode inside the losses (see ``vision.objectives``).
    """

    epochs: float = 1.0
    lr: float = 0.01
    batch_size: int = 128
    forget_batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "constant"
    bn_mode: str = "train"

    def __post_init__(self) -> None:
        check_positive(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                       forget_batch_size=self.forget_batch_size)
        check_nonnegative(weight_decay=self.weight_decay)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got momentum={self.momentum!r}")
        check_choice("schedule", self.schedule, SCHEDULES)
        check_bn_mode(self.bn_mode)

    def transform(self) -> Momentum:
        """The update transform (PyTorch-style SGD with momentum and coupled weight decay)."""
        return sgd_momentum(momentum=self.momentum, weight_decay=self.weight_decay)

    def eta(self, steps: int) -> StepRule:
        """η_k over ``steps`` outer iterations."""
        return lr_schedule(self.lr, steps=steps, schedule=self.schedule)

    def retain_steps(self, task: UnlearnTask) -> int:
        """``epochs`` passes over D_r in batches of ``batch_size``."""
        return steps_for(self.epochs, batches_per_epoch(len(task.retain), self.batch_size))

    def forget_steps(self, task: UnlearnTask) -> int:
        """``epochs`` passes over D_f in batches of ``forget_batch_size``."""
        return steps_for(self.epochs, batches_per_epoch(len(task.forget), self.forget_batch_size))

    def sampler(self, task: UnlearnTask) -> MiniBatch:
        """Batches of ``forget_batch_size`` from D_f and ``batch_size`` from D_r, seeded by the task."""
        return task.sampler(forget_batch=self.forget_batch_size, retain_batch=self.batch_size)
