"""The rate checks at the edges of their tolerances, and the numbers and words they report.

Each test feeds a series whose answer the mathematics fixes exactly at (or either side of) a
tolerance: a ratio equal to 1 + bound_rtol, a factor equal to the allowed one, an R², a growth or a
scatter equal to its threshold, a tail of exactly min_points points or spanning exactly min_span.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from proofs_checks.evidence import Verdict, fmt
from proofs_checks.rates import (
    EPS,
    TOL,
    Tolerances,
    bound_check,
    contraction_check,
    fit_slope,
    geometric_grid,
    log_scatter,
    rate_check,
    reading_check,
    roundoff_floor,
    tail_mask,
)

K = geometric_grid(1, 4096, 30, integer=True).astype(float)
WIDE = geometric_grid(1, 2**20, 40, integer=True).astype(float)  # a tail spanning ×860


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook R² of a least-squares line: the squared correlation."""
    return float(np.corrcoef(x, y)[0, 1] ** 2)


# --- grids, round-off, fits ----------------------------------------------------------------------
def test_geometric_grid_arguments() -> None:
    assert geometric_grid(1, 10, 3)[1] == pytest.approx(math.sqrt(10))  # floats unless asked for integers
    assert list(geometric_grid(1, 4, 2)) == [1.0, 4.0]  # two points are a grid
    ints = geometric_grid(1, 10, 30, integer=True)  # 30 points rounded onto 10 integers: each once
    assert list(ints) == list(range(1, 11))
    for lo, hi, num in [(2, 1, 5), (0, 1, 5), (-1, 1, 5), (1, 2, 1)]:
        with pytest.raises(ValueError, match="need 0 < lo < hi and num >= 2"):
            geometric_grid(lo, hi, num)


def test_roundoff_floor_is_absolute_and_scales_with_the_magnitude() -> None:
    assert roundoff_floor(1e6) == pytest.approx(TOL.roundoff * EPS * 1e6, rel=1e-15)
    assert roundoff_floor(-3.0) == roundoff_floor(3.0) > 0
    assert roundoff_floor(0.0) > 0  # a quantity that starts at 0: a positive floor all the same


def test_log_scatter_of_three_points() -> None:
    q = np.exp([0.0, 0.6, 0.0])  # up 0.6, down 0.6: Σ|Δ| = 1.2, |ΣΔ| = 0, two steps → 0.3
    assert log_scatter(q) == pytest.approx(0.3, rel=1e-12)
    assert log_scatter(q[:2]) == 0.0


def test_fit_slope_r2_is_the_squared_correlation() -> None:
    rng = np.random.default_rng(1)
    short = np.linspace(1.0, 1.5, 20)  # log n spans only 0.4: the variance of log q is below 1
    series = [(short, short**-1.0 * np.exp(0.02 * rng.standard_normal(short.size))),
              (K, K**-2.0 * np.exp(rng.standard_normal(K.size)))]
    for n, q in series:
        fit = fit_slope(n, q)
        assert fit.r2 == pytest.approx(_r2(np.log(n), np.log(q)), rel=1e-9) and 0.0 < fit.r2 < 1.0


def test_fit_slope_needs_two_points() -> None:
    line = fit_slope(np.array([1.0, 10.0]), np.array([1.0, 0.01]))  # the line through two points
    assert line.slope == pytest.approx(-2.0) and line.n_points == 2
    one = fit_slope(np.array([3.0]), np.array([1.0]))
    assert math.isnan(one.slope) and math.isnan(one.r2) and one.n_points == 1


# --- bound checks --------------------------------------------------------------------------------
def test_bound_check_at_its_tolerance_and_on_a_scalar() -> None:
    edge = bound_check("b", 1.0 + TOL.bound_rtol, 1.0)  # measured/bound exactly 1 + bound_rtol
    assert edge.verdict is Verdict.HOLDS and edge.measured == 1.0 + TOL.bound_rtol
    scalar = bound_check("b", 3.0, 2.0)
    assert scalar.verdict is Verdict.VIOLATED and scalar.measured == 1.5 and scalar.extra == {"worst_index": 0, "n_points": 1}


def test_bound_check_reports_the_worst_index_among_finite_points_and_the_skipped_ones() -> None:
    check = bound_check("b", [np.nan, 1.0, 3.0, 2.0], [1.0, 2.0, 3.0, 3.0], what="gap")
    assert check.extra["worst_index"] == 2 and check.measured == 1.0  # index into the input, not the finite part
    assert check.detail == "gap: max measured/bound = 1 over 3 points (1 non-finite skipped)"
    two_thirds = bound_check("b", [2.0], [3.0], what="gap")
    assert two_thirds.detail == "gap: max measured/bound = 0.6667 over 1 points"


