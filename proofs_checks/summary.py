""""What we can say about OFMU": sentences generated from the verdicts, per reading and per family form.

Every sentence is computed from a :class:`~proofs_checks.runner.VerifyResults` — counts of verdicts,
family names, measured numbers — so the section changes when the verdicts do; nothing is typed in.
"""

from __future__ import annotations

from typing import Any

from proofs_checks.evidence import FamilyResult, Verdict, fmt

FORMS = ("unlearning", "classical")


def tally(results: list[FamilyResult], reading: str) -> dict[Verdict, list[str]]:
    """Families by the verdict of ``reading`` (results without the reading are left out)."""
    out: dict[Verdict, list[str]] = {}
    for r in results:
        v = r.reading_verdicts().get(reading)
        if v is not None and v is not Verdict.NOT_APPLICABLE:
            out.setdefault(v, []).append(r.family)
    return out


def ratio(t: dict[Verdict, list[str]], verdict: Verdict = Verdict.HOLDS) -> str:
    """"a/b" of ``verdict`` among the families counted in ``t``."""
    total = sum(len(v) for v in t.values())
    return f"{len(t.get(verdict, []))}/{total}"


def _others(t: dict[Verdict, list[str]], but: Verdict = Verdict.HOLDS) -> str:
    parts = [f"{v.value}: {', '.join(names)}" for v, names in t.items() if v is not but and names]
    return f" ({'; '.join(parts)})" if parts else ""


def _names(names: list[str]) -> str:
    return ", ".join(sorted(set(names))) if names else "none"


def _by_form(run: Any, form: str) -> list[FamilyResult]:
    return [r for r in run.results if r.form == form and r.verdict is not Verdict.NOT_APPLICABLE]


def _run(results: Any, claim: str) -> Any:
    for run in results.runs:
        if run.claim["id"] == claim:
            return run
    return None


def _check(r: FamilyResult, name: str) -> Any:
    return next((c for c in r.checks if c.name == name), None)


def sentences(results: Any) -> list[str]:
    """5–10 plain sentences from the verdicts."""
    out: list[str] = []
    controls = results.controls
    if controls:
        pos = [c.name for c in controls if c.kind == "positive"]
        neg = [c.name for c in controls if c.kind == "negative"]
        out.append(
            f"The checker passed its {len(controls)} controls: the textbook methods ({', '.join(pos)}) hold against "
            f"their classical bounds and the method slowed on purpose ({', '.join(neg)}) comes out violated, so the "
            "verdicts below come from the instances, not from the checker."
        )
    for claim_id, sentences in (("C2", _c2_sentences), ("B1", _b1_sentences), ("C3", _c3_sentences),
                                ("C7", _c7_sentences)):
        run = _run(results, claim_id)
        if run is not None:
            out += sentences(run)
    rest = [run for run in results.runs if not run.claim.get("readings") and run.claim["id"] not in ("B1",)]
    if rest:
        parts = [f"{run.claim['id']} ({run.claim['title']}) {_claim_word(run)}" for run in rest]
        out.append("Of the claims read on one quantity: " + "; ".join(parts) + ".")
    return out


def _claim_word(run: Any) -> str:
    counts: dict[str, int] = {}
    for r in run.results:
        if r.verdict is not Verdict.NOT_APPLICABLE:
            counts[r.verdict.value] = counts.get(r.verdict.value, 0) + 1
    total = sum(counts.values())
    return ", ".join(f"{v} on {n}/{total}" for v, n in sorted(counts.items())) if total else "not applicable"


