"""The checker must be able to fail: cases built to break a claim come out "violated".

Each case is a textbook experiment (proofs_checks.calibration) or a claim's own measurement, with
one thing broken on purpose: a step above 2/L, a claimed rate faster than the method's, a bound
constant too small, a noisy instance checked against a deterministic rate. Unbroken, the same
experiments come out "holds" (test_calibration_cases_hold).
"""

from __future__ import annotations

import numpy as np
import pytest

from ofmu_theory.evaluator import Evaluator
from ofmu_theory.sampler import MiniBatch
from proofs_checks.calibration import convex_gd, gd, linear_rate, nonconvex_gd, objective
from proofs_checks.claim import CLAIMS
from proofs_checks.evidence import Verdict
from proofs_checks.instances import FULL, InstanceSpec, penalised_minimiser, upper_infimum
from proofs_checks.rates import geometric_grid, rate_check

RHO = 1.0


def _penalty_case(family: str = "least_squares_projection") -> dict:
    spec = InstanceSpec.of(family, seed=0, **({"m": 4, "d": 10, "cond": 3.0} if family == "least_squares_projection" else {}))
    inst, problem = spec.instance(), spec.problem()
    theta_rho = inst.penalised_solution(RHO)
    return {
        "problem": problem, "level": "penalty", "rho": RHO, "x_star": theta_rho,
        "f_star": Evaluator(problem).penalised_value(theta_rho, RHO, FULL),
        "L": inst.constants().penalised_smoothness(RHO, 0.0), "mu": inst.constants().mu_upper,
    }  # fmt: skip


def _nesterov(steps: int = 256) -> dict:
    spec = InstanceSpec.of("nesterov_quadratic", seed=0, d=2 * steps + 1)
    inst = spec.instance()
    return {"problem": spec.problem(), "x_star": inst.solution(), "f_star": inst.optimal_value(), "L": inst.L}


def _verdicts(checks) -> list[Verdict]:
    return [c.verdict for c in checks if c.primary]


# --- unbroken: holds ------------------------------------------------------------------------------
def test_calibration_cases_hold() -> None:
    c = _penalty_case()
    checks, _ = convex_gd(c["problem"], level="penalty", L=c["L"], x_star=c["x_star"], f_star=c["f_star"], steps=200, rho=RHO)
    lin, _ = linear_rate(c["problem"], level="penalty", L=c["L"], mu=c["mu"], steps=200, error="distance", x_star=c["x_star"], rho=RHO)
    n = _nesterov()
    nes, _ = convex_gd(n["problem"], level="upper", L=n["L"], x_star=n["x_star"], f_star=n["f_star"], steps=256)
    sc = InstanceSpec.of("shen_chen", seed=0)
    ncv, _ = nonconvex_gd(sc.problem(), level="upper", L=sc.instance().constants().L_upper, steps=256)
    assert set(_verdicts(checks + lin + nes + ncv)) == {Verdict.HOLDS}


# --- a step above 2/L ---------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [2.2, 3.0])
def test_step_above_two_over_L_is_violated(scale: float) -> None:
    c = _penalty_case()
    checks, _ = convex_gd(c["problem"], level="penalty", L=c["L"], x_star=c["x_star"], f_star=c["f_star"], steps=100,
                          rho=RHO, step_scale=scale)  # fmt: skip
    assert _verdicts(checks) == [Verdict.VIOLATED]
    lin, _ = linear_rate(c["problem"], level="penalty", L=c["L"], mu=c["mu"], steps=100, error="distance",
                         x_star=c["x_star"], rho=RHO, step_scale=scale)  # fmt: skip
    assert Verdict.VIOLATED in _verdicts(lin)


def test_step_above_two_over_L_gradient_bound_is_violated() -> None:
    # Nesterov's quadratic: L is tight (λ_max ≈ L), so 2.5/L makes GD diverge along the top eigenvector
    # (a loose family constant, e.g. matrix_factorisation's regional L_lower, would let 2.5/L pass).
    n = _nesterov()
    checks, _ = nonconvex_gd(n["problem"], level="upper", L=n["L"], steps=200, step_scale=2.5)
    assert _verdicts(checks) == [Verdict.VIOLATED]
    ok, _ = nonconvex_gd(n["problem"], level="upper", L=n["L"], steps=200)
    assert _verdicts(ok) == [Verdict.HOLDS]