def test_every_check_is_primary_unless_told_otherwise() -> None:
    k = np.arange(50.0)
    checks = [bound_check("b", 1.0, 2.0), rate_check("r", K, K**-1.0, exponent=1.0),
              reading_check("g", K, K**-1.0, exponent=1.0), reading_check("g", K, K**-1.0, exponent=1.0, bound=K**-1.0),
              contraction_check("c", k, 0.5**k, predicted=0.5)]
    assert all(c.primary for c in checks)
    assert not bound_check("b", 1.0, 2.0, primary=False).primary


# --- rate checks ---------------------------------------------------------------------------------
def test_a_single_tail_point_at_round_off_is_enough_to_have_reached_it() -> None:
    n = np.array([1.0, 2.0, 4.0, 8.0])  # tail n ≥ 2.83: 4 and 8
    check = rate_check("r", n, np.array([1.0, 0.5, 0.25, 0.0]), exponent=1.0)
    assert check.verdict is Verdict.HOLDS and check.extra["roundoff"], check.detail
    assert check.measured == -math.inf and check.margin == math.inf and check.predicted == -1.0


def test_a_power_law_that_then_sits_on_the_floor_reports_it() -> None:
    floor = roundoff_floor(1.0)
    q = np.where(K < 2048, K**-2.0, floor)  # the last tail points sit exactly on the floor
    check = rate_check("r", K, q, exponent=1.0, what="gap")
    assert check.verdict is Verdict.HOLDS and check.extra["roundoff"] and check.extra["faster"]
    assert check.detail.endswith(f"; then reached round-off (≤ {fmt(floor)})") and fmt(floor) == "2.22e-14"


def test_a_short_tail_that_ends_in_round_off_holds_unless_it_grows_or_scatters() -> None:
    n = geometric_grid(1, 64, 13)  # steps of ×√2; tail n ≥ 8
    q = np.where(n <= 16.0 + 1e-9, 1.0 / n, 0.0)  # three tail points above round-off (×2 span), then 0
    check = rate_check("r", n, q, exponent=1.0)
    assert check.extra["fit"]["n_points"] == 3 and check.verdict is Verdict.HOLDS, check.detail
    growth = check.extra["growth"]
    assert rate_check("r", n, q, exponent=1.0, tol=Tolerances(growth=growth)).verdict is Verdict.HOLDS
    assert rate_check("r", n, q, exponent=1.0, tol=Tolerances(scatter=0.0)).verdict is Verdict.HOLDS
    rising = np.where(n <= 16.0 + 1e-9, n**1.0, 0.0)  # q·n grows ×4 (in n-units) over the three points
    assert rate_check("r", n, rising, exponent=1.0).verdict is Verdict.INCONCLUSIVE
    zigzag = np.where(n <= 16.0 + 1e-9, np.where(np.arange(n.size) % 2, 3.0, 1.0) / n, 0.0)  # log q scatters by 0.37
    assert rate_check("r", n, zigzag, exponent=1.0).verdict is Verdict.INCONCLUSIVE


def test_a_monotone_tail_has_no_noise_even_with_a_zero_scatter_tolerance() -> None:
    check = rate_check("r", K, K**-1.0, exponent=1.0, tol=Tolerances(scatter=0.0))
    assert check.verdict is Verdict.HOLDS and "noise" not in check.detail, check.detail


def test_the_noise_clause_of_the_detail() -> None:
    q = K**-1.0 * np.exp(np.random.default_rng(1).normal(0.0, 1.5, K.shape))
    check = rate_check("r", K, q, exponent=1.0, tol=Tolerances(scatter=0.123456))
    assert check.extra["scatter"] == pytest.approx(0.5173, abs=1e-4)  # three significant digits: 0.517
    assert check.detail.endswith("; noise: log q scatters by 0.517 (> 0.1235)")


def test_growth_exactly_at_its_tolerance_holds() -> None:
    q = K**-0.9  # q·n grows like n^0.1: bounded, slope within TOL.slope
    growth = rate_check("r", K, q, exponent=1.0).extra["growth"]
    assert growth > 1.0
    assert rate_check("r", K, q, exponent=1.0, tol=Tolerances(growth=growth)).verdict is Verdict.HOLDS
    assert rate_check("r", K, q, exponent=1.0, tol=Tolerances(growth=growth * (1 - 1e-9))).verdict is Verdict.INCONCLUSIVE


