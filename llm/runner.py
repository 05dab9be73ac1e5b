"""One core run on a language model: a :class:`Plan`, executed with optional checkpoints and a utility floor.

Everything in llm/ that changes weights — training the target and retain models (``prepare``) and every
unlearning method — builds a :class:`Plan` (problem, solver, sampler, the module θ stands for) and hands
it to :func:`execute`, which calls the core solver's ``run``. There is no other optimisation loop here.

**Checkpoints.** :func:`execute` runs the plan through the core's
:func:`ofmu_theory.plan.run_chunked` in chunks of ``every`` outer iterations and saves the solver state,
the trace so far and the oracle counts after each chunk (:mod:`llm.checkpoint`; under data parallelism
only rank 0 writes it — every rank holds the same state). A resumed run gives the same final weights as
an uninterrupted one (tests/llm/test_unlearn.py).

**Utility floor.** :class:`UtilityFloor` is a callback that measures the retain NLL on a fixed probe of
retain rows every ``every`` steps and stops the run (``Status.STOPPED``) once it exceeds
``max_retain_nll``; the run then returns the last iterate that passed the check, not the one past it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from llm.checkpoint import Checkpoint, save_checkpoint
from llm.distributed import is_main
from llm.losses import mean_nll
from llm.objectives import TokenRows, logits_of
from ofmu_theory.modules import ModuleParams
from ofmu_theory.plan import Chunk, Plan, run_chunked  # noqa: F401 (Plan re-exported for the methods)
from ofmu_theory.result import Result
from ofmu_theory.solvers import StepInfo

logger = logging.getLogger(__name__)


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
    """Save a resumable checkpoint every ``every`` outer iterations into ``folder`` (with ``meta``); ``sharded``:
    the state holds FSDP shards, and every rank writes its own with ``torch.distributed.checkpoint``."""

    folder: Path
    every: int
    meta: dict[str, Any] = field(default_factory=dict)
    sharded: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"checkpoint every must be an int >= 1, got {self.every!r}")


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
    def save(chunk: Chunk) -> None:
        if checkpoint.sharded:  # each rank holds its own shards: a collective write
            save_checkpoint(checkpoint.folder, state=chunk.state, trace=chunk.trace, counts=chunk.counts,
                            meta=checkpoint.meta)
        elif is_main():  # the ranks hold the same state: rank 0 writes it
            save_checkpoint(checkpoint.folder, state=chunk.state, trace=chunk.trace, counts=chunk.counts,
                            meta=checkpoint.meta)
            logger.info("checkpoint at step %d in %s", int(chunk.state.k), checkpoint.folder)

    return run_chunked(plan, every=None if checkpoint is None else checkpoint.every,
                       on_chunk=None if checkpoint is None else save, callback=callback, resume=resume,
                       progress=progress)
