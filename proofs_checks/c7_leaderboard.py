"""C7 — every solver of the core on the same families: oracle calls to reach ε-accuracy of the bilevel solution."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from ofmu_theory.evaluator import Evaluator
from ofmu_theory.solvers import SOLVERS, StepInfo
from ofmu_theory.steps import Armijo, ConstantStep, InverseSmoothness
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.evidence import Check, FamilyResult, Series, Verdict, fmt, not_applicable
from proofs_checks.instances import FULL, InstanceSpec, family_names, specs
from proofs_checks.profiles import Profile
from proofs_checks.readings import Reading, theta_tilde

PENALTY = {"rho": 1.0, "gamma": 1.02, "rho_cap": 1e4}
"""The paper's growing penalty ρ_{k+1} = γρ_k with a (reconstructed) cap, shared by the penalty solvers."""
ARMIJO = Armijo(eta0=0.7)
"""Armijo from 0.7 (see C4: a unit step lands exactly on a quadratic S, where the core's trace breaks)."""
SCALES = (0.5, 1.0)
"""Step candidates η = s/(L_upper + L_lower) of the solvers whose update is no gradient (BLUR, projection)."""
SELECT_FRACTION = 0.5
"""The selection run's budget, as a fraction of the evaluation budget."""
SELECT_SEED = 1000
"""Step rules are selected on the same family drawn with seed + SELECT_SEED (the evaluation never sees it)."""
PLATEAU = 0.01
"""'stalled': the best accuracy improved by less than this fraction over the last half of the budget."""

SOLVER_SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "ofmu (β=0, T=5)": ("ofmu", {"beta": 0.0, "sim": "none", "inner_steps": 5, **PENALTY}),
    "ofmu (β=0.1 signed, T=5)": ("ofmu", {"beta": 0.1, "sim": "signed", "inner_steps": 5, **PENALTY}),
    "grad-penalty (G-PBGD)": ("grad-penalty", dict(PENALTY)),
    "value-penalty (V-PBGD, T=10)": ("value-penalty", {"inner_steps": 10, **PENALTY}),
    "scalarized (GradDiff)": ("scalarized", {}),
    "blur": ("blur", {}),
    "projection": ("projection", {}),
    "alternating": ("alternating", {}),
}
"""The leaderboard's solvers and their fixed (non-step) settings."""
NOT_A_GRADIENT = ("blur", "projection")
"""Solvers whose update is no gradient of one objective: no Armijo, no own smoothness (η = s/(L_upper + L_lower))."""


def step_candidates(name: str, constants: Any) -> dict[str, Any]:
    """The two step rules every solver chooses from: where the update is the gradient of one objective,
    the textbook η = 1/L (L the smoothness of the solver's own step, from the constants; unusable where
    they do not give it, e.g. β > 0) and Armijo from 0.7; BLUR and projection (no objective, no line
    search): η = s/(L_upper + L_lower), s ∈ SCALES."""
    if name in NOT_A_GRADIENT:
        L = (constants.L_upper or 0.0) + (constants.L_lower or 0.0)
        return {f"{s:g}/(L_upper + L_lower)": ConstantStep(s / L) for s in SCALES} if L > 0 else {"0.01": ConstantStep(0.01)}
    return {"1/L": InverseSmoothness(1.0), "Armijo(0.7)": ARMIJO}


def configurations(constants: Any, max_steps: int = 1000) -> dict[str, Any]:
    """Every leaderboard solver with a default step rule and no selection (Armijo from 0.7 where the
    update is a gradient, else 1/(L_upper + L_lower)): for benchmarks that time one fixed setting."""
    out = {}
    for label, (name, _) in SOLVER_SETTINGS.items():
        candidates = step_candidates(name, constants)
        rule = candidates.get("Armijo(0.7)", next(reversed(candidates.values())))
        out[label] = build(label, rule, max_steps)
    return out


def build(label: str, rule: Any, max_steps: int) -> Any:
    """The solver of ``label`` with every step field set to ``rule``."""
    name, settings = SOLVER_SETTINGS[label]
    cls = SOLVERS.get(name)
    etas = {f.name: rule for f in fields(cls) if f.name.startswith("eta")}
    return cls(**settings, **etas, max_steps=max_steps)


