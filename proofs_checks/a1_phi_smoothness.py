"""A1 — the smoothness assumption for Φ_β (β > 0) near the lower-level solution set, measured."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ofmu_theory.evaluator import Evaluator
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.evidence import FamilyResult, Series, fmt, not_applicable
from proofs_checks.instances import FULL, InstanceSpec, family_names, specs
from proofs_checks.profiles import Profile
from proofs_checks.rates import fit_slope, rate_check

BETA = 0.1
POWER_ITERATIONS = 8
"""Power iterations estimating ‖∇²Φ_β(θ)‖ (a lower bound, like the trace's hvp_ratio)."""


def hessian_norm(ev: Evaluator, theta: np.ndarray, rng: np.random.Generator) -> float:
    """‖∇²Φ_β(θ)‖ by power iteration on exact (analytic, third-order) Hessian-vector products."""
    v = rng.standard_normal(theta.shape)
    v /= np.linalg.norm(v)
    norm = 0.0
    for _ in range(POWER_ITERATIONS):
        hv = np.asarray(ev.phi_hvp_analytic(theta, v, FULL), dtype=np.float64)
        norm = float(np.linalg.norm(hv))
        if not math.isfinite(norm) or norm == 0.0:
            break
        v = hv / norm
    return norm


@CLAIMS.register("A1")
@dataclass(frozen=True, kw_only=True)
class PhiSmoothness(Claim):
    """Assumptions of the convergence theorems: Φ_β is smooth (‖∇²Φ_β‖ ≤ H) with bounded gradients."""

    id = "A1"
    example = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0)
    title = "Smoothness of Φ_β near the lower-level solutions (assumption)"
    statement = (
        "The theorems assume Φ_β = σL_f − β·Sim(∇L_f, ∇L_r) is smooth, ‖∇²Φ_β‖ ≤ H < ∞. The cosine is singular where "
        "∇L_f = 0 — on the lower-level solution set — and ∇²Φ_β may grow like 1/‖∇L_f‖ there."
    )
    latex = r"\sup_\theta \|\nabla^2\Phi_\beta(\theta)\| \le H < \infty \quad(\text{tested along } \theta^* + t u,\ t \to 0)"
    source = (
        "arXiv 2509.22483 assumptions (smoothness, bounded gradients); "
        "Sim(∇L_f, ∇L_r) is singular where ∇L_f = 0, i.e. on the lower-level solutions, which this check probes"
    )
    assumptions = (
        f"β = {BETA}, signed cosine, exact ∇²Φ_β·v (analytic third-order oracles), {POWER_ITERATIONS} power iterations",
        "path θ_t = θ* + t·u toward a point θ* where ∇L_f(θ*) = 0 (sense 'max', no block), u a fixed random unit vector",
    )
    applies_to = "families whose lower-level gradient vanishes at θ* (unlearning sense, no block)"
    measured_quantity = "‖∇²Φ_β(θ_t)‖ and ‖∇Φ_β(θ_t)‖ against 1/‖∇L_f(θ_t)‖ on a geometric grid of t"
    expected = "bounded: ‖∇²Φ_β‖ and ‖∇Φ_β‖ = O(1) as ‖∇L_f‖ → 0 (growth ≤ ×3); the fitted blow-up exponents are reported"

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        return specs(family_names(), profile.name, profile.seeds, seed)

    def searchable(self, family: str) -> bool:
        return family in ("least_squares_projection", "logistic_forget")

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family, problem = spec.instance(), spec.problem()
        params = family.params()
        theta_star = family.solution()
        if theta_star is None:
            return not_applicable(self.id, spec.family, params, "no point of the lower-level solution set is known (solution() is None)")
        theta_star = np.asarray(theta_star, dtype=np.float64)
        g_star = np.asarray(problem.lower.value_and_grad(theta_star)[1])
        scale = 1.0 + float(np.linalg.norm(np.asarray(problem.lower.value_and_grad(problem.theta0)[1])))
        if float(np.linalg.norm(g_star)) > 1e-8 * scale:
            return not_applicable(
                self.id, spec.family, params,
                f"‖∇L_f(θ*)‖ = {fmt(float(np.linalg.norm(g_star)))} ≠ 0: only the block gradient vanishes on this classical "
                "bilevel family's solution set, so the cosine is not singular there",
            )  # fmt: skip
        rng = np.random.default_rng(spec.kwargs().get("seed", 0))
        u = rng.standard_normal(theta_star.shape)
        u /= np.linalg.norm(u)
        ts = np.geomspace(1e-1, 1e-7, max(5, profile.path_points // (2 if search else 1)))
        ev = Evaluator(problem, beta=BETA, sim="signed")
        ev0 = Evaluator(problem)
        gnorm, H, H0, G = [], [], [], []
        for t in ts:
            theta = theta_star + t * u
            if problem.constraint is not None:
                theta = np.asarray(problem.constraint.project(theta))
            gnorm.append(float(np.linalg.norm(np.asarray(problem.lower.value_and_grad(theta)[1]))))
            G.append(float(np.linalg.norm(np.asarray(ev.phi(theta, FULL).grad_phi))))
            H.append(hessian_norm(ev, theta, np.random.default_rng(1)))
            H0.append(hessian_norm(ev0, theta, np.random.default_rng(1)))
        gnorm, H, H0, G = map(np.asarray, (gnorm, H, H0, G))
        inv = 1.0 / gnorm
        order = np.argsort(inv)
        gfit = fit_slope(inv[order], G[order])
        check = rate_check("hessian_bounded", inv[order], H[order], exponent=0.0,
                           what=f"‖∇²Φ_β‖ (β={BETA}) against 1/‖∇L_f‖ (bounded: exponent 0)")  # fmt: skip
        fit = fit_slope(inv[order], H[order])
        checks = [
            check,
            rate_check("gradient_bounded", inv[order], G[order], exponent=0.0,
                       what=f"‖∇Φ_β‖ (β={BETA}) against 1/‖∇L_f‖ (bounded gradients: exponent 0)"),
            rate_check("hessian_bounded_beta0", inv[order], H0[order], exponent=0.0, primary=False,
                       what="‖∇²Φ_0‖ (β = 0) against 1/‖∇L_f‖ (the control: no cosine term)"),
        ]  # fmt: skip
        series = [
            Series.of(f"‖∇²Φ_β‖, β={BETA}", inv[order], H[order], xlabel="1/‖∇L_f‖", ylabel="‖∇²Φ‖", panel="Hessian norm"),
            Series.of(f"‖∇Φ_β‖, β={BETA}", inv[order], G[order], xlabel="1/‖∇L_f‖", ylabel="‖∇Φ_β‖", panel="gradient norm"),
            Series.of("‖∇²Φ_0‖, β=0", inv[order], H0[order], bound=np.full(len(H0), family.constants().H_phi or np.nan),
                      bound_label="family H_phi (β = 0)", xlabel="1/‖∇L_f‖", ylabel="‖∇²Φ‖", panel="Hessian norm"),
        ]  # fmt: skip
        return FamilyResult(
            claim=self.id, family=spec.family, params=params,
            setting={"beta": BETA, "t_grid": ts.tolist(), "power_iterations": POWER_ITERATIONS},
            expected="‖∇²Φ_β‖ bounded as ‖∇L_f‖ → 0",
            measured=(f"‖∇²Φ_β‖ from {fmt(H[order][0])} to {fmt(H[order][-1])} as ‖∇L_f‖ goes from {fmt(gnorm.max())} to "
                      f"{fmt(gnorm.min())}; blow-up exponent {fmt(fit.slope, 3)} (R² {fmt(fit.r2, 3)})"),
            checks=tuple(checks), series=tuple(series),
            notes=(f"whole-path log-log slopes against 1/‖∇L_f‖: ‖∇²Φ_β‖ {fmt(fit.slope, 3)} (R² {fmt(fit.r2, 3)}), "
                   f"‖∇Φ_β‖ {fmt(gfit.slope, 3)} (R² {fmt(gfit.r2, 3)})",),
        )  # fmt: skip
