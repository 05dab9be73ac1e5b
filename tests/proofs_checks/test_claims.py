"""Each claim on its smallest problems (tiny profile): the verdicts and the numbers behind them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ofmu_theory.io import to_jsonable
from proofs_checks import CLAIMS
from proofs_checks.evidence import FamilyResult, Verdict
from proofs_checks.instances import InstanceSpec

LSQ = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0)
REQUIRED = ("id", "title", "statement", "latex", "source", "assumptions", "applies_to", "measured_quantity", "expected")


def run(claim: str, spec: InstanceSpec, profile) -> FamilyResult:
    result = CLAIMS.get(claim)().check(spec, profile)
    json.dumps(to_jsonable(result.to_dict()))  # every number serialises
    for check in result.checks:  # numbers, never a bare bool
        assert isinstance(check.measured, float) and isinstance(check.predicted, float) and isinstance(check.margin, float)
    return result


def check_named(result: FamilyResult, name: str):
    return next(c for c in result.checks if c.name == name)


def test_registry_lists_every_claim_with_its_record() -> None:
    assert CLAIMS.names() == sorted(["A1", "C1", "C2", "C3", "C4", "C5", "C6", "C7"])
    for name in CLAIMS.names():
        record = CLAIMS.get(name)().describe()
        assert all(record[k] for k in REQUIRED), name
    with pytest.raises(ValueError, match="valid claim names: A1, C1"):
        CLAIMS.get("C9")


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


def test_c2_convex_rate_is_violated_by_a_T_independent_floor(tiny) -> None:
    r = run("C2", LSQ, tiny)
    assert r.verdict is Verdict.VIOLATED
    assert check_named(r, "K_exponent_last").verdict is Verdict.VIOLATED
    assert check_named(r, "T_exponent_last").verdict is Verdict.VIOLATED
    assert check_named(r, "contraction").verdict is Verdict.HOLDS  # the strongly convex part holds
    note = next(n for n in r.notes if "fixed point" in n)
    predicted, measured = (float(x.split()[0].rstrip(")")) for x in note.split("floor ")[1].split("(measured "))
    assert predicted == pytest.approx(measured, rel=1e-2)


def test_c3_stationarity_floor_is_violated(tiny) -> None:
    r = run("C3", InstanceSpec.of("bome_toy", seed=0), tiny)
    assert r.verdict is Verdict.VIOLATED and check_named(r, "K_exponent").verdict is Verdict.VIOLATED


def test_c4_eq35_holds_and_never_vanishes(tiny) -> None:
    r = run("C4", LSQ, tiny)
    assert r.verdict is Verdict.HOLDS
    for beta in ("0", "0.1"):
        assert check_named(r, f"eq35_measured_beta={beta}").measured <= 1
        info = check_named(r, f"rhs_vanishes_beta={beta}")
        assert not info.primary and info.measured > 0


def test_c5_signed_and_squared_move_the_cosine_as_predicted(tiny) -> None:
    r = run("C5", LSQ, tiny)
    assert r.verdict is Verdict.HOLDS and r.setting["T_compared"] == 10
    assert check_named(r, "signed_toward_minus_one").measured < -0.5  # Sim = +1 at θ_0 (θ_0 minimises L_r − L_f)
    assert check_named(r, "squared_toward_zero").measured < -0.3
    assert check_named(r, "signed_value_long").measured < check_named(r, "squared_value_long").measured


def test_c5_is_inconclusive_when_beta0_reaches_the_solution_set(tiny) -> None:
    r = run("C5", InstanceSpec.of("hyper_cleaning", seed=0), tiny)
    assert r.verdict is Verdict.INCONCLUSIVE  # β = 0 ends with Sim ≈ 1e-16: nothing left to decorrelate


@pytest.mark.parametrize("variant", ["gd_convex_penalty", "gd_convex", "gd_nonconvex", "pl_linear"])
def test_c6_calibration_holds(tiny, variant: str) -> None:
    claim = CLAIMS.get("C6")()
    specs = [s for s in claim.instances(tiny, 0) if s.variant == variant]
    assert specs
    for spec in specs:
        assert claim.check(spec, tiny).verdict is Verdict.HOLDS, spec.label()


def test_c7_leaderboard_counts_calls(tiny) -> None:
    r = run("C7", InstanceSpec.of("logistic_forget", seed=0, n_r=30, n_f=4, d=8), tiny)
    board = r.setting["leaderboard"]
    assert len(board) == 8 and {row["solver"].split()[0] for row in board} >= {"ofmu", "blur", "projection"}
    reached = [row for row in board if row["reached"]]
    assert reached and all(row["calls"] > 0 for row in reached)
    assert [row["calls"] for row in reached] == sorted(row["calls"] for row in reached)
    assert r.verdict in (Verdict.HOLDS, Verdict.VIOLATED, Verdict.INCONCLUSIVE)


def test_a1_hessian_of_phi_beta_blows_up_near_the_solution_set(tiny) -> None:
    r = run("A1", LSQ, tiny)
    assert r.verdict is Verdict.VIOLATED
    slope = check_named(r, "hessian_bounded").measured
    assert slope == pytest.approx(2.0, abs=0.2)  # ‖∇²Φ_β‖ ∝ ‖∇L_f‖^(-2), the gradient like ‖∇L_f‖^(-1)
    assert check_named(r, "gradient_bounded").measured == pytest.approx(1.0, abs=0.2)
    assert check_named(r, "hessian_bounded_beta0").verdict is Verdict.HOLDS
    assert math.isfinite(slope) and np.isfinite(r.series[0].y).all()
