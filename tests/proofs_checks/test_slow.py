"""Longer sweeps: the whole quick profile end to end, and the full profile's sweep on one family."""

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
    verdicts = {r.claim["id"]: r.verdict for r in results.runs}
    assert verdicts["C1"] is Verdict.HOLDS and verdicts["C6"] is Verdict.HOLDS  # the calibration layer
    assert verdicts["C2"] is Verdict.VIOLATED and verdicts["A1"] is Verdict.VIOLATED  # the findings
    assert verdicts["C4"] is Verdict.HOLDS
    assert not any(c.name == "error" for run in results.runs for r in run.results for c in r.checks)


@pytest.mark.parametrize("claim", ["C2", "C3"])
def test_full_profile_sweep_on_one_family(claim: str) -> None:
    family = "least_squares_projection" if claim == "C2" else "bome_toy"
    spec = InstanceSpec.of(family, seed=0)
    result = CLAIMS.get(claim)().check(spec, PROFILES.get("full"))
    assert result.verdict is Verdict.VIOLATED
