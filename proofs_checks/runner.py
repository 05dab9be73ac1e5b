"""Run the claims: :func:`verify` returns every number; :func:`write_report` writes the report folder.

``verify`` first runs the checker's controls (:mod:`proofs_checks.controls`); if one fails it runs
no claim. Otherwise it runs each selected claim on each of its instances (a progress bar on stderr), searches
a counterexample where a claim is violated, and returns a :class:`VerifyResults`. Results depend
only on the claims, the profile and the seed; wall times live in a separate ``timing`` block.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ofmu_theory.runinfo import progress as progress_bar
from ofmu_theory.runinfo import run_metadata
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.controls import run_controls
from proofs_checks.evidence import Check, FamilyResult, Verdict, combine
from proofs_checks.profiles import PROFILES, Profile
from proofs_checks.rates import TOL
from proofs_checks.search import find_counterexample, searchable

SCHEMA = 1


@dataclass(frozen=True, kw_only=True)
class ClaimRun:
    """One claim's record and its results on every instance."""

    claim: dict[str, Any]
    results: tuple[FamilyResult, ...]

    @property
    def verdict(self) -> Verdict:
        return combine([r.verdict for r in self.results])

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.claim,
            "verdict": self.verdict.value,
            "verdicts": {_label(r): r.verdict.value for r in self.results},
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True, kw_only=True)
class VerifyResults:
    """Everything ``ofmu verify`` measured.

    Attributes:
        profile: the profile used.
        seed: the seed instances are drawn from.
        runs: one :class:`ClaimRun` per claim, in the order asked.
        metadata: ``run_metadata`` (seed, resolved config, versions, devices, argv).
        timing: wall seconds per claim and instance (varies between runs; kept apart).
        controls: the checker's controls (:mod:`proofs_checks.controls`), run before the claims;
            when one fails no claim runs (``runs`` is empty).
    """

    profile: Profile
    seed: int
    runs: tuple[ClaimRun, ...]
    metadata: dict[str, Any]
    timing: dict[str, Any] = field(default_factory=dict)
    controls: tuple[Any, ...] = ()

    @property
    def checker_failed(self) -> bool:
        """A control did not come out as it must: the claims' verdicts mean nothing."""
        return any(not c.passed for c in self.controls)

    def run(self, claim_id: str) -> ClaimRun:
        for r in self.runs:
            if r.claim["id"] == claim_id:
                return r
        raise ValueError(f"claim {claim_id!r} was not run; ran {', '.join(r.claim['id'] for r in self.runs)}")

    def to_dict(self) -> dict[str, Any]:
        """The content of results.json (``timing`` last, the only part that differs between identical runs)."""
        return {
            "schema": SCHEMA,
            "profile": self.profile.to_dict(),
            "seed": self.seed,
            "tolerances": TOL.to_dict(),
            "checker_failed": self.checker_failed,
            "controls": [c.to_dict() for c in self.controls],
            "summary": {r.claim["id"]: r.verdict.value for r in self.runs},
            "claims": [r.to_dict() for r in self.runs],
            "metadata": self.metadata,
            "timing": self.timing,
        }


def failed(claim: str, spec: Any, err: Exception) -> FamilyResult:
    """An experiment that raised: inconclusive, with the error in its evidence (never silent)."""
    message = f"{type(err).__name__}: {err}"
    check = Check(
        name="error", kind="info", measured=math.nan, predicted=math.nan, margin=math.nan,
        verdict=Verdict.INCONCLUSIVE, detail=f"the experiment raised {message}",
    )  # fmt: skip
    return FamilyResult(
        claim=claim, family=spec.label(), params=spec.kwargs(), setting={}, expected="—",
        measured=f"error: {message}", checks=(check,), notes=(f"the experiment raised {message}",),
    )  # fmt: skip


def _label(result: FamilyResult) -> str:
    seed = result.params.get("seed")
    return f"{result.family} (seed {seed})" if seed is not None else result.family


