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
