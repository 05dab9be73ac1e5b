"""Measuring one method's step: time, peak memory, the gradient passes it makes, and the core's overhead.

:func:`measure_step` builds the task exactly as ``unlearn`` does (:func:`llm.unlearn.build_task`), asks the
method for its plan, wraps both objectives in a :class:`Recorder` (which logs every oracle call: level,
kind, batch, ``create_graph``, and the time spent inside it) and runs the core solver for
``warmup + steps`` outer iterations. The time of one step is read from the core's own trace (``wall_s``).

**Core overhead.** After each measured step, the callback replays the step's oracle calls with bare torch —
the same loss functions on the same batches: ``loss_fn(θ, batch)`` then ``torch.autograd.grad`` for a
gradient, a forward pass under ``no_grad`` for a value, a double backward for an HVP — and times it. The
core's overhead is ``core step / bare passes − 1``: everything the solver adds to the forward and backward
passes the step needs (the objective wrapper, AdamW, the finite-difference points θ ± h·v, norms, cosine,
trace, sampling). The replay time is subtracted from the next step's wall time. Exact ∇²Φ·w products are a
backward pass the core takes itself through the graph of ∇Φ (not an oracle call), so the exact variants
have no replay.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from llm.memory import PeakMemory
from llm.unlearn import RunSettings, build_task
from ofmu_theory.objectives import Objective
from ofmu_theory.solvers import StepInfo

logger = logging.getLogger(__name__)


@dataclass
class Call:
    """One oracle call: ``level`` "F" (forget) or "R" (retain), ``kind`` value | grad | hvp | hvp_fwd_rev | d3."""

    level: str
    kind: str
    batch: Any
    create_graph: bool
    seconds: float


class Recorder(Objective):
    """Delegates every oracle to ``inner`` and logs it into ``log`` (see :class:`Call`)."""

    def __init__(self, inner: Any, level: str, log: list[Call]) -> None:
        self.inner, self.level, self.log = inner, level, log
        self.backend, self.n_rows, self.has_third_order = inner.backend, inner.n_rows, inner.has_third_order
        self.reduce = getattr(inner, "reduce", None)

    def _call(self, kind: str, batch: Any, create_graph: bool, fn: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            batch_copy = None if batch is None else np.array(batch, copy=True)
            self.log.append(Call(self.level, kind, batch_copy, create_graph, time.perf_counter() - start))

    def value(self, theta, batch=None):
        return self._call("value", batch, False, lambda: self.inner.value(theta, batch))

    def value_and_grad(self, theta, batch=None, *, create_graph=False):
        return self._call("grad", batch, create_graph,
                          lambda: self.inner.value_and_grad(theta, batch, create_graph=create_graph))

    def hvp(self, theta, v, batch=None, *, create_graph=False):
        return self._call("hvp", batch, create_graph, lambda: self.inner.hvp(theta, v, batch, create_graph=create_graph))

    def hvp_fwd_rev(self, theta, v, batch=None):
        return self._call("hvp_fwd_rev", batch, False, lambda: self.inner.hvp_fwd_rev(theta, v, batch))

    def d3(self, theta, u, v, batch=None):
        return self._call("d3", batch, False, lambda: self.inner.d3(theta, u, v, batch))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def replay(calls: Sequence[Call], objectives: dict[str, Any], theta: tuple[torch.Tensor, ...]) -> float:
    """Seconds to redo ``calls`` with bare torch (the objectives' loss functions and ``torch.autograd.grad``)."""
    device = theta[0].device
    _sync(device)
    start = time.perf_counter()
    for call in calls:
        loss_fn = objectives[call.level].loss_fn
        if call.kind == "value":
            with torch.no_grad():
                loss_fn(theta, call.batch)
            continue
        leaves = tuple(t.detach().requires_grad_(True) for t in theta)
        with torch.enable_grad():
            loss = loss_fn(leaves, call.batch)
            grads = torch.autograd.grad(loss, leaves, create_graph=call.create_graph or call.kind == "hvp",
                                        allow_unused=True)
            if call.kind == "hvp":
                pairs = [(g, t) for g, t in zip(grads, leaves) if g is not None]
                torch.autograd.grad([g for g, _ in pairs], [t for _, t in pairs],
                                    grad_outputs=[torch.ones_like(g) for g, _ in pairs], allow_unused=True)
    _sync(device)
    return time.perf_counter() - start


@dataclass
class StepMeasurement:
    """One method's measured step (times in seconds; ``None`` where not measured)."""

    label: str
    steps: int
    step_s: float
    step_all_s: list[float]
    forget_batches: int
    passes: dict[str, float]  # oracle calls per step by kind, averaged over the measured steps
    third: float
    oracle_s: float
    bare_s: float | None
    peak_mib: float
    finite: bool
    status: str
    runtime: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    peak_total_mib: float = math.nan  # CUDA: the allocator's absolute peak during the run (model included)
    torch_adamw_s: float | None = None  # PyTorch's own AdamW(foreach) step on the same θ (a reference point)

    @property
    def per_batch_s(self) -> float:
        """Seconds per forget batch drawn (the step's time / forget batches per step)."""
        return self.step_s / self.forget_batches

    @property
    def overhead(self) -> float | None:
        """core step / bare passes − 1."""
        return None if self.bare_s is None else self.step_s / self.bare_s - 1.0

    def gradient_passes(self) -> tuple[float, float]:
        """(forget, retain) gradient evaluations per step (averaged over the measured steps)."""
        return self.passes.get("F.grad", 0), self.passes.get("R.grad", 0)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "per_batch_s": self.per_batch_s, "overhead": self.overhead}