def resolve_claims(claims: Sequence[str] | str | None) -> list[str]:
    """Claim ids from a list or "C1,C3" (case-insensitive); all registered claims when None."""
    if claims is None:
        return _ordered(CLAIMS.names())
    if isinstance(claims, str):
        claims = [c for c in claims.split(",") if c.strip()]
    out = []
    for c in claims:
        key = c.strip().upper()
        CLAIMS.get(key)  # raises with the valid names
        if key not in out:
            out.append(key)
    if not out:
        raise ValueError(f"no claims selected; valid claim names: {', '.join(_ordered(CLAIMS.names()))}")
    return out


def _ordered(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (n[0] != "C", n))


@contextlib.contextmanager
def _single_threaded() -> Iterator[None]:
    """One BLAS thread: the problems are tiny, and threads only add overhead and run-to-run jitter."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(1):
        yield


def verify(
    claims: Sequence[str] | str | None = None,
    *,
    profile: str | Profile = "quick",
    seed: int = 0,
    search: bool = True,
    progress: bool = False,
) -> VerifyResults:
    """Run the claims and return every number.

    Args:
        claims: claim ids ("C1", ...) or "C1,C3"; ``None`` runs every registered claim.
        profile: "quick" (≤ 3 min on 2 cores), "full", or a :class:`Profile`.
        seed: instances are drawn with seeds ``seed``, ``seed + 1``, ...
        search: search a (small) counterexample where a claim is violated.
        progress: show a progress bar on stderr.

    Raises:
        ValueError: an unknown claim or profile name.
    """
    ids = resolve_claims(claims)
    prof = PROFILES.get(profile) if isinstance(profile, str) else profile
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed=}")
    start = time.perf_counter()
    with _single_threaded():
        controls = run_controls(prof)
        objs: list[Claim] = [CLAIMS.get(i)() for i in ids]
        failed_control = any(not c.passed for c in controls)
        tasks = [] if failed_control else [(obj, spec) for obj in objs for spec in obj.instances(prof, seed)]
        results: dict[str, list[FamilyResult]] = {i: [] for i in ids}
        timing: dict[str, Any] = {"claims": {i: {"wall_s": 0.0, "instances": {}} for i in ids}}
        searched: dict[str, int] = {i: 0 for i in ids}
        for obj, spec in progress_bar(tasks, desc="ofmu verify", total=len(tasks), enabled=progress):
            t0 = time.perf_counter()
            try:
                result = obj.check(spec, prof)
            except Exception as err:  # a family that changed under us must not sink the whole report
                result = failed(obj.id, spec, err)
            if result.verdict is Verdict.VIOLATED and search:
                if searched[obj.id] < prof.search_per_claim or not searchable(obj, spec.family):
                    searched[obj.id] += int(searchable(obj, spec.family))
                    result = result.with_counterexample(find_counterexample(obj, spec, prof))
                else:
                    result = result.with_counterexample({
                        "family": spec.family, "variant": spec.variant, "params": spec.kwargs(), "start": spec.start,
                        "runs": 0,
                        "found_by": f"the reported instance (the {prof.name} profile searches {prof.search_per_claim} family per claim)",
                    })  # fmt: skip
            results[obj.id].append(result)
            dt = time.perf_counter() - t0
            timing["claims"][obj.id]["wall_s"] += dt
            timing["claims"][obj.id]["instances"][_label(result)] = dt
    timing["total_s"] = time.perf_counter() - start
    runs = () if failed_control else tuple(ClaimRun(claim=obj.describe(), results=tuple(results[obj.id])) for obj in objs)
    config = {"claims": ids, "profile": prof.name, "search": search}
    return VerifyResults(profile=prof, seed=seed, runs=runs, metadata=run_metadata(seed=seed, config=config),
                         timing=timing, controls=controls)  # fmt: skip
