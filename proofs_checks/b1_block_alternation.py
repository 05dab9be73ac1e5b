"""B1 — on a classical bilevel problem (a block) OFMU behaves like alternating optimisation.

θ = (x, y), the lower level acts on y. Once the inner loop makes y lower-stationary (P∇Φ = 0),
the penalty's gradient 2ρ∇²Φ·P∇Φ vanishes — in particular its x-part 2ρ∇²_{xy}Φ∇_yΦ, the only
channel through which the outer step sees how y*(x) moves with x. The outer step then follows
∇_x L_r(x, y) alone, and the iteration's limit is a fixed point of alternating optimisation
(∇_x L_r(x, y*(x)) = 0 with the partial, not the total, derivative), not the bilevel solution θ*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ofmu_theory.evaluator import Evaluator
from proofs_checks.c2_convex_rate import make_ofmu
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.evidence import Check, FamilyResult, Series, Verdict, fmt, not_applicable
from proofs_checks.instances import FULL, InstanceSpec, family_names, specs
from proofs_checks.profiles import Profile
from proofs_checks.rates import rate_check
from proofs_checks.readings import theta_tilde

RHO = 1.0
T_GRID = (1, 2, 4, 8, 16, 32, 64)
STATIONARY = 1e-3
"""The limit is an alternating fixed point when ‖∇_x L_r(θ̃)‖ ≤ STATIONARY·‖∇_x L_r(θ_0)‖ (fixed before any data)."""


def hessian(problem, theta: np.ndarray) -> np.ndarray:
    """∇²(σL_lower) as a dense matrix, from HVPs (small problems only)."""
    d = theta.size
    return np.stack([problem.sigma * np.asarray(problem.lower.hvp(theta, e), dtype=np.float64) for e in np.eye(d)], axis=1)


def true_hypergradient(problem, theta: np.ndarray) -> np.ndarray:
    """∇h(x) = ∇_x L_r − H_xy H_yy⁺ ∇_y L_r at θ = (x, y) (implicit function theorem; H = ∇²σL_lower)."""
    mask = np.asarray(problem.block, dtype=bool)
    H = hessian(problem, theta)
    g = np.asarray(problem.upper.value_and_grad(theta)[1], dtype=np.float64)
    hxy, hyy = H[np.ix_(~mask, mask)], H[np.ix_(mask, mask)]
    return g[~mask] - hxy @ np.linalg.pinv(hyy, rcond=1e-10, hermitian=True) @ g[mask]


@CLAIMS.register("B1")
@dataclass(frozen=True, kw_only=True)
class BlockAlternation(Claim):
    """The structural finding on classical bilevel problems, with its evidence."""

    id = "B1"
    example = InstanceSpec.of("coupled_quadratic", seed=0, start="random")
    title = "Classical bilevel problems: OFMU behaves like alternating optimisation"
    statement = (
        "On a classical bilevel problem (lower level on a block y of θ = (x, y)), the inner loop makes the penalty's "
        "hypergradient term 2ρ∇²Φ·P∇Φ vanish at θ̃ as T grows, so the outer step sees ∇_x L_r only: the iteration's "
        "limit is a fixed point of alternating optimisation (∇_x L_r(θ̃) = 0), at a distance from θ* that does not vanish."
    )
    latex = (
        r"\|(I-P)\,2\rho\nabla^2\Phi\,P\nabla\Phi(\tilde\theta)\| \xrightarrow[T\to\infty]{} 0,\quad "
        r"\nabla_x L_r(\tilde\theta_\infty) = 0 \ne \nabla h(x_\infty)"
    )
    source = (
        "consequence of the penalty F_ρ = L_r + ρ‖P∇Φ‖² (arXiv 2509.22483, Eq. 7) evaluated at a lower-stationary point; "
        "cf. Shen & Chen 2023 on penalty methods for classical bilevel problems (docs/claims.md)"
    )
    assumptions = (
        "β = 0, fixed ρ = 1, the step rules of C2; random starts",
        f"alternating fixed point: ‖∇_x L_r(θ̃)‖ ≤ {STATIONARY:g}·‖∇_x L_r(θ_0)‖ at K = K_max, T = T_max",
    )
    applies_to = "families of classical form (a block); not applicable to the unlearning form"
    measured_quantity = (
        "‖(I − P)(∇F_ρ − ∇L_r)(θ̃)‖ (the penalty's x-gradient) against T at K = K_max; ‖∇_x L_r(θ̃)‖; "
        "‖θ̃ − θ*‖ and the true hypergradient ‖∇h‖ at the limit (implicit function theorem)"
    )
    expected = "the x-gradient of the penalty decays with T (at least like 1/T) and the limit is an alternating fixed point"

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        return specs(family_names(), profile.name, profile.seeds, seed, start="random")

    def searchable(self, family: str) -> bool:
        return False

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family = spec.instance()
        if family.form != "classical" or family.block() is None:
            return _na(self.id, spec, "unlearning form: the lower level acts on all of θ (no block, no x to decouple)")
        problem = spec.problem()
        mask = np.asarray(problem.block, dtype=bool)
        ev = Evaluator(problem)
        K = profile.horizon(profile.k_sweep_max, search=search)
        make, steps = make_ofmu(spec, RHO)
        theta0 = np.asarray(problem.theta0, dtype=np.float64)
        gx0 = float(np.linalg.norm(np.asarray(problem.upper.value_and_grad(theta0)[1])[~mask]))
        star = family.solution()
        terms, gxs, dists, last = [], [], [], None
        for T in T_GRID:
            solver = make(T, K)
            res = solver.run(problem, record_iterates=True)
            it = np.asarray(res.iterates, dtype=np.float64)
            tt = theta_tilde(solver, spec, it[-2], K - 1) if len(it) == K + 1 else np.full(theta0.size, np.nan)
            pen = ev.penalised(tt, RHO, FULL)
            g_r = np.asarray(pen.point.g_r, dtype=np.float64)
            terms.append(float(np.linalg.norm((np.asarray(pen.grad_F, dtype=np.float64) - g_r)[~mask])))
            gxs.append(float(np.linalg.norm(g_r[~mask])))
            dists.append(float(np.linalg.norm(tt - star)) if star is not None else float("nan"))
            last = tt
        ts = np.asarray(T_GRID, dtype=np.float64)
        term0 = terms[0] if terms[0] > 0 else 1.0
        checks = [
            rate_check("penalty_x_gradient_vanishes", ts, np.asarray(terms), exponent=1.0, scale=max(term0, gx0),
                       what=f"‖(I − P)(∇F_ρ − ∇L_r)(θ̃_K)‖ against T at K = {K}"),
        ]  # fmt: skip
        ratio = gxs[-1] / gx0 if gx0 > 0 else gxs[-1]
        checks.append(Check(
            name="alternating_fixed_point", kind="bound", measured=ratio, predicted=STATIONARY, margin=STATIONARY - ratio,
            verdict=Verdict.HOLDS if ratio <= STATIONARY else (Verdict.INCONCLUSIVE if np.isfinite(ratio) else Verdict.VIOLATED),
            detail=f"‖∇_x L_r(θ̃)‖ / ‖∇_x L_r(θ_0)‖ = {fmt(ratio)} at K = {K}, T = {T_GRID[-1]} (≤ {STATIONARY:g}: the limit "
                   "is a fixed point of alternating optimisation; above it the run has not settled, inconclusive)",
        ))  # fmt: skip
        notes = [f"steps: {steps.how}", f"start: {spec.start}"]
        if star is not None and last is not None and np.all(np.isfinite(last)):
            hyper = float(np.linalg.norm(true_hypergradient(problem, last)))
            d0 = float(np.linalg.norm(theta0 - star))
            checks.append(Check(
                name="distance_from_theta_star", kind="info", measured=dists[-1], predicted=0.0, margin=-dists[-1],
                verdict=Verdict.HOLDS, primary=False,
                detail=f"‖θ̃ − θ*‖ = {fmt(dists[-1])} at T = {T_GRID[-1]} (‖θ_0 − θ*‖ = {fmt(d0)}; at T = 1: {fmt(dists[0])})",
            ))  # fmt: skip
            checks.append(Check(
                name="true_hypergradient", kind="info", measured=hyper, predicted=0.0, margin=-hyper,
                verdict=Verdict.HOLDS, primary=False,
                detail=f"‖∇h(x)‖ = ‖∇_x L_r − H_xy H_yy⁺ ∇_y L_r‖ = {fmt(hyper)} at the limit (0 at a bilevel stationary point)",
            ))  # fmt: skip
        series = [
            Series.of("penalty x-gradient", ts, terms, xlabel="T", ylabel="norm at θ̃_K", panel="vs T"),
            Series.of("‖∇_x L_r(θ̃)‖", ts, gxs, xlabel="T", ylabel="norm at θ̃_K", panel="vs T"),
        ]
        if star is not None:
            series.append(Series.of("‖θ̃ − θ*‖", ts, dists, xlabel="T", ylabel="distance", panel="distance to θ*"))
        measured = (
            f"penalty x-gradient {fmt(terms[0])} (T=1) → {fmt(terms[-1])} (T={T_GRID[-1]}); ‖∇_x L_r(θ̃)‖ ratio {fmt(ratio)}; "
            f"‖θ̃ − θ*‖ = {fmt(dists[-1])}"
        )
        return FamilyResult(
            claim=self.id, family=spec.family, params=spec.record(),
            setting={"rho": RHO, "beta": 0.0, "K": K, "t_grid": list(T_GRID), "steps": steps.to_dict(),
                     "penalty_x_gradient": terms, "grad_x_upper": gxs, "distance": dists},
            expected="penalty x-gradient → 0 with T; alternating fixed point", measured=measured, checks=tuple(checks),
            series=tuple(series), notes=tuple(notes), form=family.form,
        )  # fmt: skip


def _na(claim: str, spec: InstanceSpec, reason: str) -> FamilyResult:
    from dataclasses import replace

    return replace(not_applicable(claim, spec.family, spec.record(), reason), form=spec.instance().form)


