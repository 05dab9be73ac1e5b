"""Longer sweeps: the whole quick profile end to end, and the full profile's C2 sweep on least squares."""

from __future__ import annotations

import pytest

from proofs_checks import CLAIMS, verify
from proofs_checks.evidence import Verdict
from proofs_checks.instances import InstanceSpec
from proofs_checks.profiles import PROFILES

pytestmark = pytest.mark.slow


def test_quick_profile_end_to_end(tmp_path) -> None:
    from proofs_checks import write_report

    results = verify(profile="quick", seed=0)
    write_report(results, tmp_path)
    assert not results.checker_failed and all(c.passed for c in results.controls)
    report = (tmp_path / "REPORT.md").read_text()
    for section in ("## What we can say about OFMU", "## Controls", "## Verdicts per reading"):
        assert section in report
    assert not any(c.name == "error" for run in results.runs for r in run.results for c in r.checks)


def test_full_profile_c2_on_least_squares() -> None:
    # β = 0, no block: with T ≥ K the inner loop ends on S = {Aθ = b} and the outer step is a gradient step on the
    # strongly convex L_r followed by the projection back onto S, so θ̃_K → θ* (the mathematics fixes this verdict);
    # at fixed ρ, F_ρ(θ*) − F_ρ* > 0 (θ_ρ ≠ θ*), so the F_ρ gap at θ_K cannot vanish
    spec = InstanceSpec.of("least_squares_projection", seed=0, start="random")
    result = CLAIMS.get("C2")().check(spec, PROFILES.get("full"))
    verdicts = result.reading_verdicts()
    assert verdicts["dist@θ̃ [T=K]"] is Verdict.HOLDS and verdicts["lower@θ̃ [T=K]"] is Verdict.HOLDS
    assert verdicts["F_ρ gap@θ_K [T=K]"] is Verdict.VIOLATED
