"""The vision bench: Original, Retrain and every method on one dataset, random and class-wise forgetting.

For each forgetting mode the bench draws the split (``vision.splits``), takes the Original (trained on
all of D) and the Retrain model (trained on D_r from scratch with the same recipe and seed) from the
cache or trains them, runs each method from the Original with the same seed, evaluates UA, RA, TA and
MIA-Efficacy (``vision.evaluate``) and reports Avg. Gap to the Retrain of the same run and the time
ratio to Retrain's training time. The Original itself is reported too ("original": doing nothing).

**Failures.** A method the core ends with ``Status.DIVERGED`` gets status ``DIVERGED``; its metrics
are those of the last finite iterate (the core returns it) when that model still gives finite
probabilities, else blank (None); it is left out of the plot and of "best method" summaries. A
method that raises a ``ValueError`` or ``RuntimeError`` gets status ``FAILED`` with the message and
blank metrics. Neither stops the bench.

**Default (measured, see docs/vision-bench).** Fashion-MNIST (digits when its files are absent, with
a warning), 10,000 training images (9,000 after the 10 % validation cut; 900 forgotten) and 5,000
test images, both drawn with ``subsample_seed``; the small CNN (width 32) trained 30 epochs; class 0
for class-wise forgetting; seed 2 (SalUn's default); one CPU thread.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ofmu_theory.runinfo import progress as progress_bar
from ofmu_theory.runinfo import torch_threads
from vision.data import VisionDataset, load_dataset, subsample
from vision.evaluate import EvalResult, evaluate
from vision.methods import bench_order, make_method
from vision.splits import FORGET_MODES, Split, make_split
from vision.train import TrainConfig, Trained, load_or_train

logger = logging.getLogger(__name__)

DEFAULT_DATASET = "fashion_mnist"
FALLBACK_DATASET = "digits"
DEFAULT_TRAIN = TrainConfig()


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """What one bench run does.

    Attributes:
        dataset: a ``vision.data.DATASETS`` name; ``fashion_mnist`` falls back to ``digits`` when absent.
        root: data folder (None: the loader's default).
        n_train, n_test: subsample sizes (None: all; capped at the dataset's sizes).
        subsample_seed: seed of the subsample.
        modes: forgetting modes to run (``"random"``, ``"class"``).
        forget_fraction: share of D forgotten in random mode.
        forget_class: class forgotten in class mode.
        seed: split seed (>= 1) and the seed of every training run, sampler and random labelling.
        methods: methods to run (Retrain is always run: it is the reference).
        overrides: per-method hyper-parameters, ``{"ofmu": {"rho": 2.0}}``.
        train: the Original / Retrain recipe.
        cache: read and write trained Original / Retrain models in the cache.
        fresh_retrain: train Retrain in this run even when cached, so that time ratios compare runs
            made side by side (a cached Retrain carries the wall time recorded when it was trained).
        threads: torch CPU threads for the run (None: torch's default). Default 1: on a shared machine
            two threads on two busy cores ran some steps 5–18× slower and others not (measured), which
            makes time ratios meaningless; one thread is steady, and costs little on two idle cores.
    """

    dataset: str = DEFAULT_DATASET
    root: str | None = None
    n_train: int | None = 10_000
    n_test: int | None = 5_000
    subsample_seed: int = 0
    modes: tuple[str, ...] = FORGET_MODES
    forget_fraction: float = 0.1
    forget_class: int = 0
    seed: int = 2
    methods: tuple[str, ...] = field(default_factory=lambda: tuple(m for m in bench_order() if m != "retrain"))
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    train: TrainConfig = DEFAULT_TRAIN
    cache: bool = True
    fresh_retrain: bool = False
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"threads must be an int >= 1 or None, got threads={self.threads!r}")
        if not self.modes or any(m not in FORGET_MODES for m in self.modes):
            raise ValueError(f"modes must be a non-empty subset of {FORGET_MODES}, got modes={self.modes!r}")
        for name in ("n_train", "n_test"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int >= 1 or None, got {name}={value!r}")
        if not 0.0 < self.forget_fraction < 1.0:
            raise ValueError(f"forget_fraction must be in (0, 1), got forget_fraction={self.forget_fraction!r}")
        for name in {*self.methods, *self.overrides}:  # unknown method or hyper-parameter: fail early
            make_method(name, **self.overrides.get(name, {}))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["train"] = self.train.to_dict()
        return out


@dataclass(frozen=True, kw_only=True)
class Row:
    """One line of the bench table.

    Attributes:
        method: ``"original"``, ``"retrain"`` or a method name.
        mode: the forgetting mode.
        status: ``"OK"``, ``"DIVERGED"`` or ``"FAILED"`` (reference rows: ``"OK"``).
        metrics: UA, RA, TA, MIA-Efficacy (and the rest of ``EvalResult``), None when blank.
        avg_gap: Avg. Gap to Retrain (None when blank).
        wall_s: run time in seconds (Original and Retrain: training time; None for "original").
        time_ratio: wall_s / Retrain's wall_s.
        nit: outer iterations of the core run.
        config: hyper-parameters.
        message: the error message of a FAILED method or the core's message of a DIVERGED one.
    """

    method: str
    mode: str
    status: str
    metrics: dict[str, Any] | None
    avg_gap: float | None
    wall_s: float | None
    time_ratio: float | None
    nit: int | None
    config: dict[str, Any]
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class ModeResult:
    """All rows of one forgetting mode and its split."""

    mode: str
    split: dict[str, Any]
    rows: tuple[Row, ...]

    def row(self, method: str) -> Row:
        for r in self.rows:
            if r.method == method:
                return r
        raise ValueError(f"no row for method {method!r} in mode {self.mode!r}; rows: {[r.method for r in self.rows]}")

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "split": self.split, "rows": [r.to_dict() for r in self.rows]}


@dataclass(frozen=True, kw_only=True)
class BenchResult:
    """Every mode's rows plus what identifies the run."""

    config: BenchConfig
    dataset: dict[str, Any]
    fallback: str | None
    modes: tuple[ModeResult, ...]
    wall_s: float

    def mode(self, name: str) -> ModeResult:
        for m in self.modes:
            if m.mode == name:
                return m
        raise ValueError(f"mode {name!r} was not run; modes: {[m.mode for m in self.modes]}")


def load_bench_data(config: BenchConfig) -> tuple[VisionDataset, str | None]:
    """The (subsampled) dataset, and a message when Fashion-MNIST was absent and digits were used instead."""
    fallback = None
    try:
        data = load_dataset(config.dataset, root=config.root)
    except FileNotFoundError as err:
        if config.dataset != DEFAULT_DATASET:
            raise
        fallback = f"{config.dataset} not found ({err}); falling back to {FALLBACK_DATASET}"
        logger.warning(fallback)
        data = load_dataset(FALLBACK_DATASET)
    n_train = len(data.train) if config.n_train is None else min(config.n_train, len(data.train))
    n_test = len(data.test) if config.n_test is None else min(config.n_test, len(data.test))
    if (n_train, n_test) != (len(data.train), len(data.test)):
        data = subsample(data, n_train=n_train, n_test=n_test, seed=config.subsample_seed)
    return data, fallback


def bench_split(data: VisionDataset, config: BenchConfig, mode: str) -> Split:
    """The split of ``mode`` (same validation cut, hence the same D, in both modes)."""
    if mode == "random":
        return make_split(data, mode="random", forget_fraction=config.forget_fraction, seed=config.seed)
    return make_split(data, mode="class", forget_class=config.forget_class, seed=config.seed)


def _evaluate(model: Any, data: VisionDataset, split: Split, wall_s: float | None) -> EvalResult | None:
    try:
        return evaluate(model, data, split, wall_s=wall_s)
    except ValueError as err:  # non-finite probabilities of a diverged model
        logger.warning("evaluation failed: %s", err)
        return None


def _gap(ev: EvalResult | None, reference: EvalResult) -> float | None:
    return None if ev is None else ev.avg_gap(reference)


def run_method(
    name: str, original: Trained, data: VisionDataset, split: Split, *, config: BenchConfig,
    reference: EvalResult, retrain_s: float, progress: bool = False, keep: list[Any] | None = None,
) -> Row:
    """Run one method from the Original and evaluate it against the Retrain reference (never raises for
    a method's numerical failure: see the module docstring); ``keep`` receives the unlearned model of a run
    that did not fail or diverge."""
    method = make_method(name, **config.overrides.get(name, {}))
    try:
        out = method.unlearn(original.model, data, split, seed=config.seed, progress=progress)
    except (ValueError, RuntimeError) as err:
        logger.warning("%s failed on %s forgetting: %s", name, split.mode, err)
        return Row(method=name, mode=split.mode, status="FAILED", metrics=None, avg_gap=None, wall_s=None,
                   time_ratio=None, nit=None, config=method.to_dict(), message=str(err))
    ev = _evaluate(out.model, data, split, out.wall_s)
    diverged, message = out.diverged, out.result.message if out.diverged else ""
    if ev is None and not diverged:  # finite weights, non-finite predictions: diverged for all practical purposes
        diverged, message = True, "the final model predicts NaN or inf (its weights are finite but too large)"
    if keep is not None and not diverged:
        keep.append(out.model)
    return Row(
        method=name, mode=split.mode, status="DIVERGED" if diverged else "OK",
        metrics=None if ev is None else ev.to_dict(), avg_gap=_gap(ev, reference), wall_s=out.wall_s,
        time_ratio=out.wall_s / retrain_s, nit=out.nit, config=out.config, message=message,
    )


def run_bench(config: BenchConfig, *, progress: bool = True) -> BenchResult:
    """Run Original, Retrain and ``config.methods`` for every mode of ``config`` (see the module docstring).

    Raises:
        RuntimeError: the Original or a Retrain training run diverged (there is nothing to compare to).
    """
    with torch_threads(config.threads):
        return _run_bench(config, progress=progress)


def _run_bench(config: BenchConfig, *, progress: bool) -> BenchResult:
    import time

    start = time.perf_counter()
    data, fallback = load_bench_data(config)
    splits = {mode: bench_split(data, config, mode) for mode in config.modes}
    first = splits[config.modes[0]]
    original = load_or_train(data, first.train, config=config.train, seed=config.seed, name="D",
                             cache=config.cache, progress=progress)
    _check_trained(original, "Original")
    results = []
    for mode, split in splits.items():
        if not np.array_equal(split.train, first.train):
            raise RuntimeError("the training set D differs between modes; the Original cannot be shared")
        retrain = load_or_train(data, split.retain, config=config.train, seed=config.seed, name=f"D_r[{mode}]",
                                cache=config.cache and not config.fresh_retrain, progress=progress)
        _check_trained(retrain, f"Retrain ({mode})")
        reference = evaluate(retrain.model, data, split, wall_s=retrain.wall_s)
        ev0 = evaluate(original.model, data, split)
        train_cfg = {"recipe": config.train.to_dict(), "cached": None}
        rows = [
            Row(method="original", mode=mode, status="OK", metrics=ev0.to_dict(), avg_gap=ev0.avg_gap(reference),
                wall_s=None, time_ratio=None, nit=original.nit, config={**train_cfg, "cached": original.cached}),
            Row(method="retrain", mode=mode, status="OK", metrics=reference.to_dict(), avg_gap=0.0,
                wall_s=retrain.wall_s, time_ratio=1.0, nit=retrain.nit, config={**train_cfg, "cached": retrain.cached}),
        ]
        for name in progress_bar(config.methods, desc=f"methods ({mode})", total=len(config.methods), enabled=progress):
            row = run_method(name, original, data, split, config=config, reference=reference,
                             retrain_s=retrain.wall_s, progress=False)
            logger.info("%s %s: %s gap %s ratio %s", mode, name, row.status, _fmt(row.avg_gap), _fmt(row.time_ratio))
            rows.append(row)
        results.append(ModeResult(mode=mode, split=split.to_dict(), rows=tuple(rows)))
    return BenchResult(config=config, dataset=data.to_dict(), fallback=fallback, modes=tuple(results),
                       wall_s=time.perf_counter() - start)


def _check_trained(trained: Trained, what: str) -> None:
    if trained.status == "DIVERGED":
        raise RuntimeError(f"training the {what} model diverged; lower the recipe's lr")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def with_overrides(config: BenchConfig, overrides: dict[str, dict[str, Any]]) -> BenchConfig:
    """``config`` with per-method overrides merged in."""
    merged = {k: dict(v) for k, v in config.overrides.items()}
    for method, values in overrides.items():
        merged.setdefault(method, {}).update(values)
    return replace(config, overrides=merged)