def _c2_sentences(run: Any) -> list[str]:
    out = []
    unl = _by_form(run, "unlearning")
    if unl:
        parts, slopes = [], []
        for key, words in (("dist", "distance to θ*"), ("lower", "lower-level gap"), ("upper", "upper-level gap")):
            t = tally(unl, f"{key}@θ̃ [T=K]")
            if t:
                parts.append(f"{words} {ratio(t)}{_others(t)}")
        for r in unl:
            c = _check(r, "dist@θ̃ [T=K]")
            if c is not None:
                slopes.append(f"{r.family} {fmt(c.measured, 3) if c.measured > -1e300 else 'to round-off'}")
        held = all(v is Verdict.HOLDS for r in unl for k, v in r.reading_verdicts().items() if "@θ̃ [T=K]" in k)
        out.append(
            f"On the unlearning-form convex families ({_names([r.family for r in unl])}), OFMU with β = 0 from random "
            f"starts and T = K inner steps {'drives' if held else 'does not always drive'} the bilevel quantities at "
            f"the inner result θ̃_K to zero: the T = K readings (gaps O(1/K), distance O(1/√K)) hold for the "
            f"{'; '.join(parts)}"
            + (f"; the distance's tail slopes against K are {', '.join(slopes)}." if slopes else ".")
        )
        t_out = tally(unl, "dist@θ_K [T=K]")
        t_f = tally(unl, "F_ρ gap@θ_K [T=K]")
        if t_out or t_f:
            floors = []
            for r in unl:
                at_star, floor = r.setting.get("F_at_theta_star_gap"), r.setting.get("F_gap_floor")
                if at_star is not None and floor is not None:
                    floors.append(f"{r.family}: floor {fmt(floor)} beside F_ρ(θ*) − F_ρ* = {fmt(at_star)}")
            out.append(
                f"Read at the outer iterate θ_K instead, the distance to θ* holds on {ratio(t_out)} and the penalised "
                f"gap F_ρ(θ_K) − F_ρ* on {ratio(t_f)} of them: OFMU does not minimise F_ρ at fixed ρ — its outer step "
                "leaves the solution set and the gap stays near the offset between θ* and θ_ρ"
                + (f" ({'; '.join(floors)})." if floors else ".")
            )
    cls = _by_form(run, "classical")
    if cls:
        t = tally(cls, "dist@θ̃ [T=K]")
        out.append(
            f"On the classical-form convex families ({_names([r.family for r in cls])}) the distance to θ* at θ̃ holds "
            f"on {ratio(t)}{_others(t)}; this is the block behaviour of B1, not a rate."
        )
    return out


def _b1_sentences(run: Any) -> list[str]:
    rel = _by_form(run, "classical")
    if not rel:
        return []
    t = tally(rel, "")
    dists = []
    for r in rel:
        c, h = _check(r, "distance_from_theta_star"), _check(r, "true_hypergradient")
        if c is not None and h is not None:
            dists.append(f"{r.family} {fmt(c.measured, 3)} (‖∇h‖ {fmt(h.measured, 3)})")
    return [
        f"On classical bilevel problems (a block) the structural finding B1 holds on {ratio(t)}{_others(t)}: once the "
        "inner loop has made y lower-optimal, the penalty's x-gradient vanishes, the outer step sees ∇_x L_r only and "
        "OFMU settles at a fixed point of alternating optimisation"
        + (f", at distances from θ* (with the true hypergradient norm there) {', '.join(dists)}." if dists else ".")
    ]


def _c3_sentences(run: Any) -> list[str]:
    out = []
    for form in FORMS:
        rel = _by_form(run, form)
        if not rel:
            continue
        lower, dist = tally(rel, "lower@θ̃ [T=K]"), tally(rel, "dist@θ̃ [T=K]")
        grad = tally(rel, "‖∇F_ρ‖²@θ_k [T=K]")
        spurious = grad.get(Verdict.SPURIOUS, [])
        out.append(
            f"In the non-convex regime, {form} form ({_names([r.family for r in rel])}): the lower-level gap at θ̃ "
            f"holds on {ratio(lower)}{_others(lower)}"
            + (f" and the distance to θ* on {ratio(dist)}{_others(dist)}" if dist else "")
            + f"; the stationarity of F_ρ holds on {ratio(grad)}"
            + (f" and is a spurious stationary point on {_names(spurious)}" if spurious else "")
            + "."
        )
    return out


def _c7_sentences(run: Any) -> list[str]:
    rel = [r for r in run.results if r.verdict is not Verdict.NOT_APPLICABLE]
    if not rel:
        return []
    tilde, outer = tally(rel, "ε@θ̃ (inner calls charged)"), tally(rel, "ε@θ_k")
    winners: dict[str, int] = {}
    for r in rel:
        board = r.setting.get("leaderboard") or []
        if board and board[0]["reached"]:
            winners[board[0]["solver"]] = winners.get(board[0]["solver"], 0) + 1
    budget = rel[0].setting.get("budget_calls")
    eps = rel[0].setting.get("eps")
    return [
        f"With the same budget of {budget} oracle calls and the same step-rule selection for every solver, OFMU "
        f"reaches ε = {fmt(eps)} at θ̃_k (inner calls charged) on {ratio(tilde)} instances and at θ_k on "
        f"{ratio(outer)}; the fastest solver per instance: "
        + (", ".join(f"{k} ({n})" for k, n in sorted(winners.items(), key=lambda kv: -kv[1])) or "none reached ε")
        + "."
    ]
