"""C2 — the convex two-loop rate O(1/K) + O(K/T²) of OFMU at fixed ρ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.evidence import FamilyResult, Series, fmt, not_applicable
from proofs_checks.instances import InstanceSpec, family_names, penalised_minimiser, specs
from proofs_checks.profiles import Profile
from proofs_checks.rates import contraction_check, rate_check, vacuous
from proofs_checks.sweeps import anchored, k_grid, penalised_at, run_ofmu, running_means, step_rules

RHO = 1.0
"""The fixed penalty of the sweep (the claim is for any fixed ρ; ρ = 1 keeps L_F small)."""


@CLAIMS.register("C2")
@dataclass(frozen=True, kw_only=True)
class ConvexRate(Claim):
    """The objective gap of F_ρ after K outer and T inner steps is O(1/K) + O(K/T²)."""

    id = "C2"
    title = "Convex two-loop rate O(1/K) + O(K/T²)"
    statement = (
        "In the convex regime (Φ concave, L_r convex), OFMU with T inner ascent steps per outer step "
        "reaches F_ρ(θ_K) − F_ρ* = O(1/K) + O(K/T²) at fixed ρ: with T large the gap decays like 1/K; "
        "at fixed K its floor decays like 1/T²."
    )
    latex = r"F_\rho(\theta_K) - F_\rho^* \le \frac{C_1}{K} + \frac{C_2 K}{T^2}"
    source = (
        "arXiv 2509.22483, convex-regime theorem (statement reconstructed from summaries; the measured "
        "quantity is not stated — the natural reading, the objective gap of F_ρ, is used; "
        "docs/claims.md)"
    )
    assumptions = (
        "Φ concave and L_r convex (the convex families), β = 0 (the cosine term breaks concavity)",
        "fixed ρ = 1, evaluation point θ̃ (Algorithm 1 as reconstructed), η_in = 1/L_lower, η_out = 1/L_F(ρ)",
        "F_ρ* = F_ρ(θ_ρ) with θ_ρ in closed form or by L-BFGS-B",
    )
    applies_to = "convex families (Family.convex) whose θ_ρ is computable (closed form, or L-BFGS-B without a non-box Θ)"
    measured_quantity = (
        "F_ρ(θ_K) − F_ρ* at the last iterate and at the average θ̄_K, against K (T = T_max) and against T (K = K_max); "
        "on strongly convex F_ρ the contraction factor of ‖θ_{k+1} − θ_k‖"
    )
    expected = "K-exponent ≤ −1 and T-exponent ≤ −2 (tolerance 0.2, scaled gap bounded ×3); factor ≤ 1 − μ_F/L_F"

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        return specs(family_names(convex=True), profile.name, profile.seeds, seed)

    def searchable(self, family: str) -> bool:
        return family in ("least_squares_projection", "coupled_quadratic", "wide_quadratic")

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family = spec.instance()
        params = family.params()
        constraint = family.constraint()
        if family.penalised_solution(RHO) is None and constraint is not None and type(constraint).__name__ != "Box":
            return not_applicable(
                self.id, spec.family, params,
                f"F_ρ* unavailable: no closed-form θ_ρ and Θ is a {type(constraint).__name__} (gradient-mapping penalty, "
                "not convex in general), so neither the reference nor the claim's convexity premise is available",
            )  # fmt: skip
        c = family.constants()
        k_max = profile.horizon(profile.k_max, search=search)
        t_grid = profile.t_grid[:5] if search else profile.t_grid
        steps = step_rules(spec, RHO)
        theta_rho, how = penalised_minimiser(spec, RHO)
        f_star = float(penalised_at(spec, theta_rho[None, :], RHO)[0])
        ks = k_grid(k_max)
        last, avg, floor_last, floor_avg, dist, at_eval = {}, {}, [], [], None, None
        big = max(t_grid)
        for T in t_grid:
            res = run_ofmu(spec, rho=RHO, inner_steps=T, max_steps=k_max, steps=steps)
            it = res.iterates
            if len(it) < k_max + 1:  # diverged: the gap is infinite from there on
                it = np.vstack([it, np.full((k_max + 1 - len(it), it.shape[1]), np.nan)])
            means = running_means(it)
            gl = np.maximum(penalised_at(spec, it[ks], RHO) - f_star, 0.0)
            ga = np.maximum(penalised_at(spec, means[ks - 1], RHO) - f_star, 0.0)
            last[T], avg[T] = gl, ga
            floor_last.append(gl[-1])
            floor_avg.append(ga[-1])
            if T == big:
                # F_ρ at the evaluation point θ̃_k of step k (the inner loop's result), from the trace
                f_eval = np.asarray(res.trace["F"], dtype=np.float64)
                if len(f_eval) >= k_max:
                    at_eval = np.maximum(f_eval[ks - 1] - f_star, 0.0)
                steps_len = np.linalg.norm(np.diff(it, axis=0), axis=1)
                theta_star = family.solution()
                if theta_star is not None:
                    dist = np.linalg.norm(it[ks] - theta_star, axis=1)
        ts = np.asarray(t_grid, dtype=np.float64)
        checks = [
            rate_check("K_exponent_last", ks, last[big], exponent=1.0, what=f"F_ρ(θ_K) − F* at T={big}"),
            rate_check("K_exponent_avg", ks, avg[big], exponent=1.0, what=f"F_ρ(θ̄_K) − F* at T={big}"),
            rate_check("T_exponent_last", ts, np.asarray(floor_last), exponent=2.0, what=f"F_ρ(θ_K) − F* at K={k_max}"),
            rate_check("T_exponent_avg", ts, np.asarray(floor_avg), exponent=2.0, what=f"F_ρ(θ̄_K) − F* at K={k_max}"),
        ]
        notes = [f"θ_ρ: {how}", f"steps: {steps.how}"]
        strongly = bool(c.mu_upper) and c.M_lower == 0
        L_F = c.penalised_smoothness(RHO, 0.0)
        if strongly and L_F:
            predicted = 1.0 - c.mu_upper / L_F
            checks.append(contraction_check(
                "contraction", np.arange(len(steps_len)), steps_len, predicted=predicted,
                what=f"‖θ_(k+1) − θ_k‖ at T={big} (μ_F = mu_upper = {fmt(c.mu_upper)}, L_F = {fmt(L_F)})",
            ))  # fmt: skip
            reason = "F_ρ is strongly convex here (μ_F ≥ mu_upper > 0), so GD-type steps converge linearly"
            checks[:4] = [vacuous(ch, reason) for ch in checks[:4]]
            notes.append("F_ρ strongly convex: a 1/K pass would be vacuous; the contraction factor is reported instead")
        else:
            notes.append("F_ρ not known to be strongly convex (M_lower > 0 or mu_upper unknown): no contraction check")
        floor_note = _fixed_point_floor(spec, steps, f_star)
        if floor_note is not None:
            notes.append(f"{floor_note} (measured {fmt(last[big][-1])} at K={k_max}, T={big})")
        if dist is not None:
            checks.append(rate_check(
                "distance_to_bilevel", ks, dist, exponent=1.0, primary=False,
                what=f"‖θ_K − θ*‖ at T={big} (alternative reading: convergence to the bilevel solution)",
            ))  # fmt: skip
        if at_eval is not None:
            checks.append(rate_check(
                "K_exponent_eval_point", ks, at_eval, exponent=1.0, primary=False,
                what=f"F_ρ(θ̃_K) − F* at T={big} (alternative reading: the inner loop's result θ̃_K, not θ_K)",
            ))  # fmt: skip
        series = [
            Series.of(f"last iterate, T={big}", ks, last[big], bound=anchored(ks, last[big], 1.0),
                      bound_label="claimed C/K (anchored)", xlabel="K", ylabel="F_ρ(θ_K) − F*", panel="gap vs K"),
            Series.of(f"averaged, T={big}", ks, avg[big], xlabel="K", ylabel="F_ρ − F*", panel="gap vs K"),
            Series.of(f"last iterate, K={k_max}", ts, floor_last, bound=anchored(ts, np.asarray(floor_last), 2.0),
                      bound_label="claimed C·K/T² (anchored)", xlabel="T", ylabel="gap at K_max", panel="floor vs T"),
            Series.of(f"averaged, K={k_max}", ts, floor_avg, xlabel="T", ylabel="gap at K_max", panel="floor vs T"),
        ]  # fmt: skip
        measured = (
            f"K-slope last {fmt(checks[0].measured, 3)}, avg {fmt(checks[1].measured, 3)}; "
            f"T-slope last {fmt(checks[2].measured, 3)}, avg {fmt(checks[3].measured, 3)}; "
            f"gap at K={k_max}, T={big}: {fmt(last[big][-1])}"
        )
        return FamilyResult(
            claim=self.id, family=spec.family, params=params,
            setting={"rho": RHO, "beta": 0.0, "k_max": k_max, "t_grid": list(t_grid), "eval_point": "inner",
                     "steps": steps.to_dict(), "F_star": f_star},
            expected="K-exponent ≤ −1, T-exponent ≤ −2" + ("; factor ≤ 1 − μ/L" if strongly and L_F else ""),
            measured=measured, checks=tuple(checks), series=tuple(series), notes=tuple(notes),
        )  # fmt: skip


def _fixed_point_floor(spec: InstanceSpec, steps, f_star: float) -> str | None:
    """As T → ∞ the inner loop returns the orthogonal projection onto S (quadratic lower level, no
    block, no constraint), and the two-loop's fixed point is θ* − η_out∇L_r(θ*), not θ_ρ: the
    predicted floor of F_ρ(θ_K) − F*. ``None`` where that argument does not apply."""
    family = spec.instance()
    c = family.constants()
    eta = getattr(steps.eta_out, "eta", None)
    if c.M_lower != 0 or family.block() is not None or family.constraint() is not None or eta is None:
        return None
    theta_star = np.asarray(family.solution(), dtype=np.float64)
    g = np.asarray(spec.problem().upper.value_and_grad(theta_star)[1], dtype=np.float64)
    floor = float(penalised_at(spec, (theta_star - eta * g)[None, :], RHO)[0]) - f_star
    return f"T → ∞ fixed point θ* − η_out∇L_r(θ*) predicts the floor {fmt(floor)}"