def test_r2_exactly_at_its_tolerance_counts_as_clean() -> None:
    k = np.arange(1.0, 257.0)
    base = k ** (-2.0 / 3.0)  # slower than 1/k with bounded growth: violated only by a clean fit
    rng = np.random.default_rng(0)
    for where in (k < 100, k > 200):  # noise early (the whole tail fits worse) or late (its last half does)
        q = base * np.exp(np.where(where, 0.05 * rng.standard_normal(k.size), 0.0))
        first = rate_check("r", k, q, exponent=1.0)
        r2 = min(first.extra["fit"]["r2"], first.extra["end_fit"]["r2"])
        assert r2 < 1.0
        check = rate_check("r", k, q, exponent=1.0, tol=Tolerances(r2=r2))
        assert check.verdict is Verdict.VIOLATED and check.extra["growth"] <= TOL.growth, check.detail


def test_an_end_slope_exactly_at_the_tolerance_edge_is_not_slower_than_claimed() -> None:
    n = np.array([1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0])
    q = n**-0.5 * (1.0 - n / 8192.0)  # steepens toward the end: the last half is faster than the whole tail
    t = tail_mask(n)
    idx = np.flatnonzero(t)
    edge = fit_slope(n[idx[-3:]], q[idx[-3:]]).slope
    check = rate_check("r", n, q, exponent=-edge, tol=Tolerances(slope=0.0))
    assert check.extra["end_fit"]["slope"] == edge and check.measured > edge
    assert check.verdict is not Verdict.VIOLATED, check.detail


def test_a_transient_whose_last_half_is_slow_but_whole_tail_is_not_is_no_violation() -> None:
    # the whole tail decays at about −0.9 (within TOL.slope of −1), its last half at −0.7 (slower)
    q = np.where(K < 600, K**-1.1, 600.0**-0.4 * K**-0.7)
    check = rate_check("r", K, q, exponent=1.0)
    assert -1.0 + TOL.slope > check.measured > -1.0 - TOL.slope and check.extra["end_fit"]["slope"] > -1.0 + TOL.slope
    assert check.verdict is Verdict.HOLDS, check.detail


def test_the_margin_is_the_slack_left_to_the_slope_tolerance() -> None:
    check = rate_check("r", K, K**-2.5, exponent=2.0)
    assert check.margin == pytest.approx(-2.0 + TOL.slope + 2.5, rel=1e-9) and check.predicted == -2.0


def test_faster_means_steeper_than_three_times_the_claimed_exponent() -> None:
    assert not rate_check("r", K, K**-2.5, exponent=2.0).extra["faster"]  # faster than claimed, not vacuously
    assert rate_check("r", K, K**-7.0, exponent=2.0).extra["faster"]  # steeper than −3·2: a power law only vacuously
    # exactly −3p: not steeper (scale sets round-off far below the series, so only the slope decides)
    slope = rate_check("r", K, K**-4.5, exponent=1.5, scale=1e-10).measured
    near = down = up = -slope / 3.0
    candidates = [near]
    for _ in range(8):  # a few ulps either side
        down, up = np.nextafter(down, 0.0), np.nextafter(up, np.inf)
        candidates += [down, up]
    exponent = next(p for p in candidates if -3.0 * p == slope)  # −3p equals the fitted slope bit for bit
    assert not rate_check("r", K, K**-4.5, exponent=exponent, scale=1e-10).extra["faster"]


def test_a_bounded_claim_and_a_growth_claim() -> None:
    assert rate_check("r", K, 2.0 + K**-1.0, exponent=0.0).verdict is Verdict.HOLDS  # q = O(1)
    # q = n^1.19 against a claimed O(n): the slope is within TOL.slope, but q/n grows like n^0.19,
    # ×3.6 over the tail's ×860: more than TOL.growth in n-units, so the check cannot say holds
    check = rate_check("r", WIDE, WIDE**1.19, exponent=-1.0)
    span = check.extra["fit"]["n_hi"] / check.extra["fit"]["n_lo"]
    assert check.extra["growth"] == pytest.approx(span**0.19, rel=1e-9)
    assert check.verdict is Verdict.INCONCLUSIVE, check.detail