def _step_calls(log: list[Call], marks: list[int], k: int) -> list[Call]:
    """The oracle calls of step k (marks[k] = the log's length after step k)."""
    return log[marks[k - 1]:marks[k]]


def measure_step(
    label: str, method: Any, *, model: Any, tokenizer: Any, template: Any, forget: Sequence[Any],
    retain: Sequence[Any], settings: RunSettings, steps: int, warmup: int = 1, bare: bool = True,
) -> StepMeasurement:
    """Time ``steps`` outer iterations of ``method`` after ``warmup`` ones (see the module docstring).

    Args:
        bare: replay each measured step's oracle calls with bare torch (skipped for exact HVP variants).
    """
    if warmup < 1 or steps < 1:
        raise ValueError(f"need warmup >= 1 and steps >= 1, got warmup={warmup}, steps={steps}")
    task = build_task(method, model=model, tokenizer=tokenizer, template=template, forget_items=forget,
                      retain_items=retain, settings=settings)
    plan = method.plan(task)
    log: list[Call] = []
    problem = dataclasses.replace(plan.problem, lower=Recorder(plan.problem.lower, "F", log),
                                  upper=Recorder(plan.problem.upper, "R", log))
    solver = dataclasses.replace(plan.solver, max_steps=warmup + steps)
    exact = getattr(solver, "hvp", "fd") != "fd" and solver.name == "ofmu"
    replayable = bare and not exact
    objectives = {"F": plan.problem.lower, "R": plan.problem.upper}
    theta = task.params.vector()
    marks: list[int] = []
    callback_s: list[float] = []
    bare_s: list[float] = []

    def callback(info: StepInfo) -> bool:
        start = time.perf_counter()
        marks.append(len(log))
        if replayable and info.k >= warmup:
            bare_s.append(replay(_step_calls(log, marks, info.k), objectives, theta))
        callback_s.append(time.perf_counter() - start)
        return False

    device = theta[0].device
    with PeakMemory(device) as memory:
        result = solver.run(problem, sampler=plan.sampler, callback=callback)
    total = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else math.nan
    wall = result.trace["wall_s"]
    times = [float(wall[k] - wall[k - 1] - callback_s[k - 1]) for k in range(warmup, len(wall))]
    # oracle calls per measured step, averaged (steps of a lagged estimator differ: a refresh every m evaluations)
    totals: dict[str, int] = {}
    measured_steps = range(warmup, len(marks))
    for k in measured_steps:
        for call in _step_calls(log, marks, k):
            key = f"{call.level}.{call.kind}" + (".graph" if call.create_graph else "")
            totals[key] = totals.get(key, 0) + 1
    kinds: dict[str, float] = {}
    for key, total in totals.items():
        mean = total / len(measured_steps)
        kinds[key] = int(mean) if mean == int(mean) else round(mean, 2)
    measured = [c for k in range(warmup, len(marks)) for c in _step_calls(log, marks, k)]
    third = result.trace["n_third"] if "n_third" in result.trace else np.zeros(1)
    # a level the method does not use leaves its column all NaN (gradient ascent has no retain loss)
    used = [result.trace[c] for c in ("loss_f", "loss_r") if c in result.trace and not np.isnan(result.trace[c]).all()]
    finite = all(bool(np.isfinite(col).all()) for col in used)
    return StepMeasurement(
        label=label, steps=len(times), step_s=statistics.median(times) if times else math.nan, step_all_s=times,
        forget_batches=1 + int(getattr(solver, "inner_steps", 0)) if solver.name == "ofmu" else 1,
        passes=kinds, third=float(third[-1] - third[-2]) if len(third) > 1 else float(third[-1]),
        oracle_s=sum(c.seconds for c in measured) / max(1, len(times)),
        bare_s=statistics.median(bare_s) if bare_s else None, peak_mib=memory.peak_mib,
        finite=finite and result.status.name != "DIVERGED", status=result.status.name, runtime=task.runtime,
        peak_total_mib=total, torch_adamw_s=torch_adamw_seconds(theta) if replayable else None,
    )