class Accuracy:
    """acc(θ) = max(|L_r(θ) − L_r*|/(1 + |L_r*|), ‖R(θ)‖/(1 + ‖R(θ_0)‖)), R the β = 0 lower residual.

    Solver-independent (R is P∇(σL_lower), or its gradient mapping under Θ), and meaningful for
    non-unique solutions (matrix factorisation): upper optimality and lower stationarity together.
    """

    def __init__(self, spec: InstanceSpec) -> None:
        problem = spec.problem()
        self.ev = Evaluator(problem)
        theta_star = np.asarray(spec.instance().solution(), dtype=np.float64)
        self.lr_star = float(problem.upper.value(theta_star))
        r0 = np.asarray(self.ev.phi(problem.theta0, FULL).residual)
        self.r0 = float(np.linalg.norm(r0))

    def __call__(self, theta: np.ndarray) -> float:
        p = self.ev.phi(theta, FULL, need_upper=True)
        upper = abs(float(p.loss_r) - self.lr_star) / (1.0 + abs(self.lr_star))
        lower = float(np.linalg.norm(np.asarray(p.residual))) / (1.0 + self.r0)
        return max(upper, lower)


EPS_TILDE = "ε@θ̃ (inner calls charged)"
EPS_OUTER = "ε@θ_k"


