"""The rate-check primitives: they must say "holds" on true rates and "violated" on false ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs_checks.evidence import Verdict
from proofs_checks.rates import TOL, bound_check, contraction_check, fit_slope, geometric_grid, rate_check, vacuous

K = geometric_grid(1, 4096, 30, integer=True).astype(float)
constants = st.floats(min_value=1e-3, max_value=1e3)
noise = st.floats(min_value=0.0, max_value=0.05)
seeds = st.integers(0, 2**16)


def _noisy(q: np.ndarray, level: float, seed: int) -> np.ndarray:
    return q * (1.0 + level * np.random.default_rng(seed).uniform(-1, 1, q.shape))


def test_fit_slope_recovers_a_power_law() -> None:
    fit = fit_slope(K, 3.0 * K**-1.5)
    assert abs(fit.slope + 1.5) < 1e-12 and fit.r2 > 1 - 1e-12 and fit.n_points == len(K)


@given(c=constants, p=st.sampled_from([0.5, 1.0, 2.0]), level=noise, seed=seeds)
def test_true_rate_holds(c: float, p: float, level: float, seed: int) -> None:
    check = rate_check("r", K, _noisy(c * K**-p, level, seed), exponent=p)
    assert check.verdict is Verdict.HOLDS, check.detail


@given(c=constants, p=st.sampled_from([1.0, 2.0]), level=noise, seed=seeds)
def test_claimed_rate_faster_than_true_is_violated(c: float, p: float, level: float, seed: int) -> None:
    check = rate_check("r", K, _noisy(c * K ** -(p - 0.6), level, seed), exponent=p)
    assert check.verdict is Verdict.VIOLATED, check.detail
    assert check.margin < 0


@given(c=constants, floor=st.floats(1e-3, 1.0))
def test_a_plateau_violates_any_power_rate(c: float, floor: float) -> None:
    check = rate_check("r", K, c * (K**-1.0 + floor), exponent=1.0)
    assert check.verdict is Verdict.VIOLATED, check.detail


def test_roundoff_tail_holds_but_flags_vacuity() -> None:
    q = 0.5**K  # linear convergence reaches round-off inside the tail
    check = rate_check("r", K, q, exponent=1.0)
    assert check.verdict is Verdict.HOLDS and check.extra["faster"]
    assert vacuous(check, "strongly convex").verdict is Verdict.INCONCLUSIVE


def test_short_tail_is_inconclusive() -> None:
    n = np.array([1.0, 1.2, 1.5, 1.8, 2.0])
    assert rate_check("r", n, n**2.0, exponent=1.0).verdict is Verdict.INCONCLUSIVE


def test_divergence_is_violated() -> None:
    q = K**-1.0
    q[-3:] = np.inf
    assert rate_check("r", K, q, exponent=1.0).verdict is Verdict.VIOLATED


def test_bound_check_reports_the_worst_ratio() -> None:
    ok = bound_check("b", [1.0, 2.0, 3.0], [2.0, 2.0, 4.0])
    assert ok.verdict is Verdict.HOLDS and ok.measured == pytest.approx(1.0) and ok.margin == pytest.approx(0.0)
    bad = bound_check("b", [1.0, 2.0 * (1 + 10 * TOL.bound_rtol)], 2.0)
    assert bad.verdict is Verdict.VIOLATED and bad.extra["worst_index"] == 1


def test_bound_check_with_zero_bound() -> None:
    assert bound_check("b", [0.0, 0.0], 0.0).verdict is Verdict.HOLDS
    assert bound_check("b", [1e-9], 0.0).verdict is Verdict.VIOLATED


@given(q=st.floats(0.1, 0.99), seed=seeds)
def test_contraction_factor(q: float, seed: int) -> None:
    k = np.arange(200.0)
    e = _noisy(q**k, 1e-3, seed)
    assert contraction_check("c", k, e, predicted=q).verdict is Verdict.HOLDS
    slower = min(1.0 - 0.5 * (1.0 - q), 0.999)
    assert contraction_check("c", k, slower**k, predicted=q).verdict is Verdict.VIOLATED


def test_log_scatter_is_zero_on_monotone_series_and_half_the_swing_on_alternating_ones() -> None:
    from proofs_checks.rates import log_scatter

    assert log_scatter(K**-1.0) == 0.0 and log_scatter(1.0 + 0.0 * K) == 0.0
    swing = 0.8
    q = np.exp(swing * (np.arange(41) % 2))  # log q = 0, 0.8, 0, 0.8, ... (40 differences of ±0.8)
    assert log_scatter(q) == pytest.approx(swing / 2, rel=1e-12)


def test_non_finite_and_negative_series_are_told_apart() -> None:
    q = K**-1.0
    q[-3:] = np.inf
    diverged = rate_check("r", K, q, exponent=2.0)
    assert diverged.predicted == -2.0 and "diverged" in diverged.detail and diverged.extra["diverged"]
    q[-3:] = -1.0
    negative = rate_check("r", K, q, exponent=2.0)
    assert negative.verdict is Verdict.INCONCLUSIVE and negative.predicted == -2.0
    assert "negative values" in negative.detail and "diverged" not in negative.detail


def test_a_power_law_that_then_reaches_roundoff_holds_and_says_so() -> None:
    q = K**-2.0
    q[-4:] = 0.0  # the tail ends at round-off after enough points above it to fit a slope
    check = rate_check("r", K, q, exponent=1.0)
    assert check.verdict is Verdict.HOLDS and check.extra["roundoff"] and check.extra["faster"], check.detail
    assert "then reached round-off" in check.detail
    plain = rate_check("r", K, K**-2.0, exponent=1.0)
    assert not plain.extra["roundoff"] and "round-off" not in plain.detail


def test_a_noisy_tail_is_inconclusive_and_names_its_scatter() -> None:
    q = K**-1.0 * np.exp(np.random.default_rng(0).normal(0.0, 1.5, K.shape))
    check = rate_check("r", K, q, exponent=1.0)
    assert check.verdict is Verdict.INCONCLUSIVE and check.extra["scatter"] > TOL.scatter, check.detail
    assert "noise: log q scatters by" in check.detail
    assert "noise" not in rate_check("r", K, K**-1.0, exponent=1.0).detail


# --- the boundaries of the tolerances, and the words a verdict prints ---------------------------------
def test_geometric_grid_runs_from_lo_to_hi_with_a_constant_ratio() -> None:
    grid = geometric_grid(2.0, 2.0 * 3.0**4, 5)
    assert grid[0] == pytest.approx(2.0) and grid[-1] == pytest.approx(162.0)
    assert np.allclose(grid[1:] / grid[:-1], 3.0, rtol=1e-12)
    assert list(geometric_grid(1, 1000, 4, integer=True)) == [1, 10, 100, 1000]


def test_the_tail_starts_at_the_geometric_mean_up_to_round_off() -> None:
    from proofs_checks.rates import tail_mask

    mean = 10.0  # √(1·100)
    n = np.array([1.0, mean * (1 - 1e-12), 100.0])  # the middle point sits on √(n_min·n_max) up to round-off
    assert list(tail_mask(n)) == [False, True, True]
    assert list(tail_mask(np.array([1.0, mean * (1 - 1e-9), 100.0]))) == [False, False, True]


def test_a_flat_series_is_a_perfect_fit_of_slope_zero() -> None:
    fit = fit_slope(K, np.ones_like(K))  # log q ≡ 0: no variance to explain, nothing left unexplained
    assert fit.slope == pytest.approx(0.0, abs=1e-12) and fit.r2 == 1.0
    assert fit.n_lo == pytest.approx(1.0) and fit.n_hi == pytest.approx(4096.0)


def test_round_off_is_measured_from_the_first_value_and_the_tail_is_reported() -> None:
    from proofs_checks.rates import roundoff_floor, tail_mask

    q = 5.0 * K**-1.0
    check = rate_check("r", K, q, exponent=1.0)
    assert check.extra["floor"] == roundoff_floor(5.0) == rate_check("r", K, q, exponent=1.0, scale=5.0).extra["floor"]
    assert check.extra["tail_n"] == [float(K[tail_mask(K)][0]), 4096.0]


def test_a_plateau_on_exactly_min_points_tail_points_is_fitted_and_violated() -> None:
    n = np.array([1.0, 4.0, 16.0, 64.0, 256.0])  # tail n ≥ 16: exactly TOL.min_points = 3 points
    check = rate_check("r", n, np.ones_like(n), exponent=1.0)
    assert TOL.min_points == 3 and check.extra["fit"]["n_points"] == 3
    assert check.verdict is Verdict.VIOLATED, check.detail


def test_fewer_tail_points_than_min_points_and_no_round_off_is_inconclusive() -> None:
    n = np.array([1.0, 2.0, 4.0])  # tail n ≥ 2: two points, both far above round-off
    check = rate_check("r", n, n**-1.0, exponent=1.0, what="gap")
    assert check.verdict is Verdict.INCONCLUSIVE and not check.extra["roundoff"]
    assert check.detail == "gap: only 2 tail points above round-off"


def test_a_series_that_decays_onto_the_round_off_floor_exactly_has_reached_it() -> None:
    from proofs_checks.evidence import fmt
    from proofs_checks.rates import roundoff_floor

    floor = roundoff_floor(1.0)
    q = np.where(K < 8, K**-1.0, floor)  # from 1 down to the floor itself, which every tail point sits on
    check = rate_check("r", K, q, exponent=1.0, what="gap")
    assert check.verdict is Verdict.HOLDS and check.extra["roundoff"] and check.measured == -np.inf, check.detail
    assert check.detail == f"gap: the tail reached round-off (≤ {fmt(floor)}): faster than n^-1"


def test_a_series_at_round_off_from_its_first_point_says_there_is_no_decay() -> None:
    from proofs_checks.evidence import fmt
    from proofs_checks.rates import roundoff_floor

    floor = roundoff_floor(1.0)
    check = rate_check("r", K, np.full(K.shape, floor), exponent=1.0, scale=1.0, what="gap")
    assert check.verdict is Verdict.INCONCLUSIVE and not check.extra["roundoff"]
    assert check.detail == f"gap: at round-off (≤ {fmt(floor)}) at every point: no decay to measure"


def test_the_growth_of_the_scaled_quantity_is_measured_in_n_units() -> None:
    n = geometric_grid(1, 2**20, 40, integer=True).astype(float)
    # q = n^-1.81 against a claimed n^-2: the slope is within TOL.slope; q·n² grows like n^0.19, i.e.
    # ×(span)^0.19 ≈ 3.6 over the tail's ×860, which is ×(span)^(0.19/2) ≈ 1.9 in n-units: bounded
    check = rate_check("r", n, n**-1.81, exponent=2.0)
    span = check.extra["fit"]["n_hi"] / check.extra["fit"]["n_lo"]
    assert check.extra["growth"] == pytest.approx(span ** (0.19 / 2.0), rel=1e-9)
    assert check.verdict is Verdict.HOLDS, check.detail


def test_a_slope_exactly_at_the_tolerance_edge_is_not_slower_than_claimed() -> None:
    from proofs_checks.rates import Tolerances, tail_mask

    n = np.array([1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0])
    q = n**-0.5 + 1e-3  # flattens toward the end: the last half is slower than the whole tail
    t = tail_mask(n)
    edge = fit_slope(n[t], q[t]).slope
    # claim exactly the fitted rate with no slack: −exponent + slope equals the tail's slope bit for bit
    check = rate_check("r", n, q, exponent=-edge, tol=Tolerances(slope=0.0))
    assert check.measured == edge and check.extra["end_fit"]["slope"] > edge
    assert check.verdict is Verdict.HOLDS, check.detail


def test_a_short_tail_is_short_by_ratio_at_any_scale_and_a_tail_of_exactly_min_span_is_long_enough() -> None:
    far = np.array([100.0, 120.0, 150.0, 180.0, 200.0])  # tail [150, 200]: spans ×4/3 only, far from n = 1
    check = rate_check("r", far, far**2.0, exponent=1.0)
    assert check.verdict is Verdict.INCONCLUSIVE and check.detail.endswith("; tail spans only ×1.33 (< ×4)")
    n = np.array([1.0, 2.0, 4.0, 8.0, 16.0])  # tail [4, 16]: exactly TOL.min_span = 4
    exact = rate_check("r", n, n**-1.0, exponent=1.0)
    assert TOL.min_span == 4.0 and exact.verdict is Verdict.HOLDS and "spans only" not in exact.detail


def test_the_detail_line_of_a_fitted_tail() -> None:
    check = rate_check("r", K, K**-0.9123, exponent=1.0, what="gap")
    # slope −0.9123 in 3 digits; q·n grows like n^0.0877 over the tail [74, 4096]: ×55.4^0.0877 = ×1.42
    assert check.detail == (
        "gap: tail slope -0.912 (R² 1, 15 pts, n ∈ [74, 4096]; last 7 pts -0.912) vs claimed ≤ -1; "
        "q·n^1 grew ×1.42 in n-units (allowed ×3)"
    )
    assert check.verdict is Verdict.HOLDS and not check.extra["faster"]


def test_a_power_law_that_never_reaches_round_off_is_not_faster() -> None:
    check = rate_check("r", K, K**-1.5, exponent=1.0)
    assert check.verdict is Verdict.HOLDS and not check.extra["faster"] and not check.extra["roundoff"]
    assert vacuous(check, "strongly convex") is check


def test_a_contraction_series_that_blows_up_is_violated() -> None:
    k = np.arange(50.0)
    e = 0.5**k
    e[-5:] = np.inf
    check = contraction_check("c", k, e, predicted=0.5, what="dist")
    assert check.verdict is Verdict.VIOLATED and check.detail == "dist: diverged"
    reached_zero = contraction_check("c", k, np.where(k < 10, 0.5**k, 0.0), predicted=0.5)
    assert reached_zero.verdict is Verdict.HOLDS  # an exact 0 is convergence, not divergence


def test_two_points_above_round_off_give_a_contraction_factor() -> None:
    check = contraction_check("c", np.arange(3.0), np.array([1.0, 0.5, 0.0]), predicted=0.5)
    assert check.verdict is Verdict.HOLDS and check.measured == pytest.approx(0.5, rel=1e-12), check.detail
    one = contraction_check("c", np.arange(3.0), np.array([1.0, 0.0, 0.0]), predicted=0.5, what="dist")
    assert one.verdict is Verdict.INCONCLUSIVE and one.detail == "dist: too few points above round-off"


def test_the_contraction_factor_is_fitted_on_the_second_half_and_printed_in_six_digits() -> None:
    k = np.arange(200.0)
    rate = 0.987654321
    check = contraction_check("c", k, rate**k, predicted=rate, what="dist")
    assert check.detail == "dist: measured factor 0.987654 (R² 1, k ∈ [99, 199]) vs 1 − μ/L = 0.987654"
    # a slow transient over the first half does not count: the factor is the second half's
    e = np.where(k < 100, 0.999**k, 0.999**100 * 0.9 ** (k - 100))
    assert contraction_check("c", k, e, predicted=0.9).verdict is Verdict.HOLDS
