"""Counterexample search: hypothesis looks for the smallest instance on which a claim is violated.

For a claim violated on an instance, :func:`find_counterexample` lets ``hypothesis.find`` draw
family parameters (small sizes, seeds) and shrink the first violating draw: integers toward their
lower bounds, floats toward simple values, seeds toward 0. Each candidate runs the claim's
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
from proofs_checks.instances import InstanceSpec
from proofs_checks.profiles import Profile

SEEDS = st.integers(min_value=0, max_value=2**16)
CONDS = st.floats(min_value=1.0, max_value=10.0, allow_nan=False, allow_infinity=False)


@st.composite
def _least_squares(draw: st.DrawFn) -> dict[str, Any]:
    m = draw(st.integers(1, 4))
    return {"m": m, "d": m + draw(st.integers(1, 4)), "cond": draw(CONDS), "seed": draw(SEEDS)}


@st.composite
def _wide(draw: st.DrawFn) -> dict[str, Any]:
    q = draw(st.integers(1, 3))
    return {"n": draw(st.integers(1, 3)), "q": q, "p": q + draw(st.integers(1, 3)), "cond": draw(CONDS), "seed": draw(SEEDS)}


@st.composite
def _matrix_factorisation(draw: st.DrawFn) -> dict[str, Any]:
    rank = draw(st.integers(1, 2))
    return {
        "m": draw(st.integers(rank, 4)), "n": draw(st.integers(rank, 4)), "rank": rank, "width": rank,
        "cond": draw(CONDS), "init_scale": draw(st.floats(0.1, 1.0)), "seed": draw(SEEDS),
    }  # fmt: skip


@st.composite
def _logistic(draw: st.DrawFn) -> dict[str, Any]:
    n_f = draw(st.integers(1, 3))
    return {"n_r": draw(st.integers(10, 30)), "n_f": n_f, "d": n_f + draw(st.integers(1, 4)), "seed": draw(SEEDS)}


STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "least_squares_projection": _least_squares(),
    "coupled_quadratic": st.fixed_dictionaries(
        {"n": st.integers(1, 3), "p": st.integers(1, 4), "cond": CONDS, "seed": SEEDS}
    ),
    "wide_quadratic": _wide(),
    "bome_toy": st.fixed_dictionaries({"init_scale": st.floats(0.1, 3.0), "seed": SEEDS}),
    "shen_chen": st.fixed_dictionaries({"seed": SEEDS}),
    "matrix_factorisation": _matrix_factorisation(),
    "logistic_forget": _logistic(),
    "l1_regression": st.fixed_dictionaries({"seed": SEEDS}),
}
"""Small parameters of each family (the knobs the search may shrink); families absent here are not searched."""


def searchable(claim: Claim, family: str) -> bool:
    """Whether a parameter search runs for this claim and family."""
    return family in STRATEGIES and claim.searchable(family)


def find_counterexample(claim: Claim, spec: InstanceSpec, profile: Profile) -> dict[str, Any]:
    """The smallest instance hypothesis finds violating ``claim``, or the violating instance itself.

    Returns a dict with the family, its parameters, how it was found and the runs spent.
    """
    own = {"family": spec.family, "variant": spec.variant, "params": spec.kwargs(), "start": spec.start}
    strategy = STRATEGIES.get(spec.family)
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