def measure_error(method: Any, *, model: Any, tokenizer: Any, template: Any, forget: Sequence[Any],
                  retain: Sequence[Any], settings: RunSettings, steps: int) -> dict[str, float]:
    """Relative error of an OFMU variant's ∇Φ_β and step against the exact estimator over ``steps`` outer steps
    (:func:`ofmu_theory.estimators.estimator_errors`: same θ, batches and HVP strategy at every evaluation)."""
    from ofmu_theory.estimators import estimator_errors  # noqa: PLC0415

    task = build_task(method, model=model, tokenizer=tokenizer, template=template, forget_items=forget,
                      retain_items=retain, settings=settings)
    plan = method.plan(task)
    solver = dataclasses.replace(plan.solver, max_steps=steps)
    return estimator_errors(solver, plan.problem, sampler=plan.sampler).summary()


def torch_adamw_seconds(theta: Sequence[torch.Tensor], *, reps: int = 10) -> float:
    """Median seconds of one ``torch.optim.AdamW(foreach=True).step()`` on tensors shaped like θ (a copy):
    what a hand-written PyTorch loop pays for the update the core's step also makes."""
    params = [torch.nn.Parameter(t.detach().clone()) for t in theta]
    gen = torch.Generator(device=params[0].device).manual_seed(0)
    for p in params:
        p.grad = 1e-3 * torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype)
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.01, foreach=True)
    opt.step()  # allocates the moments
    times = []
    for _ in range(reps):
        _sync(params[0].device)
        start = time.perf_counter()
        opt.step()
        _sync(params[0].device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def failed(label: str, error: BaseException) -> StepMeasurement:
    """A placeholder row for a variant that raised (kept in the table with its error)."""
    return StepMeasurement(label=label, steps=0, step_s=math.nan, step_all_s=[], forget_batches=1, passes={},
                           third=0.0, oracle_s=math.nan, bare_s=None, peak_mib=math.nan, finite=False,
                           status="ERROR", error=f"{type(error).__name__}: {error}"[:300])


# --- finite-difference accuracy ------------------------------------------------------------------------


def fd_accuracy(model: Any, forget_rows: Any, retain_rows: Any, *, eps_values: Sequence[float]) -> list[dict[str, Any]]:
    """Relative error of finite-difference HVPs ∇²L_f·v against the exact product of a float64 copy.

    L_f = NLL on ``forget_rows`` (all rows); v = ∇NLL on ``retain_rows`` (a gradient direction, as the
    directions OFMU differentiates along are); precision fp32 and bf16 autocast; central and forward schemes.
    """
    import copy  # noqa: PLC0415

    from llm import objectives  # noqa: PLC0415
    from llm.higher_order import make_third_order_safe  # noqa: PLC0415
    from llm.runtime import ModelParams  # noqa: PLC0415
    from ofmu_theory.backends import get_backend  # noqa: PLC0415
    from ofmu_theory.hvp import FiniteDifference  # noqa: PLC0415

    exact_model = copy.deepcopy(model).double()
    make_third_order_safe(exact_model)
    p64 = ModelParams.of(exact_model)
    v64 = objectives.nll(p64, retain_rows).value_and_grad(p64.vector())[1]
    reference = objectives.nll(p64, forget_rows).hvp(p64.vector(), v64)

    class _Ev:  # the slice of an Evaluator that FiniteDifference reads
        backend = get_backend("torch")

        class counts:  # noqa: N801
            grad = 0

    rows = []
    for precision, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16)):
        params = ModelParams.of(model, autocast_dtype=dtype)
        theta = params.vector()
        loss = objectives.nll(params, forget_rows)
        v = tuple(t.float() for t in v64)
        g0 = loss.value_and_grad(theta)[1]
        for scheme in ("central", "forward"):
            errors = {}
            for eps in eps_values:
                hv = FiniteDifference(eps=eps, scheme=scheme).loss_hvp(_Ev(), loss, theta, v, None, g0=g0)
                num = sum(float(((a.double() - b) ** 2).sum()) for a, b in zip(hv, reference))
                den = sum(float((b**2).sum()) for b in reference)
                errors[eps] = math.sqrt(num / den)
            rows.append({"precision": precision, "scheme": scheme, "errors": errors})
    return rows