@CLAIMS.register("C7")
@dataclass(frozen=True, kw_only=True)
class Leaderboard(Claim):
    """OFMU reaches ε-accuracy of the bilevel solution; every solver's cost to get there, side by side."""

    id = "C7"
    example = InstanceSpec.of("logistic_forget", seed=0, n_r=30, n_f=4, d=8, start="random")
    title = "Solver leaderboard (calls to ε-accuracy)"
    statement = (
        "OFMU solves the bi-level problem: it reaches ε-accuracy of the bilevel solution θ*. Read at θ̃_k (the inner "
        "result, every inner call charged) and at θ_k. The leaderboard reports, for every solver of the core on the "
        "same instances with the same call budget and the same step-rule selection, the gradient + HVP (+ third-order) "
        "calls to get there."
    )
    latex = (
        r"\mathrm{acc}(\theta) = \max\Big(\frac{|L_r(\theta)-L_r^*|}{1+|L_r^*|},"
        r"\frac{\|\nabla\Phi_0(\theta)\|}{1+\|\nabla\Phi_0(\theta_0)\|}\Big) \le \varepsilon"
    )
    source = "arXiv 2509.22483 (OFMU solves the bi-level problem, Lemma 1 + convergence theorems); the core's solvers (docs/design.md)"
    assumptions = (
        f"penalty solvers: ρ_k = min({PENALTY['rho']}·{PENALTY['gamma']}^k, {PENALTY['rho_cap']:g})",
        "one step-rule selection for every solver: two candidates, η = 1/L (L the smoothness of the solver's own step) "
        "and Armijo from 0.7 where the update is a gradient (BLUR, projection: s/(L_upper + L_lower), s ∈ {0.5, 1}); the "
        f"candidate reaching ε with the fewest calls (else the best accuracy) on the family drawn with seed + {SELECT_SEED}, "
        f"with {SELECT_FRACTION:g} of the budget, is kept",
        "every solver gets the same budget of grad + HVP + third-order calls; random starts",
        "the reference is the β = 0 bilevel solution θ* (lower level argmax σL_f) for every solver, the β > 0 OFMU "
        "variant included (its own lower level is argmax Φ_β)",
        "calls at θ̃_k: the counts after step k (its inner loop and outer step); at θ_k: the same counts",
    )
    applies_to = "families with a bilevel solution θ*"
    measured_quantity = "acc(θ̃_k) (OFMU) and acc(θ_k) after every outer step; calls when acc ≤ ε; best accuracy within the budget"
    expected = "OFMU reaches acc ≤ ε within the budget (violated when it stalls above ε)"
    readings = (
        Reading(id=EPS_TILDE, quantity="acc(θ̃_k) ≤ ε", point="tilde", design="budget", role="primary"),
        Reading(id=EPS_OUTER, quantity="acc(θ_k) ≤ ε", point="outer", design="budget", role="secondary"),
    )

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        return specs(family_names(), profile.name, profile.seeds, seed, start="random")

    def searchable(self, family: str) -> bool:
        return family in ("least_squares_projection", "coupled_quadratic", "bome_toy")

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family = spec.instance()
        if family.solution() is None:
            return replace(not_applicable(self.id, spec.family, spec.record(),
                                          "the family has no bilevel solution θ* (solution() is None)"), form=family.form)
        eps = profile.leaderboard_eps
        budget = profile.horizon(profile.leaderboard_calls, search=search)
        held_out = spec.with_params(**{**spec.kwargs(), "seed": int(spec.kwargs().get("seed", 0)) + SELECT_SEED})
        labels = [k for k in SOLVER_SETTINGS if not search or k.startswith("ofmu (β=0,")]
        rows, series = [], []
        for label in labels:
            chosen = _select(label, held_out, family.constants(), eps, int(budget * SELECT_FRACTION))
            row, curve = _race(spec, build(label, chosen[1], max_steps=budget), Accuracy(spec), eps, budget)
            rows.append({"solver": label, "step": chosen[0], **row})
            series.append(Series.of(label, np.arange(1, len(curve) + 1), np.maximum(curve, 1e-300), xlabel="outer step k",
                                    ylabel="accuracy (own best point)", panel="accuracy"))  # fmt: skip
        rows.sort(key=lambda r: (not r["reached"], r["calls"] if r["reached"] else math.inf, r["best_accuracy"]))
        ofmu = [r for r in rows if r["solver"].startswith("ofmu")]
        best = min(ofmu, key=lambda r: (not r["reached"], r["best_accuracy"]))
        checks = [_reached(EPS_TILDE, best, eps, "tilde"), _reached(EPS_OUTER, best, eps, "outer")]
        for r in rows:
            if not r["solver"].startswith("ofmu"):
                checks.append(Check(
                    name=f"reached[{r['solver']}]", kind="info", measured=r["best_accuracy"], predicted=eps,
                    margin=eps - r["best_accuracy"], verdict=Verdict.HOLDS if r["reached"] else Verdict.INCONCLUSIVE,
                    primary=False, detail=f"{r['solver']}: {'calls ' + str(r['calls']) if r['reached'] else 'not reached'}",
                ))  # fmt: skip
        winner = rows[0]
        measured = (
            f"best OFMU ({best['solver']}): ε at θ̃ {'in ' + str(best['calls_tilde']) + ' calls' if best['reached_tilde'] else 'not reached'}, "
            f"at θ_k {'in ' + str(best['calls_outer']) + ' calls' if best['reached_outer'] else 'not reached'}; fastest: "
            + (f"{winner['solver']} ({winner['calls']} calls)" if winner["reached"] else "none within the budget")
        )
        return FamilyResult(
            claim=self.id, family=spec.family, params=spec.record(),
            setting={"eps": eps, "budget_calls": budget, "penalty": PENALTY, "selection": {"held_out_seed_offset": SELECT_SEED,
                     "fraction": SELECT_FRACTION}, "leaderboard": rows},
            expected=f"OFMU reaches acc ≤ {fmt(eps)} within {budget} calls", measured=measured, checks=tuple(checks),
            series=tuple(series), form=family.form, headline=(EPS_TILDE,),
            notes=("leaderboard rows: solver, selected step rule, calls to ε at the solver's own best point (θ̃ for OFMU, "
                   "inner calls charged) and at θ_k, best accuracy",),
        )  # fmt: skip


