"""The fair-comparison protocol, written once for every bench: budgets, equal tuning, seeds, a verdict.

A bench supplies a :class:`Task` — how to run one method configuration for a budget of gradient passes
and a seed on one *role* of the data (``"tune"``: the validation split; ``"eval"``: the reported split,
never seen by the tuning) and how to read the result — and :func:`run_protocol` does the rest:

1. **Budgets.** Every level ``m`` of ``Profile.budgets`` gives every method ``m × reference_passes``
   gradient passes (:mod:`ofmu_theory.budget`); the task stops each run at its budget.
2. **Equal tuning.** Every method gets ``Profile.n_configs`` configurations drawn from its declared grid
   by the same seeded search (:func:`ofmu_theory.comparison.search_configs`), each run once on the tune
   role with the tuning seed, and the one with the best ``Task.score`` is chosen (the same rule for all).
   The record keeps every configuration tried and its score (``configs_tried``), ``selected_on`` and the
   chosen configuration.
3. **Seeds.** The chosen configuration runs on the eval role with every seed of ``Profile.seeds``; every
   per-seed value is kept and each metric gets a mean and a 95 % t interval.
4. **Verdict.** Per budget: the reference method (OFMU) against the best other method (the best mean
   primary metric among those the task calls feasible), paired over seeds on the primary metric
   (:func:`ofmu_theory.comparison.verdict`).
5. **Time to quality.** Per method, the first budget whose mean eval metrics meet ``Task.reached``:
   its passes and mean wall seconds (resolution: the budget levels).

**Resumable.** Every run's record is written atomically to ``cache_dir/<key>.json``, the key a hash of
(task identity, role, method, configuration, budget, seed); a rerun reads it instead of running again,
so an interrupted bench continues where it stopped.

**Parallel.** With ``jobs > 1`` the (method, budget) units — each a method's tuning runs then its seeds
at one budget, independent of every other unit — run in ``jobs`` spawned worker processes, largest
budget first, each building its own task from ``task_factory`` and writing into the run cache; the
record is then assembled from the cache exactly as a serial run would assemble it. Every run depends
only on its own key (configuration, budget, seed), so the record is the same for any ``jobs``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ofmu_theory.comparison import first_reaching, interval, paired, search_configs, verdict
from ofmu_theory.io import to_jsonable, write_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """How much of the protocol a bench run does.

    Attributes:
        name: ``"quick"`` or ``"full"`` (or any label).
        budgets: budget levels as multiples of the reference run's passes, increasing.
        n_configs: configurations tried per method and budget (the same for every method).
        seeds: unlearning seeds of the reported runs (the first one also tunes).
        search_seed: seed of the configuration search.
    """

    name: str
    budgets: tuple[float, ...]
    n_configs: int
    seeds: tuple[int, ...]
    search_seed: int = 0

    def __post_init__(self) -> None:
        if not self.budgets or any(not (math.isfinite(b) and b > 0) for b in self.budgets) \
                or list(self.budgets) != sorted(set(self.budgets)):
            raise ValueError(f"budgets must be increasing positive multiples, got budgets={self.budgets!r}")
        if isinstance(self.n_configs, bool) or not isinstance(self.n_configs, int) or self.n_configs < 1:
            raise ValueError(f"n_configs must be an int >= 1, got n_configs={self.n_configs!r}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one, got seeds={self.seeds!r}")

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


class Task(Protocol):
    """What a bench supplies to :func:`run_protocol`."""

    identity: Mapping[str, Any]  # what makes runs comparable (data, model, settings): part of every cache key
    primary: str  # the verdict's metric
    higher_is_better: bool  # for ``primary``
    selected_on: str  # one sentence: the tuning split and the selection rule

    def run(self, method: str, config: Mapping[str, Any], *, budget_passes: float, seed: int,
            role: str) -> dict[str, Any]:
        """One run: a JSON-able dict of metrics plus ``passes``, ``wall_s`` and ``status``."""

    def fixed(self, method: str) -> Mapping[str, Any]:
        """Optional: settings ``method`` runs with that are not tuned (part of its runs' cache keys only, so that
        changing one method's fixed settings reruns that method alone)."""

    def score(self, metrics: Mapping[str, Any]) -> float | tuple[float, ...]:
        """Selection score on the tune role (higher is better, tuples compared in order; -inf: infeasible)."""

    def feasible(self, summary: Mapping[str, Any]) -> bool:
        """Whether a method's mean eval metrics may be the best baseline (e.g. a utility floor)."""

    def reached(self, summary: Mapping[str, Any]) -> bool:
        """Whether mean eval metrics meet the stated quality (time to quality)."""


@dataclass(frozen=True, kw_only=True)
class MethodSpace:
    """A method's declared search space: knob -> candidate values (its documented knobs, lr included)."""

    method: str
    space: Mapping[str, Sequence[Any]]


def run_key(identity: Mapping[str, Any], **parts: Any) -> str:
    """The cache key of one run (24 hex digits of a SHA-256 over the task identity and ``parts``)."""
    payload = json.dumps(to_jsonable({"identity": dict(identity), **parts}), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


@dataclass(kw_only=True, eq=False)
class RunCache:
    """Per-run records under ``folder`` (None: in memory only); counts hits and misses."""

    folder: Path | None
    hits: int = 0
    runs: int = 0
    _memory: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get_or_run(self, key: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key in self._memory:
            self.hits += 1
            return self._memory[key]
        path = None if self.folder is None else self.folder / f"{key}.json"
        if path is not None and path.is_file():
            record = json.loads(path.read_text(encoding="utf-8"))
            self.hits += 1
        else:
            record = to_jsonable(run())
            self.runs += 1
            if path is not None:
                write_json(path, record)
        self._memory[key] = record
        return record


def summarise(per_seed: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    """Mean and 95 % t interval of each of ``metrics`` over the per-seed records that have it (finite)."""
    out: dict[str, Any] = {}
    for name in metrics:
        values = [float(r[name]) for r in per_seed if isinstance(r.get(name), (int, float))
                  and math.isfinite(float(r[name]))]
        if values:
            out[name] = interval(values).to_dict()
    return out


def means(summary: Mapping[str, Any]) -> dict[str, float]:
    """The mean of each summarised metric."""
    return {k: v["mean"] for k, v in summary.items()}


def run_seconds(record: Mapping[str, Any]) -> float:
    """Wall seconds of every unlearning run in a :func:`run_protocol` record (tuning and seeds)."""
    total = 0.0
    for level in record["levels"]:
        for row in level["methods"].values():
            total += sum(t["metrics"].get("wall_s", 0.0) for t in row["tuning"]["configs_tried"])
            total += sum(r.get("wall_s", 0.0) for r in row["per_seed"])
    return total


def invocations(previous: Mapping[str, Any] | None, runs: Mapping[str, Any], wall_s: float) -> list[dict[str, Any]]:
    """Every invocation that built a bench folder's record: ``previous`` (the folder's last record, None: the
    first) then this one (its ``runs`` counts and ``wall_s``), so a resumed or re-rendered record still states
    the measured time of the runs it reads from the cache."""
    past: list[dict[str, Any]] = []
    if previous is not None:
        past = [dict(x) for x in previous.get("invocations", [])] or \
            [{"wall_s": float(previous["wall_s"]), **previous["runs"]}]  # a record written before this field
    return [*past, {"wall_s": float(wall_s), **dict(runs)}]


def open_bench(out: str | Path, *, profile: str, profiles: Mapping[str, Profile], methods: Sequence[str],
               reference: str = "ofmu") -> tuple[Profile, Path, dict[str, Any] | None]:
    """Check a bench request and open its folder: the chosen profile, the folder (created) and the record a
    previous invocation left there (:func:`previous_record`).

    Raises:
        ValueError: an unknown ``profile``, or ``methods`` without ``reference`` (the verdict is about it).
    """
    if profile not in profiles:
        raise ValueError(f"profile must be one of {sorted(profiles)}, got profile={profile!r}")
    if reference not in methods:
        raise ValueError(f"methods must include {reference} (the verdict is about it), got {list(methods)}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    return profiles[profile], root, previous_record(root)


def previous_record(folder: str | Path) -> dict[str, Any] | None:
    """The protocol record a bench folder holds (``bench.json`` with ``levels``), or None."""
    path = Path(folder) / "bench.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return record if "levels" in record and "runs" in record else None


def run_protocol(task: Task, spaces: Sequence[MethodSpace], profile: Profile, *, reference_passes: float,
                 reference_method: str, metrics: Sequence[str], cache_dir: str | Path | None = None,
                 log: Callable[[str], None] | None = None, jobs: int = 1,
                 task_factory: Callable[[], Task] | None = None) -> dict[str, Any]:
    """Run the protocol (module docstring); returns the ``levels`` / ``verdict`` / ``time_to_quality`` record.

    Args:
        spaces: one search space per method, in table order; ``reference_method`` must be among them.
        reference_passes: passes of the reference run (budget level 1×).
        reference_method: the method the verdict is about (OFMU).
        metrics: the metrics summarised over seeds (``primary`` included).
        cache_dir: per-run records (resumable); None: no cache.
        jobs: worker processes for the runs (module docstring, "Parallel"); needs ``cache_dir`` and
            ``task_factory`` when above 1.
        task_factory: a picklable callable (a module-level function or a ``functools.partial`` of one)
            that builds, in a worker, a task equal to ``task``.
    """
    names = [s.method for s in spaces]
    if reference_method not in names:
        raise ValueError(f"reference_method {reference_method!r} is not among the methods {names}")
    if task.primary not in metrics:
        raise ValueError(f"the primary metric {task.primary!r} must be among metrics {list(metrics)}")
    if not (math.isfinite(reference_passes) and reference_passes > 0):
        raise ValueError(f"reference_passes must be > 0, got {reference_passes!r}")
    if not (isinstance(jobs, int) and jobs >= 1):
        raise ValueError(f"jobs must be an integer >= 1, got jobs={jobs!r}")
    if jobs > 1 and (cache_dir is None or task_factory is None):
        raise ValueError("jobs > 1 needs cache_dir (the workers write their runs there) and task_factory "
                         "(each worker builds its own task)")
    cache = RunCache(folder=None if cache_dir is None else Path(cache_dir))
    say = log or logger.info
    start = time.perf_counter()
    in_workers = {"executed": 0, "from_cache": 0}
    if jobs > 1:
        in_workers = _run_units_in_workers(task_factory, spaces, profile, reference_passes=reference_passes,
                                           cache_dir=Path(cache_dir), jobs=jobs, log=log, metrics=metrics)
    levels = []
    for multiple in profile.budgets:
        budget = multiple * reference_passes
        rows = {}
        for spec in spaces:
            rows[spec.method] = _method_at_budget(task, spec, profile, budget, cache, say, metrics)
        levels.append({"budget_multiple": multiple, "budget_passes": budget, "methods": rows,
                       "verdict": _verdict(task, rows, reference_method)})
    return {
        "profile": profile.to_dict(), "reference_passes": reference_passes, "reference_method": reference_method,
        "primary": task.primary, "higher_is_better": task.higher_is_better, "levels": levels,
        "time_to_quality": {n: _time_to_quality(task, levels, n) for n in names},
        "runs": {"executed": cache.runs + in_workers["executed"],
                 "from_cache": cache.hits - in_workers["executed"], "jobs": jobs},
        "protocol_wall_s": time.perf_counter() - start,
    }


def _key(task: Task, *, method: str, **parts: Any) -> str:
    fixed = dict(task.fixed(method)) if hasattr(task, "fixed") else {}
    return run_key(task.identity, method=method, **({"fixed": fixed} if fixed else {}), **parts)


_WORKER_TASK: Task | None = None  # the task of this worker process (built once by _init_worker)


def _init_worker(task_factory: Callable[[], Task]) -> None:
    global _WORKER_TASK  # noqa: PLW0603 - one task per worker process, built once
    _WORKER_TASK = task_factory()


def _unit_in_worker(spec: MethodSpace, profile: Profile, budget: float, cache_dir: Path,
                    log: Callable[[str], None] | None, metrics: Sequence[str]) -> dict[str, int]:
    if _WORKER_TASK is None:
        raise RuntimeError("worker started without a task (the pool's initializer did not run)")
    cache = RunCache(folder=cache_dir)
    _method_at_budget(_WORKER_TASK, spec, profile, budget, cache, log or logger.info, metrics)
    return {"executed": cache.runs, "from_cache": cache.hits}


def _run_units_in_workers(task_factory: Callable[[], Task], spaces: Sequence[MethodSpace], profile: Profile, *,
                          reference_passes: float, cache_dir: Path, jobs: int, log: Callable[[str], None] | None,
                          metrics: Sequence[str]) -> dict[str, int]:
    """Every (method, budget) unit in ``jobs`` spawned workers, largest budget first; their run counts."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    units = [(spec, multiple * reference_passes) for multiple in sorted(profile.budgets, reverse=True)
             for spec in spaces]
    counts = {"executed": 0, "from_cache": 0}
    # spawn, not fork: a forked child inherits the parent's thread pools and locks (torch, BLAS)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(task_factory,)) as pool:
        futures = [pool.submit(_unit_in_worker, spec, profile, budget, cache_dir, log, metrics)
                   for spec, budget in units]
        for future in futures:
            for k, v in future.result().items():
                counts[k] += v
    return counts


def _method_at_budget(task: Task, spec: MethodSpace, profile: Profile, budget: float, cache: RunCache,
                      say: Callable[[str], None], metrics: Sequence[str]) -> dict[str, Any]:
    configs = search_configs(spec.space, profile.n_configs, seed=profile.search_seed)
    tune_seed = profile.seeds[0]
    tried = []
    for config in configs:
        key = _key(task, role="tune", method=spec.method, config=config, budget=budget, seed=tune_seed)
        record = cache.get_or_run(key, lambda c=config: task.run(spec.method, c, budget_passes=budget,
                                                                 seed=tune_seed, role="tune"))
        raw = task.score(record)
        score = tuple(float(v) for v in raw) if isinstance(raw, (tuple, list)) else (float(raw),)
        tried.append({"config": config, "score": list(score), "metrics": record})
        say(f"tune {spec.method} @ {budget:.0f} passes {config}: score {score}")
    best = max(range(len(tried)), key=lambda i: (tuple(tried[i]["score"]), -i))  # ties: the earlier configuration
    chosen = tried[best]["config"]
    per_seed = []
    for seed in profile.seeds:
        key = _key(task, role="eval", method=spec.method, config=chosen, budget=budget, seed=seed)
        record = cache.get_or_run(key, lambda s=seed: task.run(spec.method, chosen, budget_passes=budget, seed=s,
                                                               role="eval"))
        per_seed.append({"seed": seed, **record})
        say(f"eval {spec.method} @ {budget:.0f} passes seed {seed}: {task.primary} {record.get(task.primary)}")
    summary = summarise(per_seed, [*metrics, "passes", "wall_s"])
    return {
        "budget_passes": budget, "seeds": list(profile.seeds), "per_seed": per_seed, "summary": summary,
        "tuning": {"configs_tried": tried, "selected_on": task.selected_on, "chosen": chosen,
                   "search_space": {k: list(v) for k, v in spec.space.items()}, "n_configs": profile.n_configs,
                   "search_seed": profile.search_seed, "tuning_seed": tune_seed},
    }


def _verdict(task: Task, rows: Mapping[str, Mapping[str, Any]], reference: str) -> dict[str, Any]:
    primary, sign = task.primary, (1.0 if task.higher_is_better else -1.0)
    ref = rows[reference]
    candidates = {n: r for n, r in rows.items() if n != reference and primary in r["summary"]
                  and task.feasible(means(r["summary"]))}
    out: dict[str, Any] = {"method": reference, "metric": primary, "higher_is_better": task.higher_is_better,
                           "feasible_baselines": sorted(candidates)}
    if primary not in ref["summary"]:
        return {**out, "result": "worse", "best_baseline": None,
                "reason": f"{reference} has no finite {primary} (diverged or failed)"}
    if not candidates:
        return {**out, "result": "better" if task.feasible(means(ref["summary"])) else "indistinguishable",
                "best_baseline": None, "reason": "no baseline met the feasibility rule"}
    best = max(candidates, key=lambda n: sign * candidates[n]["summary"][primary]["mean"])
    x = [r.get(primary) for r in ref["per_seed"]]
    y = [r.get(primary) for r in rows[best]["per_seed"]]
    if any(not isinstance(v, (int, float)) for v in [*x, *y]):
        return {**out, "result": "indistinguishable", "best_baseline": best, "reason": "a seed has no value"}
    cmp = paired(x, y, higher_is_better=task.higher_is_better)
    result = verdict(cmp)
    feasible = task.feasible(means(ref["summary"]))
    if not feasible and result != "worse":
        result, reason = "worse", f"{reference} fails the feasibility rule (e.g. the utility floor)"
    else:
        reason = "paired over seeds on the primary metric"
    return {**out, "result": result, "best_baseline": best, "comparison": cmp.to_dict(), "reason": reason,
            "reference_feasible": feasible}


def _time_to_quality(task: Task, levels: Sequence[Mapping[str, Any]], method: str) -> dict[str, Any] | None:
    points = []
    for level in levels:
        row = level["methods"][method]
        summary = means(row["summary"])
        points.append({"budget_multiple": level["budget_multiple"], "budget_passes": level["budget_passes"],
                       "passes": summary.get("passes"), "wall_s": summary.get("wall_s"), "summary": summary})
    hit = first_reaching(points, ok=lambda p: task.reached(p["summary"]))
    if hit is None:
        return None
    return {k: hit[k] for k in ("budget_multiple", "budget_passes", "passes", "wall_s")}
