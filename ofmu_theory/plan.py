"""A core run on a module's parameters (:class:`Plan`), and running a solver in resumable chunks.

llm/ and vision/ express everything that changes weights — training, every unlearning method — as a
:class:`Plan`; this module is where such a plan becomes a solver run.

**Chunks.** :func:`run_chunked` runs ``replace(solver, max_steps=k + every).run(problem, init_state=state)``
until ``max_steps``: the run continues exactly (step sizes, ρ_k and batches are pure functions of k and the
sampler's draw counter, both in the state), so chunked and uninterrupted runs end at the same θ. Between
chunks it hands the state, the trace so far and the oracle counts to ``on_chunk`` (a checkpoint writer);
a run resumed from them (``resume``) continues the same trace and counts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ofmu_theory.modules import ModuleParams
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.result import Result, Status, Trace
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.solvers import Solver, StepInfo

COUNT_NAMES = ("n_value", "n_grad", "n_hvp", "n_third")


@dataclass(frozen=True, kw_only=True, eq=False)
class Plan:
    """One core run: ``solver.run(problem, sampler=sampler)``; θ stands for ``params``' tensors of a module.

    Attributes:
        problem: the bilevel problem (θ_0 = the current values of ``params``).
        solver: a configured core solver (``max_steps`` = the whole run).
        sampler: the mini-batch sampler of both levels.
        params: the module's tensors that θ stands for (``params.assign(result.theta)`` writes the result);
            None when θ is not a module's.
    """

    problem: BilevelProblem
    solver: Solver
    sampler: MiniBatch | None = None
    params: ModuleParams | None = None


class Progress(Protocol):
    """Where a chunked run stands: what a checkpoint stores and a resumed run starts from."""

    state: Any  # the solver state (θ, k, draw counter, transform moments)
    trace: Trace  # the trace rows so far
    counts: dict[str, float]  # cumulative oracle counts and wall_s


@dataclass(frozen=True)
class Chunk:
    """A :class:`Progress` handed to ``on_chunk`` after each chunk but the last."""

    state: Any
    trace: Trace
    counts: dict[str, float]


def concat_traces(parts: list[Trace]) -> Trace:
    """The rows of ``parts`` one after another (a column missing from a part is NaN there)."""
    parts = [p for p in parts if p.n_rows]
    if not parts:
        return Trace({})
    names = list(dict.fromkeys(n for p in parts for n in p))
    return Trace({n: np.concatenate([p.columns.get(n, np.full(p.n_rows, np.nan)) for p in parts]) for n in names})


def _offset(trace: Trace, counts: dict[str, float]) -> Trace:
    """Make a chunk's cumulative columns (oracle counts, wall time) continue from ``counts``."""
    cols = dict(trace.columns)
    for name in (*COUNT_NAMES, "wall_s"):
        if name in cols:
            cols[name] = cols[name] + counts.get(name, 0.0)
    return Trace(cols)


class _LastStep:
    """A callback wrapper that keeps the last finished step's state and this chunk's trace rows, so an
    interrupted chunk can still be checkpointed at its last step (the state is complete and immutable)."""

    def __init__(self, callback: Callable[[StepInfo], bool | None] | None) -> None:
        self.callback = callback
        self.info: StepInfo | None = None
        self.rows: list[dict[str, float]] = []

    def __call__(self, info: StepInfo) -> bool | None:
        self.rows.append(info.record)
        self.info = info
        return None if self.callback is None else self.callback(info)

    def progress(self, traces: list[Trace], counts: dict[str, float]) -> Chunk:
        """The run's progress up to the last finished step (``traces``, ``counts``: before this chunk)."""
        last = self.rows[-1]
        done = {name: counts[name] + last.get(name, 0.0) for name in (*COUNT_NAMES, "wall_s")}
        return Chunk(state=self.info.state, trace=concat_traces([*traces, _offset(Trace.from_rows(self.rows), counts)]),
                     counts=done)


def run_chunked(
    plan: Plan, *, every: int | None = None, on_chunk: Callable[[Chunk], None] | None = None,
    callback: Callable[[StepInfo], bool | None] | None = None, resume: Progress | None = None,
    progress: bool = False,
) -> Result:
    """Run the plan's solver in chunks of ``every`` outer iterations (None: one chunk) and merge the results.

    The module is not modified; ``plan.params.assign(result.theta)`` writes the result into it.

    Args:
        every: chunk length in outer iterations (>= 1), or None.
        on_chunk: called with the progress after every chunk that ends below ``max_steps`` (not after the
            last, nor after a run the solver stopped early), and at the last finished step when the run is
            interrupted (``KeyboardInterrupt``, re-raised after it returns).
        callback: the core callback; True stops the run.
        resume: continue from this progress (its state, trace and counts).
        progress: progress bars.

    Returns:
        The last chunk's :class:`Result` with the whole run's iterations, oracle counts, wall time and trace.
    """
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"every must be an int >= 1 or None, got every={every!r}")
    total = plan.solver.max_steps
    state = resume.state if resume is not None else None
    traces = [resume.trace] if resume is not None else []
    counts = dict(resume.counts) if resume is not None else {n: 0.0 for n in (*COUNT_NAMES, "wall_s")}
    while True:
        k0 = 0 if state is None else int(state.k)
        stop = total if every is None else min(total, (k0 // every + 1) * every)
        solver = dataclasses.replace(plan.solver, max_steps=stop) if stop != total else plan.solver
        start = time.perf_counter()
        seen = _LastStep(callback)
        try:
            last = solver.run(plan.problem, sampler=plan.sampler, callback=seen if on_chunk is not None else callback,
                              init_state=state, progress=progress)
        except KeyboardInterrupt:  # SIGINT / SIGTERM: hand the last finished step to on_chunk first
            if on_chunk is not None and seen.info is not None:
                on_chunk(seen.progress(traces, counts))
            raise
        traces.append(_offset(last.trace, counts))
        for name in COUNT_NAMES:
            counts[name] += getattr(last, name)
        counts["wall_s"] += time.perf_counter() - start
        state = last.state
        if last.status is not Status.MAX_STEPS or stop >= total:
            break
        if on_chunk is not None:
            on_chunk(Chunk(state=state, trace=concat_traces(traces), counts=dict(counts)))
    return dataclasses.replace(
        last, nit=int(state.k), n_value=int(counts["n_value"]), n_grad=int(counts["n_grad"]),
        n_hvp=int(counts["n_hvp"]), n_third=int(counts["n_third"]), wall_s=counts["wall_s"],
        trace=concat_traces(traces), options={**last.options, "max_steps": total},
    )
