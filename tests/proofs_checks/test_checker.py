"""The checker on series whose answer is known, and the bilevel readings on closed-form facts.

Nothing here asserts a verdict on a shipped family that the mathematics does not fix.
"""

from __future__ import annotations

import numpy as np
import pytest

from convex._common import pinv_rank
from proofs_checks.c3_nonconvex_stationarity import stationarity_outcome
from proofs_checks.controls import ControlResult, gd_nesterov, run_controls
from proofs_checks.evidence import Check, Verdict
from proofs_checks.instances import InstanceSpec, random_start
from proofs_checks.rates import geometric_grid, rate_check, reading_check
from proofs_checks.readings import BilevelReference, Reading, SweepData, bilevel_checks, k_sweep, theta_tilde

K = geometric_grid(1, 4096, 30, integer=True).astype(float)
LSQ = InstanceSpec.of("least_squares_projection", start="random", seed=0, m=4, d=10, cond=3.0)


# --- synthetic series with known answers -----------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_noise_at_1e_30_is_inconclusive(seed: int) -> None:
    q = 1e-30 * np.abs(np.random.default_rng(seed).standard_normal(K.size))
    # a quantity of scale 1 sitting at 1e-30: round-off from the first point, nothing decays
    assert rate_check("noise", K, q, exponent=1.0, scale=1.0).verdict is Verdict.INCONCLUSIVE
    # the same series taken at its own scale: it scatters, it does not decay, and it is no plateau either
    assert rate_check("noise", K, q, exponent=1.0).verdict is Verdict.INCONCLUSIVE


def test_gradient_descent_on_nesterov_holds_against_its_bound(tiny) -> None:
    k, gaps, bound, scale = gd_nesterov(tiny)
    check = reading_check("gd", k, gaps, exponent=1.0, bound=bound, scale=scale)
    assert check.verdict is Verdict.HOLDS and check.measured < 1
    # the slope alone is about −½ on this horizon (d = 2K + 1): a slope fit would say violated; the bound decides
    assert check.extra["slope"] > -0.7


@pytest.mark.parametrize("floor", [1e-3, 1e-2, 1.0])
def test_a_plateau_is_violated(floor: float) -> None:
    q = 3.0 * (K**-1.0 + floor)
    assert rate_check("plateau", K, q, exponent=1.0).verdict is Verdict.VIOLATED
    if floor >= 1e-2:  # (1/K + 10⁻³ stays under C/√K up to K = 4096: no violation of a √K rate on this grid)
        assert rate_check("plateau", K, q, exponent=0.5).verdict is Verdict.VIOLATED


def test_a_slower_power_law_is_violated_even_with_bounded_growth() -> None:
    k = np.arange(1.0, 257.0)
    assert rate_check("k^-2/3", k, k ** (-2.0 / 3.0), exponent=1.0).verdict is Verdict.VIOLATED


def test_k_over_t_squared_floor_under_t_of_k_holds() -> None:
    c1, c2 = 2.0, 5.0
    ks = k_sweep(256).astype(float)
    with_tk = c1 / ks + c2 * ks / ks**2  # T = T(K) = K
    assert rate_check("T=K", ks, with_tk, exponent=1.0).verdict is Verdict.HOLDS
    fixed_t = c1 / ks + c2 * ks / 8.0**2  # T fixed: the K/T² term grows, the same check must fail
    assert rate_check("T fixed", ks, fixed_t, exponent=1.0).verdict is Verdict.VIOLATED


def _sweep(floor_values: np.ndarray, ts: np.ndarray, k_floor: int) -> SweepData:
    ks = k_sweep(128).astype(float)
    c1 = 2.0
    return SweepData(
        ks=ks.astype(np.int64), tilde={"lower": c1 / ks}, outer={}, outer_iterates=np.zeros((ks.size, 1)), runs=(),
        k_floor=k_floor, ts=ts, floor={"lower": floor_values}, scales={"lower": 1.0},
    )  # fmt: skip


def test_floor_against_t_reading() -> None:
    ts = np.asarray([1, 2, 4, 8, 16, 32, 64], dtype=float)
    K = 256
    reading = (Reading(id="lower@θ̃ [floor vs T]", quantity="gap", point="tilde", design="floor", power=2.0),)
    ok = bilevel_checks(_sweep(2.0 / K + K / ts**2, ts, K), reading)
    assert [c.verdict for c in ok] == [Verdict.HOLDS]
    stuck = bilevel_checks(_sweep(2.0 / K + 0.3 + K / ts**2, ts, K), reading)  # a T-independent floor
    assert [c.verdict for c in stuck] == [Verdict.VIOLATED]


def test_exact_zero_holds_and_divergence_is_violated() -> None:
    assert rate_check("zero", K, np.zeros(K.size), exponent=1.0).verdict is Verdict.HOLDS
    q = 1.0 / K
    q[-4:] = np.inf
    assert rate_check("diverged", K, q, exponent=1.0).verdict is Verdict.VIOLATED