# --- a claimed rate faster than the method's ----------------------------------------------------
def test_claimed_rate_faster_than_gd_is_violated() -> None:
    n = _nesterov()
    res = gd(n["problem"], level="upper", eta=1.0 / n["L"], steps=256)
    gap = np.array([objective(n["problem"], "upper", x) for x in res.iterates[1:]]) - n["f_star"]
    k = np.arange(1, 257)
    assert rate_check("gd_1_over_k2", k, gap, exponent=2.0).verdict is Verdict.VIOLATED


def test_claimed_penalty_rate_faster_than_true_is_violated() -> None:
    spec = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0)
    rhos = geometric_grid(1e-1, 1e4, 11)
    star = spec.instance().solution()
    dist = np.array([np.linalg.norm(penalised_minimiser(spec, r)[0] - star) for r in rhos])
    assert rate_check("dist", rhos, dist, exponent=1.0).verdict is Verdict.HOLDS
    assert rate_check("dist_claimed_1_over_rho2", rhos, dist, exponent=2.0).verdict is Verdict.VIOLATED


# --- a bound constant too small -----------------------------------------------------------------
def test_bound_constant_too_small_is_violated() -> None:
    c = _penalty_case()
    checks, _ = convex_gd(c["problem"], level="penalty", L=c["L"], x_star=c["x_star"], f_star=c["f_star"], steps=200,
                          rho=RHO, bound_scale=0.05)  # fmt: skip
    assert _verdicts(checks) == [Verdict.VIOLATED]
    sc = InstanceSpec.of("shen_chen", seed=0)
    ncv, _ = nonconvex_gd(sc.problem(), level="upper", L=sc.instance().constants().L_upper, steps=256, bound_scale=0.1)
    assert _verdicts(ncv) == [Verdict.VIOLATED]
    lin, _ = linear_rate(c["problem"], level="penalty", L=c["L"], mu=c["mu"], steps=200, error="distance",
                         x_star=c["x_star"], rho=RHO, factor_scale=0.5)  # fmt: skip
    assert _verdicts(lin) == [Verdict.VIOLATED, Verdict.VIOLATED]


def test_lemma1_with_a_constant_too_small_is_violated(tiny) -> None:
    from proofs_checks.rates import bound_check

    claim = CLAIMS.get("C1")()
    spec = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0)
    result = claim.check(spec, tiny)
    lemma = next(c for c in result.checks if c.name == "lemma1_bound")
    assert lemma.verdict is Verdict.HOLDS and 0 < lemma.measured < 1
    series = next(s for s in result.series if s.panel == "Lemma 1")
    constant = series.bound[0]
    assert bound_check("too_small", series.y, 0.5 * lemma.measured * constant).verdict is Verdict.VIOLATED


# --- a noisy instance checked against a deterministic rate --------------------------------------
def test_noisy_instance_against_a_deterministic_rate_is_violated() -> None:
    spec = InstanceSpec.of("logistic_forget", seed=0, n_r=30, n_f=4, d=8)
    problem, c = spec.problem(), spec.instance().constants()
    f_inf, _ = upper_infimum(spec)
    steps = 2048
    k = geometric_grid(1, steps, 25, integer=True)
    sampler = MiniBatch(n_lower=problem.lower.n_rows, n_upper=problem.upper.n_rows, batch_lower=None, batch_upper=1, seed=0)
    noisy = gd(problem, level="upper", eta=1.0 / c.L_upper, steps=steps, sampler=sampler)
    exact = gd(problem, level="upper", eta=1.0 / c.L_upper, steps=steps)
    gap = lambda res: np.array([objective(problem, "upper", res.iterates[i]) - f_inf for i in k])  # noqa: E731
    # the gap is a difference of values of size |f_inf|: that is its scale for the round-off level
    scale = abs(f_inf)
    # deterministic GD on this strongly convex L_r passes a 1/K check (it converges linearly to round-off) ...
    assert rate_check("gd", k, np.maximum(gap(exact), 0.0), exponent=1.0, scale=scale).verdict is Verdict.HOLDS
    # ... SGD with a constant step stalls at its noise floor and must fail it
    assert rate_check("sgd", k, np.maximum(gap(noisy), 0.0), exponent=1.0, scale=scale).verdict is Verdict.VIOLATED