def _reached(reading: str, row: dict[str, Any], eps: float, point: str) -> Check:
    reached, best, stalled = row[f"reached_{point}"], row[f"best_{point}"], row[f"stalled_{point}"]
    verdict = Verdict.HOLDS if reached else Verdict.VIOLATED if stalled else Verdict.INCONCLUSIVE
    where = "θ̃_k" if point == "tilde" else "θ_k"
    return Check(
        name=reading, kind="reached", measured=best, predicted=eps, margin=eps - best, verdict=verdict, reading=reading,
        detail=(f"{row['solver']} ({row['step']}) at {where}: best accuracy {fmt(best)} "
                f"({'reached in ' + str(row['calls_' + point]) + ' calls' if reached else 'stalled' if stalled else 'still improving'}"
                f" within {row['budget']} calls)"),
    )  # fmt: skip


def _select(label: str, spec: InstanceSpec, constants: Any, eps: float, budget: int) -> tuple[str, Any]:
    """The step rule of ``label`` chosen on the held-out ``spec``: fewest calls to ε, else best accuracy."""
    best: tuple[Any, ...] | None = None
    acc = Accuracy(spec)
    for name, rule in step_candidates(SOLVER_SETTINGS[label][0], constants).items():
        try:
            row, _ = _race(spec, build(label, rule, max_steps=budget), acc, eps, budget)
        except ValueError:  # the rule needs a constant this problem lacks (e.g. 1/L for β > 0)
            continue
        key = (not row["reached"], row["calls"] if row["reached"] else math.inf, row["best_accuracy"])
        if best is None or key < best[0]:
            best = (key, name, rule)
    if best is None:
        raise ValueError(f"no step rule runs for {label}")
    return best[1], best[2]


def _race(spec: InstanceSpec, solver: Any, acc: Accuracy, eps: float, budget: int | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Run until ε is reached at every point read, or the call budget (or ``solver.max_steps``) is spent.

    OFMU-type solvers (T > 0 inner steps) are read at θ̃_k too: their inner loop recomputed from θ_k
    with a fresh evaluator, so the run's own counts are untouched.
    """
    budget = budget if budget is not None else np.inf
    inner = getattr(solver, "inner_steps", 0) if hasattr(solver, "ascend") else 0
    problem = spec.problem()
    curves: dict[str, list[float]] = {"outer": [], "tilde": []}
    hit: dict[str, int] = {}
    prev = [np.asarray(problem.theta0, dtype=np.float64)]

    def callback(info: StepInfo) -> bool:
        calls = int(info.record["n_grad"] + info.record["n_hvp"] + info.record["n_third"])
        theta = np.asarray(info.theta, dtype=np.float64)
        points = {"outer": theta}
        if inner:
            points["tilde"] = theta_tilde(solver, spec, prev[0], info.k)
        prev[0] = theta
        for key, x in points.items():
            a = acc(x)
            curves[key].append(a if math.isfinite(a) else math.inf)
            if a <= eps and key not in hit:
                hit[key] = calls
        return len(hit) == len(points) or calls >= budget

    res = solver.run(problem, callback=callback)
    row: dict[str, Any] = {"budget": budget if np.isfinite(budget) else -1, "status": res.status.name, "n_grad": res.n_grad, "n_hvp": res.n_hvp,
                           "n_third": res.n_third, "steps": res.nit}  # fmt: skip
    for key in ("outer", "tilde"):
        c = np.asarray(curves[key]) if curves[key] else np.asarray(curves["outer"] or [math.inf])
        half = len(c) // 2
        stalled = len(c) >= 8 and float(np.min(c[half:])) >= (1.0 - PLATEAU) * float(np.min(c[: half + 1]))
        src = key if curves[key] else "outer"
        row |= {f"reached_{key}": src in hit, f"calls_{key}": hit.get(src, -1), f"best_{key}": float(np.min(c)),
                f"stalled_{key}": bool(stalled and src not in hit)}  # fmt: skip
    own = "tilde" if inner else "outer"
    row |= {"reached": row[f"reached_{own}"], "calls": row[f"calls_{own}"], "best_accuracy": row[f"best_{own}"],
            "stalled": row[f"stalled_{own}"], "point": "θ̃_k" if inner else "θ_k"}  # fmt: skip
    own_curve = np.asarray(curves[own] or [math.inf])
    return row, own_curve