# --- spurious stationary points ----------------------------------------------------------------
def _stationary(verdict: Verdict) -> Check:
    return Check(name="g", kind="slope", measured=-2.0, predicted=-1.0, margin=1.0, verdict=verdict, reading="r")


def test_stationary_point_far_from_the_solution_set_is_spurious_never_a_pass() -> None:
    assert stationarity_outcome(_stationary(Verdict.HOLDS), 0.5, 0.5).verdict is Verdict.SPURIOUS
    assert stationarity_outcome(_stationary(Verdict.HOLDS), 1e-9, 0.5).verdict is Verdict.HOLDS
    assert stationarity_outcome(_stationary(Verdict.VIOLATED), 0.5, 0.5).verdict is Verdict.VIOLATED


def test_theta_zero_is_stationary_for_F_rho_on_matrix_factorisation() -> None:
    from proofs_checks.sweeps import penalised_at

    spec = InstanceSpec.of("matrix_factorisation", seed=0)
    zero = np.zeros(spec.problem().dim)
    # ∇L_f(0) = 0 and ∇L_r(0) = 0 (every term is a product of U and V): ∇F_ρ(0) = 0 whatever ρ
    assert penalised_at(spec, zero[None, :], 1.0, grad=True)[0] == pytest.approx(0.0, abs=1e-20)
    assert BilevelReference(spec).lower(zero) > 0.1  # but θ = 0 is far from the lower-level solution set


# --- closed-form facts of the bilevel readings ---------------------------------------------------
def test_bilevel_reading_on_least_squares_from_the_pseudo_inverse() -> None:
    family = LSQ.instance()
    A, b, c = family.A, family.b, family.c
    star = c + np.linalg.pinv(A) @ (b - A @ c)  # the projection of c onto {Aθ = b}
    ref = BilevelReference(LSQ)
    assert np.allclose(ref.theta_star, star, atol=1e-12)
    theta = np.random.default_rng(3).standard_normal(family.d)
    assert ref.dist(theta) == pytest.approx(np.linalg.norm(theta - star), rel=1e-12)
    assert ref.lower(theta) == pytest.approx(0.5 * np.sum((A @ theta - b) ** 2), rel=1e-9)  # min of ½‖Aθ − b‖² is 0
    assert ref.upper(theta) == pytest.approx(abs(0.5 * np.sum((theta - c) ** 2) - 0.5 * np.sum((star - c) ** 2)), rel=1e-12)
    assert ref.dist(star) == pytest.approx(0.0, abs=1e-12) and ref.lower(star) == pytest.approx(0.0, abs=1e-20)


def test_inner_loop_with_many_steps_is_the_projection_onto_the_solution_set() -> None:
    from ofmu_theory.solvers import SOLVERS
    from proofs_checks.sweeps import step_rules

    family = LSQ.instance()
    steps = step_rules(LSQ, 1.0)
    solver = SOLVERS.get("ofmu")(beta=0.0, sim="none", rho=1.0, inner_steps=2000, eta_in=steps.eta_in, eta_out=steps.eta_out)
    theta = np.random.default_rng(4).standard_normal(family.d)
    # ascent on −½‖Aθ − b‖² from θ stays in θ + row(A) and ends on {Aθ = b}: the orthogonal projection
    projection = theta + pinv_rank(family.A, family.rank) @ (family.b - family.A @ theta)
    assert np.allclose(theta_tilde(solver, LSQ, theta), projection, atol=1e-9)


def test_random_start_has_no_component_along_theta_star() -> None:
    family = LSQ.instance()
    theta0 = random_start(family, 0)
    star = family.solution()
    assert abs(theta0 @ star) <= 1e-12 * np.linalg.norm(theta0) * np.linalg.norm(star)
    assert np.linalg.norm(theta0) == pytest.approx(np.linalg.norm(family.theta0()))
    assert np.array_equal(LSQ.problem().theta0, theta0) and LSQ.record()["start"] == "random"
    with pytest.raises(ValueError, match="start must be one of"):
        InstanceSpec.of("least_squares_projection", start="warm")


# --- the controls ---------------------------------------------------------------------------------
def test_controls_come_out_as_they_must(tiny) -> None:
    controls = run_controls(tiny)
    assert {c.kind for c in controls} == {"positive", "negative"}
    for c in controls:
        assert c.passed, (c.name, c.got, [ch.detail for ch in c.checks])


def test_a_failed_control_means_checker_failed_and_no_verdicts(tiny, monkeypatch, tmp_path) -> None:
    import proofs_checks.runner as runner
    from proofs_checks import write_report

    broken = ControlResult(name="broken", kind="negative", description="a negative control that holds",
                           checks=(_stationary(Verdict.HOLDS),))  # fmt: skip
    monkeypatch.setattr(runner, "run_controls", lambda profile: (broken,))
    results = runner.verify("C1", profile=tiny, seed=0, search=False)
    assert results.checker_failed and results.runs == ()
    write_report(results, tmp_path)
    report = (tmp_path / "REPORT.md").read_text()
    assert "## Checker failed" in report and "no claim verdicts" in report and "## C1" not in report
