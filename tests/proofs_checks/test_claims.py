"""Each claim on its smallest problems (tiny profile): the verdicts and the numbers behind them."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest

from ofmu_theory.io import to_jsonable
from proofs_checks import CLAIMS
from proofs_checks.evidence import FamilyResult, Verdict
from proofs_checks.instances import InstanceSpec

LSQ = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0)
LSQ_RANDOM = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0, start="random")
REQUIRED = ("id", "title", "statement", "latex", "source", "assumptions", "applies_to", "measured_quantity", "expected")


@functools.lru_cache(maxsize=None)
def run(claim: str, spec: InstanceSpec, profile) -> FamilyResult:
    """The claim's result on ``spec`` (memoised: a claim's example runs once for the generic and its own test)."""
    result = CLAIMS.get(claim)().check(spec, profile)
    json.dumps(to_jsonable(result.to_dict()))  # every number serialises
    for check in result.checks:  # numbers, never a bare bool
        assert isinstance(check.measured, float) and isinstance(check.predicted, float) and isinstance(check.margin, float)
    return result


def check_named(result: FamilyResult, name: str):
    return next(c for c in result.checks if c.name == name)


def test_unknown_claim_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=f"valid claim names: {', '.join(CLAIMS.names())}"):
        CLAIMS.get("no such claim")


@pytest.mark.parametrize("name", CLAIMS.names())
def test_every_claim_has_its_record_and_reports_numbers_on_its_example(name: str, tiny) -> None:
    claim = CLAIMS.get(name)()
    assert claim.id == name
    record = claim.describe()
    assert all(record[k] for k in REQUIRED), [k for k in REQUIRED if not record[k]]
    specs = claim.instances(tiny, 0)
    assert specs and all(isinstance(s, InstanceSpec) for s in specs)
    assert isinstance(claim.example, InstanceSpec), f"claim {name} declares no example instance"
    result = run(name, claim.example, tiny)  # numbers, never a bare bool; serialisable
    assert isinstance(result.verdict, Verdict) and result.checks


def test_c1_lemma1_and_error_bound_rates_hold(tiny) -> None:
    r = run("C1", LSQ, tiny)
    assert r.verdict is Verdict.HOLDS
    assert check_named(r, "lemma1_bound").measured < 1
    assert check_named(r, "distance_rate").measured == pytest.approx(-1.0, abs=0.1)
    assert check_named(r, "gap_rate").measured == pytest.approx(-2.0, abs=0.2)
    assert r.setting["rho_grid"][-1] / r.setting["rho_grid"][0] >= 1e4  # at least 4 decades


def test_c1_exact_penalty_and_not_applicable(tiny) -> None:
    assert run("C1", InstanceSpec.of("bome_toy", seed=0), tiny).verdict is Verdict.HOLDS  # θ_ρ = θ*: all zero
    na = run("C1", InstanceSpec.of("l1_regression", seed=0), tiny)
    assert na.verdict is Verdict.NOT_APPLICABLE and "L1Ball" in na.notes[0]


def test_c2_reports_a_verdict_per_reading_with_F_rho_beside_its_floor(tiny) -> None:
    r = run("C2", LSQ_RANDOM, tiny)
    verdicts = r.reading_verdicts()
    assert set(verdicts) == {x.id for x in CLAIMS.get("C2").readings}  # least squares has every quantity
    assert r.form == "unlearning" and r.params["start"] == "random"
    assert set(r.headline) == {x.id for x in CLAIMS.get("C2").readings if x.role == "primary"}
    # F_ρ(θ*) − F_ρ* > 0 at fixed ρ (θ_ρ ≠ θ* on this instance): printed beside the measured floor
    assert r.setting["F_at_theta_star_gap"] > 0 and "F_ρ(θ*) − F_ρ*" in check_named(r, "F_ρ gap@θ_K [T=K]").detail


def test_c3_reports_primary_readings_and_the_stationarity_outcome(tiny) -> None:
    r = run("C3", InstanceSpec.of("bome_toy", seed=0, start="random"), tiny)
    assert r.form == "classical"
    assert "lower@θ̃ [T=K]" in r.reading_verdicts() and "‖∇F_ρ‖²@θ_k [T=K]" in r.reading_verdicts()
    assert "lower gap" in " ".join(s.label for s in r.series)


def test_b1_applies_to_the_classical_form_only(tiny) -> None:
    na = run("B1", LSQ_RANDOM, tiny)
    assert na.verdict is Verdict.NOT_APPLICABLE and "unlearning form" in na.notes[0]
    r = run("B1", InstanceSpec.of("coupled_quadratic", seed=0, start="random"), tiny)
    assert {c.name for c in r.checks} >= {"penalty_x_gradient_vanishes", "alternating_fixed_point", "true_hypergradient"}


def test_c4_eq35_holds_and_never_vanishes(tiny) -> None:
    r = run("C4", LSQ, tiny)
    assert r.verdict is Verdict.HOLDS
    for beta in ("0", "0.1"):
        assert check_named(r, f"eq35_measured_beta={beta}").measured <= 1
        info = check_named(r, f"rhs_vanishes_beta={beta}")
        assert not info.primary and info.measured > 0


def test_c5_reports_both_similarity_variants(tiny) -> None:
    r = run("C5", LSQ, tiny)
    assert {c.name for c in r.checks} >= {"signed_toward_minus_one", "squared_toward_zero"}


@pytest.mark.parametrize("variant", ["gd_convex_penalty", "gd_convex", "gd_nonconvex", "pl_linear"])
def test_c6_calibration_holds(tiny, variant: str) -> None:
    claim = CLAIMS.get("C6")()
    specs = [s for s in claim.instances(tiny, 0) if s.variant == variant]
    assert specs
    for spec in specs:
        assert claim.check(spec, tiny).verdict is Verdict.HOLDS, spec.label()


def test_c7_leaderboard_same_budget_both_points(tiny) -> None:
    r = run("C7", InstanceSpec.of("logistic_forget", seed=0, n_r=30, n_f=4, d=8, start="random"), tiny)
    board = r.setting["leaderboard"]
    assert len(board) == 8 and {row["solver"].split()[0] for row in board} >= {"ofmu", "blur", "projection"}
    assert {row["budget"] for row in board} == {r.setting["budget_calls"]}  # one budget for every solver
    for row in board:
        assert row["step"]  # every solver went through the same step-rule selection
        if row["reached"]:
            assert 0 < row["calls"] <= row["budget"] + 1000  # the step that crossed the budget may overshoot it
    assert set(r.reading_verdicts()) == {"ε@θ̃ (inner calls charged)", "ε@θ_k"}


def test_a1_hessian_of_phi_beta_blows_up_near_the_solution_set(tiny) -> None:
    r = run("A1", LSQ, tiny)
    assert r.verdict is Verdict.VIOLATED
    slope = check_named(r, "hessian_bounded").measured
    assert slope == pytest.approx(2.0, abs=0.2)  # ‖∇²Φ_β‖ ∝ ‖∇L_f‖^(-2), the gradient like ‖∇L_f‖^(-1)
    assert check_named(r, "gradient_bounded").measured == pytest.approx(1.0, abs=0.2)
    assert check_named(r, "hessian_bounded_beta0").verdict is Verdict.HOLDS
    assert math.isfinite(slope) and np.isfinite(r.series[0].y).all()
