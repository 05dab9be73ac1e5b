"""Honest rate checks: bound checks, tail slope fits with R², contraction factors.

Every tolerance lives in :data:`TOL`, fixed here before any data is seen (see docs/claims.md).
The recipe (docs/claims.md): prefer bound checks (the measured
quantity scaled by the claimed rate stays under the constant) over slope fits alone; fit slopes
on the tail of a geometric grid and report R²; work in float64 and drop points at round-off.

A rate claim "q(n) ≤ C·n^(−p)" with an unknown constant C is checked on the tail of a geometric
grid of n (the points with n ≥ √(n_min·n_max)):

* the scaled quantity s(n) = q(n)·n^p must stay bounded: its growth max s / s(first tail point)
  must not exceed ``growth``;
* the least-squares slope of log q against log n on the tail is reported with R²;
* **violated** when the slopes fitted on the tail and on its last half are both slower than
  −p + ``slope`` with clean fits (R² ≥ ``r2``: a power law slower than claimed, e.g. k^(−2/3)
  against 1/k, whose scaled quantity grows only ×16^(1/3) over a tail spanning ×16);
* **holds** when the scaled quantity stays bounded; **violated** also when it grows past ``growth``
  and both slopes are slower than claimed (a plateau has slope ≈ 0; a pre-asymptotic transient
  steepens toward −p at the end); **inconclusive**
  when the two disagree, fewer than ``min_points`` tail points lie above round-off, the tail is
  noise (its log values scatter by more than ``scatter`` around a smooth curve), or the tail spans
  less than a factor ``min_span`` in n.

Round-off is absolute and tied to the quantity's own scale: values below ``roundoff`` × machine
epsilon × (the quantity's initial value, ``scale``) are round-off. Never relative to the series
maximum: a series of pure noise at 1e-30 would then look like a plateau and be called violated.
Where a classical bound with known constants exists, :func:`reading_check` decides by the bound
and reports the slope beside it (slopes of short, pre-asymptotic series mislead: gradient descent
on Nesterov's worst case with d ≫ K decays like k^(−1/2) on the horizon, under L‖x_0 − x*‖²/(2k)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from proofs_checks.evidence import Check, Verdict, fmt


@dataclass(frozen=True, kw_only=True)
class Tolerances:
    """Tolerances of every check, fixed in code before any data is seen.

    Attributes:
        bound_rtol: relative slack of an exact bound check (round-off of the computed sides).
        slope: how much slower than claimed a fitted exponent may be before it counts against
            the claim (|Δexponent|).
        r2: the R² above which a slope fit is called clean.
        growth: how much the rate-scaled quantity q·n^p may grow along the tail (transients,
            constants), measured in n-units: (growth of q·n^p)^(1/p) ≤ growth, so a plateau over a
            tail that spans more than ×growth in n is caught whatever p.
        roundoff: values below roundoff × machine epsilon × (the quantity's initial value) are
            round-off and dropped (absolute, never relative to the series maximum).
        scatter: the largest departure of log q from monotone (:func:`log_scatter`) a slope fit
            accepts along the tail; noisier tails are inconclusive.
        min_points: fewest tail points above round-off a slope fit needs.
        min_span: smallest ratio n_max/n_min of the fitted tail for a verdict other than inconclusive.
        contraction: slack of a contraction factor, as a fraction of 1 − predicted.
        sign: smallest change that counts as a change (similarity, cosine units).
    """

    bound_rtol: float = 1e-6
    slope: float = 0.2
    r2: float = 0.9
    growth: float = 3.0
    roundoff: float = 100.0
    scatter: float = 0.25
    min_points: int = 3
    min_span: float = 4.0
    contraction: float = 0.05
    sign: float = 1e-3

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


TOL = Tolerances()

EPS = float(np.finfo(np.float64).eps)


def roundoff_floor(scale: float, tol: Tolerances = TOL) -> float:
    """The absolute round-off level of a quantity whose initial value is ``scale``."""
    return tol.roundoff * EPS * max(abs(float(scale)), 1e-300)


def log_scatter(q: np.ndarray) -> float:
    """How far log q is from monotone: (Σ|Δ log q| − |Σ Δ log q|) / (2·(number of steps)).

    0 for any monotone series (a power law, a plateau, a linear or accelerating decay); of the
    order of σ/2 for a series of independent noise whose log has standard deviation σ.
    """
    y = np.log(np.asarray(q, dtype=np.float64))
    if y.size < 3:
        return 0.0
    dy = np.diff(y)
    return float((np.sum(np.abs(dy)) - abs(np.sum(dy))) / (2.0 * dy.size))


@dataclass(frozen=True, kw_only=True)
class SlopeFit:
    """Least-squares fit log q = slope·log n + intercept on the tail of a grid."""

    slope: float
    intercept: float
    r2: float
    n_points: int
    n_lo: float
    n_hi: float

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def geometric_grid(lo: float, hi: float, num: int, *, integer: bool = False) -> np.ndarray:
    """``num`` points log-spaced in [lo, hi] (distinct integers when ``integer``)."""
    if not (0 < lo < hi) or num < 2:
        raise ValueError(f"need 0 < lo < hi and num >= 2, got lo={lo}, hi={hi}, num={num}")
    grid = np.geomspace(lo, hi, num)
    if integer:
        grid = np.unique(np.round(grid).astype(np.int64))
    return grid


def tail_mask(n: np.ndarray) -> np.ndarray:
    """The tail of a geometric grid: n ≥ √(n_min·n_max)."""
    n = np.asarray(n, dtype=np.float64)
    return n >= math.sqrt(n.min() * n.max()) * (1 - 1e-12)


def fit_slope(n: np.ndarray, q: np.ndarray) -> SlopeFit:
    """Fit log q against log n (all points given must be > 0)."""
    x, y = np.log(np.asarray(n, dtype=np.float64)), np.log(np.asarray(q, dtype=np.float64))
    if x.size < 2:
        return SlopeFit(slope=math.nan, intercept=math.nan, r2=math.nan, n_points=int(x.size), n_lo=math.nan, n_hi=math.nan)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 1.0
    return SlopeFit(
        slope=float(slope), intercept=float(intercept), r2=r2, n_points=int(x.size),
        n_lo=float(np.exp(x.min())), n_hi=float(np.exp(x.max())),
    )  # fmt: skip


def bound_check(
    name: str, measured: Any, bound: Any, *, tol: Tolerances = TOL, what: str = "", primary: bool = True
) -> Check:
    """Holds when measured ≤ bound·(1 + bound_rtol) everywhere; reports the worst ratio.

    Args:
        name: the check's name.
        measured: the measured values (a number or an array).
        bound: the claimed bound at the same points (same shape, or a number).
        what: words for the detail line.
    """
    m = np.atleast_1d(np.asarray(measured, dtype=np.float64))
    b = np.broadcast_to(np.asarray(bound, dtype=np.float64), m.shape)
    finite = np.isfinite(m) & np.isfinite(b)
    if not finite.any():
        return Check(
            name=name, kind="bound", measured=math.nan, predicted=1.0, margin=math.nan,
            verdict=Verdict.INCONCLUSIVE, detail=f"{what}: no finite values", primary=primary,
        )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(b[finite] > 0, m[finite] / b[finite], np.where(m[finite] > 0, np.inf, 0.0))
    worst = int(np.argmax(ratio))
    r = float(ratio[worst])
    verdict = Verdict.HOLDS if r <= 1.0 + tol.bound_rtol else Verdict.VIOLATED
    nonfinite = int((~finite).sum())
    detail = (
        f"{what}: max measured/bound = {fmt(r)} over {int(finite.sum())} points"
        + (f" ({nonfinite} non-finite skipped)" if nonfinite else "")
    )
    return Check(
        name=name, kind="bound", measured=r, predicted=1.0, margin=1.0 - r, verdict=verdict, detail=detail,
        extra={"worst_index": int(np.flatnonzero(finite)[worst]), "n_points": int(finite.sum())}, primary=primary,
    )  # fmt: skip


def rate_check(
    name: str,
    n: Any,
    q: Any,
    *,
    exponent: float,
    tol: Tolerances = TOL,
    what: str = "",
    primary: bool = True,
    whole: bool = False,
    scale: float | None = None,
    reading: str = "",
) -> Check:
    """Check q(n) = O(n^(−exponent)) on the tail of a geometric grid (see the module docstring).

    ``whole`` fits every point instead of the tail (for measured, non-geometric abscissae such as σ²).
    ``scale`` is the quantity's initial value (at θ_0), which sets the absolute round-off level;
    by default the first value of the series.

    ``measured`` is the fitted tail slope, ``predicted`` is −exponent; ``extra`` carries the fit,
    the growth of the scaled quantity and whether the series reached round-off (``roundoff``)
    or decays much faster than claimed (``faster``: linear convergence passes a power-law check
    vacuously).
    """
    n = np.asarray(n, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    ok = np.isfinite(q) & (q >= 0)
    if not ok.all():
        diverged = bool(np.any(~np.isfinite(q)))
        return Check(
            name=name, kind="slope", measured=math.nan, predicted=-exponent, margin=math.nan,
            verdict=Verdict.VIOLATED if diverged else Verdict.INCONCLUSIVE,
            detail=f"{what}: non-finite or negative values (diverged)" if diverged else f"{what}: negative values",
            extra={"diverged": diverged}, primary=primary, reading=reading,
        )  # fmt: skip
    floor = roundoff_floor(q[0] if scale is None else scale, tol)
    tail = np.ones(n.shape, dtype=bool) if whole else tail_mask(n)
    above = tail & (q > floor)
    scaled = q * n**exponent
    t_idx = np.flatnonzero(tail)
    extra: dict[str, Any] = {"tail_n": [float(n[t_idx[0]]), float(n[t_idx[-1]])], "floor": floor}
    if above.sum() < tol.min_points:
        exact = float(q.max()) == 0.0
        # "reached": the series decayed from above round-off to it (a series at round-off from its
        # first point shows no decay at all and says nothing about the rate)
        reached = exact or (bool(np.any(q > floor)) and bool(np.sum(tail & (q <= floor)) >= 1))
        extra |= {"roundoff": reached, "faster": reached}
        verdict = Verdict.HOLDS if reached else Verdict.INCONCLUSIVE
        if exact:
            detail = f"{what}: exactly 0 at every point"
        elif reached:
            detail = f"{what}: the tail reached round-off (≤ {fmt(floor)}): faster than n^-{fmt(exponent)}"
        elif not np.any(q > floor):
            detail = f"{what}: at round-off (≤ {fmt(floor)}) at every point: no decay to measure"
        else:
            detail = f"{what}: only {int(above.sum())} tail points above round-off"
        return Check(
            name=name, kind="slope", measured=-math.inf if reached else math.nan, predicted=-exponent,
            margin=math.inf if reached else math.nan, verdict=verdict, detail=detail, extra=extra, primary=primary,
            reading=reading,
        )  # fmt: skip
    fit = fit_slope(n[above], q[above])
    idx = np.flatnonzero(above)
    end = fit_slope(n[idx[-max(tol.min_points, idx.size // 2):]], q[idx[-max(tol.min_points, idx.size // 2):]])
    s_tail = scaled[above]
    p_eff = abs(exponent) if exponent != 0 else 1.0
    growth = float(s_tail.max() / s_tail[0]) ** (1.0 / p_eff) if s_tail[0] > 0 else math.inf
    faster = bool(fit.slope < -3.0 * max(exponent, 1.0)) or bool(np.any(tail & (q <= floor)))
    extra |= {"fit": fit.to_dict(), "end_fit": end.to_dict(), "growth": growth,
              "roundoff": bool(np.any(tail & (q <= floor))), "faster": faster}  # fmt: skip
    # violated only if the whole tail AND its last half are slower than claimed: a pre-asymptotic
    # transient (the scaled quantity rising to its limit) flattens out at the end, a true violation does not
    slow = fit.slope > -exponent + tol.slope and end.slope > -exponent + tol.slope
    short = fit.n_hi / fit.n_lo < tol.min_span * (1 - 1e-9)
    noise = log_scatter(q[above])
    extra["scatter"] = noise
    # a short tail that ends because the series reached round-off decays faster than any power
    reached_end = bool(np.any(tail & (q <= floor) & (n > fit.n_hi)))
    if short and reached_end and noise <= tol.scatter and growth <= tol.growth:
        verdict = Verdict.HOLDS
    elif short or noise > tol.scatter:
        verdict = Verdict.INCONCLUSIVE
    elif slow and fit.r2 >= tol.r2 and end.r2 >= tol.r2:
        verdict = Verdict.VIOLATED  # a clean power law slower than claimed: no bounded growth excuses it
    elif growth <= tol.growth:
        verdict = Verdict.HOLDS
    elif slow:
        verdict = Verdict.VIOLATED
    else:
        verdict = Verdict.INCONCLUSIVE
    detail = (
        f"{what}: tail slope {fmt(fit.slope, 3)} (R² {fmt(fit.r2, 3)}, {fit.n_points} pts, n ∈ [{fmt(fit.n_lo)}, "
        f"{fmt(fit.n_hi)}]; last {end.n_points} pts {fmt(end.slope, 3)}) vs claimed ≤ {fmt(-exponent)}; "
        f"q·n^{fmt(exponent)} grew ×{fmt(growth, 3)} in n-units (allowed ×{fmt(tol.growth)})"
        + (f"; tail spans only ×{fmt(fit.n_hi / fit.n_lo, 3)} (< ×{fmt(tol.min_span)})" if short and not reached_end else "")
        + (f"; then reached round-off (≤ {fmt(floor)})" if reached_end else "")
        + (f"; noise: log q scatters by {fmt(noise, 3)} (> {fmt(tol.scatter)})" if noise > tol.scatter else "")
    )
    return Check(
        name=name, kind="slope", measured=fit.slope, predicted=-exponent, margin=-exponent + tol.slope - fit.slope,
        verdict=verdict, detail=detail, extra=extra, primary=primary, reading=reading,
    )  # fmt: skip


def reading_check(
    name: str,
    n: Any,
    q: Any,
    *,
    exponent: float,
    bound: Any = None,
    scale: float | None = None,
    tol: Tolerances = TOL,
    what: str = "",
    reading: str = "",
    primary: bool = True,
) -> Check:
    """The check of one reading: a bound check where a classical bound is known, else :func:`rate_check`.

    With ``bound`` (the classical constant times n^(−exponent) at the same points) the verdict is
    the bound's; the tail slope is reported in ``extra`` and the detail (it does not decide).
    """
    if bound is None:
        return rate_check(name, n, q, exponent=exponent, tol=tol, what=what, scale=scale, reading=reading, primary=primary)
    from dataclasses import replace

    b = bound_check(name, q, bound, tol=tol, what=what, primary=primary)
    s = rate_check(name, n, q, exponent=exponent, tol=tol, what="slope", scale=scale)
    detail = f"{b.detail}; {s.detail} (the slope is reported, the bound decides)"
    return replace(b, detail=detail, reading=reading, extra={**b.extra, "slope": s.measured, "slope_verdict": s.verdict.value})


def contraction_check(
    name: str,
    k: Any,
    err: Any,
    *,
    predicted: float,
    tol: Tolerances = TOL,
    what: str = "",
    primary: bool = True,
) -> Check:
    """Fit the linear-rate factor exp(slope of log err against k) on the tail above round-off.

    Holds when factor ≤ predicted + contraction·(1 − predicted); violated when larger with a clean
    fit (R² ≥ r2); inconclusive otherwise. A series that reaches round-off within the first half
    of the run is fitted on the part above round-off.
    """
    k = np.asarray(k, dtype=np.float64)
    e = np.asarray(err, dtype=np.float64)
    if not np.all(np.isfinite(e)):
        return Check(
            name=name, kind="contraction", measured=math.nan, predicted=predicted, margin=math.nan,
            verdict=Verdict.VIOLATED, detail=f"{what}: diverged", primary=primary,
        )  # fmt: skip
    floor = roundoff_floor(e[0], tol) * 1e2
    above = np.flatnonzero(e > floor)
    if above.size < 2:
        return Check(
            name=name, kind="contraction", measured=math.nan, predicted=predicted, margin=math.nan,
            verdict=Verdict.INCONCLUSIVE, detail=f"{what}: too few points above round-off", primary=primary,
        )  # fmt: skip
    last = above[-1]
    sel = np.arange(last // 2, last + 1)
    sel = sel[e[sel] > floor]
    if sel.size < tol.min_points:  # reached round-off within a few steps: fit every point above it
        sel = above
    slope, intercept = np.polyfit(k[sel], np.log(e[sel]), 1)
    y = np.log(e[sel])
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - slope * k[sel] - intercept) ** 2)) / ss_tot if ss_tot > 0 else 1.0
    factor = float(np.exp(slope))
    allowed = predicted + tol.contraction * (1.0 - predicted)
    if factor <= allowed:
        verdict = Verdict.HOLDS
    elif r2 >= tol.r2:
        verdict = Verdict.VIOLATED
    else:
        verdict = Verdict.INCONCLUSIVE
    detail = (
        f"{what}: measured factor {fmt(factor, 6)} (R² {fmt(r2, 3)}, k ∈ [{int(k[sel[0]])}, {int(k[sel[-1]])}]) "
        f"vs 1 − μ/L = {fmt(predicted, 6)}"
    )
    return Check(
        name=name, kind="contraction", measured=factor, predicted=predicted, margin=allowed - factor,
        verdict=verdict, detail=detail, extra={"r2": r2, "allowed": allowed}, primary=primary,
    )  # fmt: skip


def vacuous(check: Check, reason: str) -> Check:
    """A power-law check that passed only because the series converged linearly: inconclusive."""
    from dataclasses import replace

    if check.verdict is not Verdict.HOLDS or not check.extra.get("faster"):
        return check
    return replace(check, verdict=Verdict.INCONCLUSIVE, detail=f"{check.detail} — vacuous: {reason}")
