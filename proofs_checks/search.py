"""Counterexample search: hypothesis looks for the smallest instance on which a claim is violated.

For a claim violated on an instance, :func:`find_counterexample` lets ``hypothesis.find`` draw
family parameters (small sizes, seeds: the family's own ``search_params()``; a family without it is
not searched) and shrink the first violating draw: integers toward their lower bounds, floats toward simple values, seeds toward 0. Each candidate runs the claim's
experiment with the profile's smaller search settings, so the search spends at most
``profile.search_calls`` experiment runs (later candidates are refused without running);
hypothesis is derandomised and has no example database, so the same seed finds the same example.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from proofs_checks.claim import Claim
from proofs_checks.instances import InstanceSpec, family_class
from proofs_checks.profiles import Profile


def strategy_of(family: str) -> st.SearchStrategy[dict[str, Any]] | None:
    """The family's ``search_params()`` strategy (the knobs and seed the search may shrink); None: not searched."""
    search_params = getattr(family_class(family), "search_params", None)
    return None if search_params is None else search_params()


def searchable(claim: Claim, family: str) -> bool:
    """Whether a parameter search runs for this claim and family."""
    return strategy_of(family) is not None and claim.searchable(family)


def find_counterexample(claim: Claim, spec: InstanceSpec, profile: Profile) -> dict[str, Any]:
    """The smallest instance hypothesis finds violating ``claim``, or the violating instance itself.

    Returns a dict with the family, its parameters, how it was found and the runs spent.
    """
    own = {"family": spec.family, "variant": spec.variant, "params": spec.kwargs(), "start": spec.start}
    strategy = strategy_of(spec.family)
    if strategy is None or not searchable(claim, spec.family) or profile.search_calls < 1:
        return {**own, "found_by": "the reported instance (no parameter search for this claim and family)", "runs": 0}
    runs = 0
    seen: dict[tuple[tuple[str, Any], ...], bool] = {}

    def violated(params: dict[str, Any]) -> bool:
        # memoised, so hypothesis' replay of its final example sees the same answer (and costs nothing)
        nonlocal runs
        key = tuple(sorted(params.items()))
        if key not in seen:
            if runs >= profile.search_calls:
                return False
            runs += 1
            seen[key] = claim.violates(spec.with_params(**params), profile)
        return seen[key]

    config = settings(
        derandomize=True, database=None, deadline=None, max_examples=max(profile.search_calls, 1),
        phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    try:
        params = find(strategy, violated, settings=config)
    except NoSuchExample:
        return {
            **own, "runs": runs,
            "found_by": f"the reported instance (a hypothesis search of {runs} runs found no other violating draw)",
        }  # fmt: skip
    return {
        "family": spec.family, "variant": spec.variant, "params": dict(sorted(params.items())), "start": spec.start,
        "runs": runs,
        "found_by": (f"hypothesis search over family parameters and seeds, shrunk ({runs} experiment "
                     f"run{'s' if runs != 1 else ''} with the search settings)"),
    }  # fmt: skip
