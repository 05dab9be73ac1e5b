"""One core run on a language model: a :class:`Plan`, executed with optional checkpoints and a utility floor.

Everything in llm/ that changes weights — training the target and retain models (``prepare``) and every
unlearning method — builds a :class:`Plan` (problem, solver, sampler, the module θ stands for) and hands
it to :func:`execute`, which calls the core solver's ``run``. There is no other optimisation loop here.

**Checkpoints.** A checkpoint holds the solver state (θ, transform moments, k, draw counter), the trace
so far and the oracle counts, i.e. what a finished :class:`~ofmu_theory.result.Result` reports. :func:`execute`
therefore runs the solver in chunks of ``every`` outer iterations — ``replace(solver, max_steps=k + every).run(problem,
init_state=state)`` — which continues exactly (step sizes, ρ_k and batches are pure functions of k and
the draw counter), saving the state after each chunk (:mod:`llm.checkpoint`; under data parallelism only
rank 0 writes it — every rank holds the same state). A resumed run gives the
same final weights as an uninterrupted one (tests/llm/test_unlearn.py).

**Utility floor.** :class:`UtilityFloor` is a callback that measures the retain NLL on a fixed probe of
retain rows every ``every`` steps and stops the run (``Status.STOPPED``) once it exceeds
``max_retain_nll``; the run then returns the last iterate that passed the check, not the one past it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llm.checkpoint import Checkpoint, save_checkpoint
from llm.distributed import is_main
from llm.losses import mean_nll
from llm.objectives import TokenRows, logits_of
from ofmu_theory.modules import ModuleParams
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.result import Result, Status, Trace
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.solvers import Solver, StepInfo

logger = logging.getLogger(__name__)
_COUNTS = ("n_value", "n_grad", "n_hvp", "n_third")


@dataclass(frozen=True, kw_only=True, eq=False)
class Plan:
    """One core run: ``solver.run(problem, sampler=sampler)``; the final θ belongs to ``params.module``.

    Attributes:
        problem: the bilevel problem (θ_0 = the current values of ``params``).
        solver: a configured core solver (``max_steps`` = the whole run).
        sampler: the mini-batch sampler of both levels.
        params: the module's tensors that θ stands for.
    """

    problem: BilevelProblem
    solver: Solver
    sampler: MiniBatch
    params: ModuleParams


@dataclass(kw_only=True, eq=False)
class UtilityFloor:
    """Stop when the retain NLL on a fixed probe exceeds ``max_retain_nll`` (checked every ``every`` steps).

    Attributes:
        params: θ's module (the probe runs it with the iterate substituted).
        probe: the retain rows measured (a fixed subset).
        max_retain_nll: the bound (mean token NLL over the probe's answer tokens).
        every: check period in outer iterations.
        last_good: (k, θ) of the last iterate that passed, kept so the run returns it.
        history: (k, probe NLL) of every check.
    """

    params: ModuleParams
    probe: TokenRows
    max_retain_nll: float
    every: int = 5
    last_good: tuple[int, tuple[torch.Tensor, ...]] | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    tripped: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_retain_nll) and self.max_retain_nll > 0):
            raise ValueError(f"max_retain_nll must be a finite number > 0, got {self.max_retain_nll!r}")
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got every={self.every!r}")

    def measure(self, theta: tuple[torch.Tensor, ...]) -> float:
        """The probe's retain NLL at θ."""
        forward = self.params.forward_with(theta)
        device = theta[0].device
        module = self.params.module
        was = module.training
        module.eval()
        try:
            with torch.no_grad():
                inputs = self.probe.collate(None, device)
                return float(mean_nll(logits_of(forward, inputs), inputs["labels"]))
        finally:
            module.train(was)

    def __call__(self, info: StepInfo) -> bool:
        if (info.k + 1) % self.every:
            return False
        value = self.measure(info.theta)
        self.history.append((info.k + 1, value))
        if value > self.max_retain_nll:
            self.tripped = True
            logger.info("utility floor: probe retain NLL %.4f > %.4f after step %d; stopping", value,
                        self.max_retain_nll, info.k + 1)
            return True
        self.last_good = (info.k + 1, tuple(t.detach().clone() for t in info.theta))
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"max_retain_nll": self.max_retain_nll, "every": self.every, "probe_rows": len(self.probe),
                "tripped": self.tripped, "history": self.history}


@dataclass(frozen=True, kw_only=True)
class Checkpointing:
    """Save a resumable checkpoint every ``every`` outer iterations into ``folder`` (with ``meta``)."""

    folder: Path
    every: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"checkpoint every must be an int >= 1, got {self.every!r}")


def _concat(parts: list[Trace]) -> Trace:
    parts = [p for p in parts if p.n_rows]
    if not parts:
        return Trace({})
    names = list(dict.fromkeys(n for p in parts for n in p))
    return Trace({n: np.concatenate([p.columns.get(n, np.full(p.n_rows, np.nan)) for p in parts]) for n in names})


def _offset(trace: Trace, counts: dict[str, float]) -> Trace:
    """Make a chunk's cumulative columns (oracle counts, wall time) continue from ``counts``."""
    cols = dict(trace.columns)
    for name in (*_COUNTS, "wall_s"):
        if name in cols:
            cols[name] = cols[name] + counts.get(name, 0.0)
    return Trace(cols)


def execute(
    plan: Plan, *, callback: Callable[[StepInfo], bool | None] | None = None, checkpoint: Checkpointing | None = None,
    resume: Checkpoint | None = None, progress: bool = False,
) -> Result:
    """Run the plan's solver (in chunks when checkpointing) and return the merged :class:`Result`.

    The module itself is not modified; write ``result.theta`` into it with ``plan.params.assign``.

    Args:
        callback: the core callback (e.g. a :class:`UtilityFloor`); True stops the run.
        checkpoint: save a resumable checkpoint every ``checkpoint.every`` steps.
        resume: a loaded checkpoint to continue from (its state, trace and counts).
        progress: progress bars.
    """
    total = plan.solver.max_steps
    state = resume.state if resume is not None else None
    traces = [resume.trace] if resume is not None else []
    counts = dict(resume.counts) if resume is not None else {n: 0.0 for n in (*_COUNTS, "wall_s")}
    last: Result | None = None
    while True:
        k0 = 0 if state is None else int(state.k)
        stop = total if checkpoint is None else min(total, (k0 // checkpoint.every + 1) * checkpoint.every)
        solver = dataclasses.replace(plan.solver, max_steps=stop) if stop != total else plan.solver
        start = time.perf_counter()
        last = solver.run(plan.problem, sampler=plan.sampler, callback=callback, init_state=state, progress=progress)
        traces.append(_offset(last.trace, counts))
        for name in _COUNTS:
            counts[name] += getattr(last, name)
        counts["wall_s"] += time.perf_counter() - start
        state = last.state
        if last.status is not Status.MAX_STEPS or stop >= total:
            break
        if checkpoint is not None and is_main():  # the ranks hold the same state: rank 0 writes it
            save_checkpoint(checkpoint.folder, state=state, trace=_concat(traces), counts=counts, meta=checkpoint.meta)
            logger.info("checkpoint at step %d in %s", stop, checkpoint.folder)
    options = {**last.options, "max_steps": total}
    return dataclasses.replace(
        last, nit=int(state.k), n_value=int(counts["n_value"]), n_grad=int(counts["n_grad"]),
        n_hvp=int(counts["n_hvp"]), n_third=int(counts["n_third"]), wall_s=counts["wall_s"],
        trace=_concat(traces), options=options,
    )
