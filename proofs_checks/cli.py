"""``ofmu verify``: run the convergence claims and write a report folder.

``ofmu_cli/main.py`` imports this module and calls :func:`register`; ``python -m proofs_checks.cli
verify ...`` runs the same command without the rest of ``ofmu``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _verify(args: argparse.Namespace) -> int:
    from proofs_checks.claim import CLAIMS
    from proofs_checks.report import write_report
    from ofmu_theory.io import output_dir
    from proofs_checks.runner import resolve_claims, verify

    if args.list:
        import proofs_checks  # noqa: F401  (registers the claims)

        for name in resolve_claims(None):
            print(f"{name}: {CLAIMS.get(name).title}")
        return 0
    start = time.perf_counter()
    with output_dir(args.out, overwrite=args.overwrite) as staging:  # claimed before the claims run
        results = verify(
            args.claims, profile=args.profile, seed=args.seed, search=not args.no_search, progress=not args.quiet
        )
        written = write_report(results, staging)
    paths = {name: Path(args.out) / path.relative_to(staging) for name, path in written.items()}
    if results.checker_failed:
        bad = ", ".join(f"{c.name} ({c.got.value}, must be {c.expected.value})" for c in results.controls if not c.passed)
        print(f"ofmu verify: checker failed: control {bad}; no claim verdicts (see {paths['REPORT.md']})", file=sys.stderr)
        return 1
    width = max(len(r.claim["id"]) for r in results.runs)
    for run in results.runs:
        if run.claim.get("readings"):  # one verdict per reading, never one that mixes them
            print(f"{run.claim['id']:<{width}}  {'per reading':<12}  {run.claim['title']}")
            for reading, forms in _reading_counts(run).items():
                text = "; ".join(f"{form} form " + ", ".join(f"{v}: {n}" for v, n in counts.items())
                                 for form, counts in forms.items())
                print(f"{'':<{width}}    {reading}: {text}")
            continue
        counts = ", ".join(f"{v}: {n}" for v, n in _counts(run).items() if n)
        print(f"{run.claim['id']:<{width}}  {run.verdict.value:<12}  {run.claim['title']}  ({counts})")
    print(f"wrote {paths['REPORT.md']} and {len(paths) - 1} more files in {time.perf_counter() - start:.1f} s")
    errors = [r for run in results.runs for r in run.results if any(c.name == "error" for c in r.checks)]
    for r in errors:
        print(f"ofmu verify: warning: {r.claim} on {r.family}: {r.measured}", file=sys.stderr)
    return 0


def _reading_counts(run) -> dict[str, dict[str, dict[str, int]]]:
    """Per reading id and family form: how many families got each verdict (where the reading applies)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in sorted(run.results, key=lambda r: r.form):
        for reading, verdict in r.reading_verdicts().items():
            if reading:
                counts = out.setdefault(reading, {}).setdefault(r.form, {})
                counts[verdict.value] = counts.get(verdict.value, 0) + 1
    return out


def _counts(run) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in run.results:
        out[r.verdict.value] = out.get(r.verdict.value, 0) + 1
    return out


def _claims_help() -> str:
    import proofs_checks  # noqa: F401  (registers the claims)
    from ofmu_theory.clihelp import table
    from proofs_checks.claim import CLAIMS
    from proofs_checks.runner import resolve_claims

    return table("claims (--claims)", [(name, CLAIMS.get(name).title) for name in resolve_claims(None)])


def _profiles_help() -> str:
    from ofmu_theory.clihelp import choices
    from proofs_checks.profiles import PROFILES

    return choices("profiles (--profile)", PROFILES, default="quick")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``verify`` sub-command to the ``ofmu`` parser."""
    from ofmu_theory.clihelp import epilog

    p = subparsers.add_parser(
        "verify",
        help="run the controls and the convergence claims (C1–C7, A1, B1) on the synthetic families and write a report",
        description="Check every convergence claim of the OFMU paper on the synthetic families: first the controls "
                    "that prove the checker, then each claim as an experiment with a verdict (holds / violated / "
                    "inconclusive) and its evidence, written to a report folder (REPORT.md, figures, results.json).",
        epilog=epilog(_claims_help, _profiles_help),
    )
    p.add_argument("--claims", default=None, help="comma-separated claim ids, e.g. C1,C3 (listed below; default: all)")
    from proofs_checks.profiles import PROFILES

    p.add_argument("--profile", default="quick", choices=PROFILES.names(), help="how much work (listed below)")
    p.add_argument("--out", default="ofmu-report", help="report folder (default: ./ofmu-report)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished report folder")
    p.add_argument("--seed", type=int, default=0, help="instances are drawn with seeds seed, seed+1, ... (default 0)")
    p.add_argument("--no-search", action="store_true", help="skip the counterexample searches")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.set_defaults(func=_verify)


def main(argv: list[str] | None = None) -> int:
    """Run ``verify`` without the rest of the ``ofmu`` command (``python -m proofs_checks.cli verify``)."""
    from ofmu_theory.command import run_command  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="ofmu", description="OFMU convergence claims")
    register(parser.add_subparsers(dest="command", required=True))
    return run_command(parser, argv)

if __name__ == "__main__":
    sys.exit(main())
