"""The vision bench under the fair-comparison protocol (:mod:`ofmu_theory.protocol`), random forgetting.

The Original and Retrain models come from :mod:`vision.bench` (same data, split, recipe and cache). Two
roles share the split and the models but not the images that decide:

* **tune** — the selection metric is the validation Avg. Gap: mean |m − m(Retrain)| over UA, RA,
  MIA-Efficacy and the accuracy on the **validation images** (the 10 % cut SalUn removes from D) in
  place of TA; the test images are never looked at while tuning. Rule: min validation Avg. Gap.
* **eval** — Avg. Gap as the bench reports it (UA, RA, TA on the test images, MIA-Efficacy).

Budget 1× = the gradient passes of GradDiff's default run (3 epochs over D_f at forget batch 64). A
method's horizon (``epochs``, or ``max_steps`` for OFMU) is sized to its budget from its passes per step
(measured on one step, :func:`ofmu_theory.budget.calibrate`); the core's
:class:`~ofmu_theory.budget.PassBudget` stops the run at the budget in any case. Work outside the core
(SalUn's saliency mask, SCRUB's teacher logits) is not counted in passes; it is in the wall time, which
is reported beside the passes and as a ratio to Retrain's training time.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ofmu_theory.budget import PassBudget, calibrate, result_passes, steps_within
from ofmu_theory.plan import run_chunked
from ofmu_theory.protocol import MethodSpace, Profile
from vision.evaluate import EvalResult, evaluate
from vision.methods import make_method
from vision.methods.base import UnlearnTask

#: Every method's search space (its documented knobs, lr included; the bench defaults inside).
SEARCH_SPACES: Mapping[str, Mapping[str, tuple[Any, ...]]] = {
    "ft": {"lr": (0.01, 0.02, 0.03, 0.05, 0.1), "schedule": ("constant", "cosine")},
    "ga": {"lr": (5e-5, 1e-4, 2e-4, 5e-4, 1e-3), "forget_batch_size": (32, 64)},
    "rl": {"lr": (0.005, 0.01, 0.02, 0.03), "forget_weight": (0.05, 0.1, 0.3)},
    "l1_sparse": {"lr": (0.01, 0.02, 0.03, 0.05), "alpha": (5e-4, 2e-3, 5e-3)},
    "salun": {"lr": (0.01, 0.02, 0.03, 0.05), "forget_weight": (0.02, 0.05, 0.1)},
    "scrub": {"lr": (0.002, 0.005, 0.01, 0.02), "kl_weight": (0.5, 1.0)},
    "graddiff": {"lr": (0.005, 0.01, 0.02, 0.03), "forget_weight": (0.01, 0.02, 0.05)},
    "blur": {"lr": (0.0025, 0.005, 0.01, 0.02), "gamma": (0.01, 0.03, 0.1)},
    "ofmu": {"eta_out": (0.01, 0.03, 0.05), "eta_in": (0.02, 0.05, 0.1), "rho": (0.003, 0.01, 0.03)},
}
REFERENCE = "graddiff"
METRICS = ("avg_gap", "ua", "ra", "ta", "mia_efficacy", "val_acc", "val_gap", "time_ratio")
PROFILES: Mapping[str, Profile] = {
    "quick": Profile(name="quick", budgets=(1.0,), n_configs=3, seeds=(1, 2, 3)),
    "full": Profile(name="full", budgets=(1.0, 3.0, 10.0), n_configs=6, seeds=(1, 2, 3, 4, 5)),
    "smoke": Profile(name="smoke", budgets=(1.0,), n_configs=2, seeds=(1, 2)),  # test-sized: checks wiring only
}
QUICK_METHODS = ("ft", "ga", "rl", "l1_sparse", "salun", "scrub", "graddiff", "blur", "ofmu")
FULL_METHODS = QUICK_METHODS
#: The benchmark's target for OFMU on random forgetting.
TARGET_GAP, TARGET_TIME_RATIO = 1.5, 0.2


def spaces_for(methods: tuple[str, ...]) -> list[MethodSpace]:
    unknown = [m for m in methods if m not in SEARCH_SPACES]
    if unknown:
        raise ValueError(f"no search space for {unknown}; methods with one: {', '.join(SEARCH_SPACES)}")
    return [MethodSpace(method=m, space=SEARCH_SPACES[m]) for m in methods]


def val_gap(ev: EvalResult, retrain: EvalResult) -> float:
    """Avg. Gap with validation accuracy in place of TA (the tuning metric)."""
    if ev.val_acc is None or retrain.val_acc is None:
        raise ValueError("the split has no validation images: the tuning metric needs them (val_fraction > 0)")
    pairs = ((ev.ua, retrain.ua), (ev.ra, retrain.ra), (ev.val_acc, retrain.val_acc),
             (ev.mia_efficacy, retrain.mia_efficacy))
    return sum(abs(a - b) for a, b in pairs) / 4


def _horizon(method: Any) -> str:
    return "max_steps" if hasattr(method, "max_steps") else "epochs"


@dataclass(kw_only=True, eq=False)
class VisionTask:
    """The :class:`ofmu_theory.protocol.Task` of the vision bench (see the module docstring)."""

    original: Any
    data: Any
    split: Any
    retrain: EvalResult
    retrain_s: float
    identity: Mapping[str, Any]
    primary: str = "avg_gap"
    higher_is_better: bool = False
    selected_on: str = ("validation images: min validation Avg. Gap (UA, RA, MIA-Efficacy and validation accuracy "
                        "against Retrain's; the test images are not used while tuning)")
    _per_step: dict[str, tuple[float, int, float]] | None = None

    def per_step(self, name: str, config: Mapping[str, Any]) -> tuple[float, int, float]:
        """(passes per step, steps of the default horizon, the default horizon) of ``name`` with ``config``."""
        key = repr((name, sorted((k, v) for k, v in config.items() if k not in ("lr", "eta_in", "eta_out"))))
        cache = self._per_step if self._per_step is not None else {}
        self._per_step = cache
        if key not in cache:
            method = make_method(name, **config)
            plan = method.plan(UnlearnTask.build(self.original, self.data, self.split, seed=1))
            cache[key] = (calibrate(plan), plan.solver.max_steps, float(getattr(method, _horizon(method))))
        return cache[key]

    def reference_passes(self) -> float:
        per_step, steps, _ = self.per_step(REFERENCE, {})
        return per_step * steps

    def sized(self, name: str, config: Mapping[str, Any], budget_passes: float) -> Any:
        """The method with its horizon sized to the budget."""
        per_step, steps0, horizon0 = self.per_step(name, config)
        steps = steps_within(budget_passes, per_step)
        probe = make_method(name, **config)
        field = _horizon(probe)
        value: float | int = steps if field == "max_steps" else horizon0 * steps / steps0
        return make_method(name, **{**config, field: value})

    def run(self, method: str, config: Mapping[str, Any], *, budget_passes: float, seed: int,
            role: str) -> dict[str, Any]:
        chosen = self.sized(method, config, budget_passes)
        start = time.perf_counter()
        task = UnlearnTask.build(self.original, self.data, self.split, seed=seed)
        plan = chosen.plan(task)
        budget = PassBudget(budget=budget_passes)
        result = run_chunked(plan, callback=budget)
        plan.params.assign(result.theta)
        wall = time.perf_counter() - start
        out: dict[str, Any] = {"status": result.status.name, "steps": result.nit, "passes": result_passes(result),
                               "wall_s": wall, "time_ratio": wall / self.retrain_s, "config": chosen.to_dict()}
        try:
            ev = evaluate(plan.params.module, self.data, self.split, wall_s=wall)
        except ValueError as err:  # non-finite predictions of a diverged model
            out["message"] = str(err)
            return out
        if result.status.name == "DIVERGED":
            out["message"] = result.message
        out.update({"ua": ev.ua, "ra": ev.ra, "ta": ev.ta, "mia_efficacy": ev.mia_efficacy, "val_acc": ev.val_acc,
                    "avg_gap": ev.avg_gap(self.retrain), "val_gap": val_gap(ev, self.retrain)})
        return out

    def score(self, metrics: Mapping[str, Any]) -> float:
        gap = metrics.get("val_gap")
        return -math.inf if gap is None or not math.isfinite(gap) else -float(gap)

    def feasible(self, summary: Mapping[str, Any]) -> bool:
        return summary.get("avg_gap") is not None

    def reached(self, summary: Mapping[str, Any]) -> bool:
        return summary.get("avg_gap", math.inf) <= TARGET_GAP


def identity_of(config: Any, data: Any, split: Any) -> dict[str, Any]:
    cfg = dataclasses.asdict(config)
    cfg["train"] = config.train.to_dict()
    for k in ("methods", "overrides", "fresh_retrain", "cache"):
        cfg.pop(k, None)
    return {"bench": cfg, "dataset": data.to_dict(), "split": split.to_dict(), "version": 1}
