"""Statistics for comparing methods fairly: intervals over seeds, a paired test, the verdict rule, seeded search.

Domain-agnostic (LLM and vision benches use it alike); numbers in, numbers out.

* :func:`interval` — mean and a 95 % interval of per-seed values: Student's t (default; exact for normal
  data, honest with 3 seeds) or the percentile bootstrap (Efron; seeded, so reproducible).
* :func:`paired` — the paired comparison of two methods run with the same seeds: mean difference d̄ of
  the per-seed differences d_s = x_s − y_s, its t interval, the paired t-test's two-sided p-value
  (scipy.stats.ttest_rel) and the probability of improvement P(X better than Y) over the pairs
  (Agarwal et al. 2021, ties counted ½).
* :func:`verdict` — ``"better"`` / ``"indistinguishable"`` / ``"worse"``: better (worse) when the
  interval of the paired difference lies entirely on the good (bad) side of 0, i.e. the paired t-test
  rejects equality at level 1 − ``level`` in that direction; otherwise indistinguishable. With fewer
  than two pairs no interval exists and the verdict is indistinguishable.
* :func:`search_configs` — ``n`` configurations drawn without replacement from a declared grid by a
  seeded generator (the same number for every method; Choi et al. 2019, Sivaprasad et al. 2020).
* :func:`first_reaching` — time-to-quality: the first point of a budget curve that meets a target.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

VERDICTS = ("better", "indistinguishable", "worse")


def _values(values: Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers, got {values!r}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    return x


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got level={level!r}")


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values and a ``level`` interval [low, high] (NaN when n < 2) by ``method``."""

    mean: float
    low: float
    high: float
    n: int
    level: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def interval(values: Sequence[float], *, level: float = 0.95, method: str = "t", n_boot: int = 10_000,
             seed: int = 0) -> Interval:
    """Mean and ``level`` interval of ``values`` (see the module docstring).

    Args:
        method: ``"t"`` (x̄ ± t_{n−1, (1+level)/2} · s/√n) or ``"bootstrap"`` (percentiles of ``n_boot``
            resampled means, drawn with ``numpy.random.default_rng(seed)``).
    """
    from scipy import stats  # noqa: PLC0415

    _check_level(level)
    x = _values(values, "values")
    mean, n = float(x.mean()), int(x.size)
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, level, method)
    if method == "t":
        half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
        return Interval(mean, mean - half, mean + half, n, level, method)
    if method == "bootstrap":
        if n_boot < 100:
            raise ValueError(f"n_boot must be >= 100, got n_boot={n_boot!r}")
        rng = np.random.default_rng(seed)
        means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
        return Interval(mean, float(low), float(high), n, level, method)
    raise ValueError(f"method must be 't' or 'bootstrap', got method={method!r}")


@dataclass(frozen=True)
class Paired:
    """Paired comparison of x against y (same seeds): d_s = x_s − y_s."""

    diff: Interval
    p_value: float
    prob_improvement: float
    higher_is_better: bool
    test: str = "paired t-test over seeds (scipy.stats.ttest_rel, two-sided)"

    def to_dict(self) -> dict[str, Any]:
        return {"diff": self.diff.to_dict(), "p_value": self.p_value, "prob_improvement": self.prob_improvement,
                "higher_is_better": self.higher_is_better, "test": self.test}


def paired(x: Sequence[float], y: Sequence[float], *, higher_is_better: bool, level: float = 0.95) -> Paired:
    """Compare per-seed values ``x`` and ``y`` (same length, same seeds in the same order)."""
    from scipy import stats  # noqa: PLC0415

    a, b = _values(x, "x"), _values(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x and y must pair up (same seeds): {a.size} values against {b.size}")
    d = a - b
    diff = interval(d, level=level, method="t")
    if a.size < 2:
        p = math.nan
    elif np.all(d == d[0]):  # zero variance: the t statistic is undefined; equal runs are not different
        p = 1.0 if d[0] == 0 else 0.0
    else:
        p = float(stats.ttest_rel(a, b).pvalue)
    sign = 1.0 if higher_is_better else -1.0
    wins = np.mean(np.where(sign * d > 0, 1.0, np.where(d == 0, 0.5, 0.0)))
    return Paired(diff=diff, p_value=p, prob_improvement=float(wins), higher_is_better=higher_is_better)


def verdict(comparison: Paired) -> str:
    """``better`` / ``indistinguishable`` / ``worse`` for x against y (see the module docstring)."""
    d = comparison.diff
    if d.n < 2 or math.isnan(d.low):
        return "indistinguishable"
    good_low, good_high = (d.low, d.high) if comparison.higher_is_better else (-d.high, -d.low)
    if good_low > 0:
        return "better"
    if good_high < 0:
        return "worse"
    return "indistinguishable"


def grid_size(space: Mapping[str, Sequence[Any]]) -> int:
    """Number of configurations in the grid ``space`` (knob -> candidate values)."""
    return math.prod(len(v) for v in space.values())


def search_configs(space: Mapping[str, Sequence[Any]], n: int, *, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct configurations of the grid ``space``, drawn without replacement with ``seed``.

    Raises:
        ValueError: ``n`` < 1, an empty knob, or a grid smaller than ``n`` (every method must get ``n``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got n={n!r}")
    for knob, values in space.items():
        if len(values) == 0:
            raise ValueError(f"search space knob {knob!r} has no values")
    size = grid_size(space)
    if size < n:
        raise ValueError(f"the search space has {size} configurations, fewer than the {n} each method gets: "
                         f"{dict(space)}")
    knobs = sorted(space)
    grid = list(itertools.product(*(space[k] for k in knobs)))
    order = np.random.default_rng(seed).permutation(len(grid))[:n]
    return [dict(zip(knobs, grid[i], strict=True)) for i in sorted(order)]


def first_reaching(points: Sequence[Mapping[str, Any]], *, ok: Any) -> Mapping[str, Any] | None:
    """The first of ``points`` (in budget order) for which ``ok(point)`` holds, or None."""
    for point in points:
        if ok(point):
            return point
    return None
