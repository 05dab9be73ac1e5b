"""Executable convergence claims for OFMU (arXiv 2509.22483) on the synthetic families.

Each claim is a registered object (:data:`CLAIMS`) that runs an experiment and reports numbers —
measured, predicted, margin, verdict. ``ofmu verify`` (:mod:`proofs_checks.cli`) runs them and
writes a report; :func:`verify` does the same from Python.
"""

from proofs_checks.claim import CLAIMS, Claim
from proofs_checks import calibration  # noqa: F401  (registers the built-in calibration instance)
from proofs_checks import c1_penalty_exactness, c2_convex_rate, c3_nonconvex_stationarity, c4_eq35_bound, c5_decorrelation, c6_calibration, c7_leaderboard, a1_phi_smoothness, b1_block_alternation  # noqa: F401  (registers the claims)

from proofs_checks.runner import VerifyResults, verify
from proofs_checks.report import write_report

__all__ = ["CLAIMS", "Claim", "VerifyResults", "verify", "write_report"]