def test_a_scaled_quantity_that_underflows_reports_unbounded_growth() -> None:
    n = np.geomspace(1e-250, 1e-200, 10)  # n² underflows to 0: q·n² is 0 at every point
    check = rate_check("r", n, 1.0 + n, exponent=2.0, whole=True)
    assert check.extra["growth"] == math.inf


def test_a_short_tail_by_exactly_the_span_tolerance() -> None:
    n = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    fit = rate_check("r", n, n**-1.0, exponent=1.0).extra["fit"]
    ratio = fit["n_hi"] / fit["n_lo"]
    span = ratio / (1 - 1e-9)
    while span * (1 - 1e-9) != ratio:  # the span tolerance whose slackened value is the tail's ratio exactly
        span = np.nextafter(span, np.inf if span * (1 - 1e-9) < ratio else 0.0)
    assert rate_check("r", n, n**-1.0, exponent=1.0, tol=Tolerances(min_span=span)).verdict is Verdict.HOLDS


# --- contraction checks --------------------------------------------------------------------------
def test_contraction_round_off_is_measured_from_the_first_error() -> None:
    k = np.arange(61.0)
    check = contraction_check("c", k, 0.5**k, predicted=0.5, what="dist")
    # round-off: 100 × roundoff_floor(1) = 2.2e-12, crossed between 0.5^38 = 3.6e-12 and 0.5^39 = 1.8e-12
    assert check.detail == "dist: measured factor 0.5 (R² 1, k ∈ [19, 38]) vs 1 − μ/L = 0.5"


def test_a_point_exactly_at_round_off_is_not_above_it() -> None:
    floor = roundoff_floor(1.0) * 1e2
    two = contraction_check("c", np.arange(3.0), np.array([1.0, 0.5, floor]), predicted=0.5)
    assert two.measured == pytest.approx(0.5, rel=1e-12)  # fitted on the two points above the floor
    k = np.arange(100.0)
    e = 0.9**k
    e[80] = floor  # a dip onto the floor inside the fitted half
    check = contraction_check("c", k, e, predicted=0.9)
    assert check.measured == pytest.approx(0.9, rel=1e-12) and check.extra["r2"] == pytest.approx(1.0)


def test_exactly_min_points_in_the_second_half_are_fitted_alone() -> None:
    e = np.array([1.0, 0.9, 0.5, 0.25, 0.125, 0.0, 0.0])  # last above round-off: k = 4; second half k ∈ [2, 4]
    check = contraction_check("c", np.arange(7.0), e, predicted=0.5, what="dist")
    assert check.measured == pytest.approx(0.5, rel=1e-12)
    assert check.detail == "dist: measured factor 0.5 (R² 1, k ∈ [2, 4]) vs 1 − μ/L = 0.5"


def test_contraction_r2_margin_and_detail() -> None:
    k = np.arange(100.0)
    e = 0.999**k * np.exp(0.01 * np.random.default_rng(2).standard_normal(k.size))  # log e varies by < 1
    check = contraction_check("c", k, e, predicted=0.5, what="dist")
    sel = k >= 49
    r2 = _r2(k[sel], np.log(e[sel]))
    assert check.extra["r2"] == pytest.approx(r2, rel=1e-9) and 0.0 < r2 < 0.9
    assert check.margin == pytest.approx(check.extra["allowed"] - check.measured, rel=1e-12)
    assert check.verdict is Verdict.INCONCLUSIVE  # slower than allowed, but the fit is not clean
    assert f"(R² {r2:.3g}, k ∈ [49, 99])" in check.detail
    flat = contraction_check("c", k, np.ones_like(k), predicted=0.5)  # no decay at all: a clean factor 1
    assert flat.measured == 1.0 and flat.extra["r2"] == 1.0 and flat.verdict is Verdict.VIOLATED


def test_contraction_factor_and_r2_exactly_at_their_tolerances() -> None:
    k = np.arange(50.0)
    e = 0.8**k
    factor = contraction_check("c", k, e, predicted=0.5).measured
    exact = contraction_check("c", k, e, predicted=factor, tol=Tolerances(contraction=0.0))
    assert exact.extra["allowed"] == factor and exact.verdict is Verdict.HOLDS
    noisy = 0.8**k * np.exp(0.05 * np.random.default_rng(3).standard_normal(k.size))
    r2 = contraction_check("c", k, noisy, predicted=0.5).extra["r2"]
    assert r2 < 1.0
    assert contraction_check("c", k, noisy, predicted=0.5, tol=Tolerances(r2=r2)).verdict is Verdict.VIOLATED
