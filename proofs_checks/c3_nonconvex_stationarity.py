"""C3 — non-convex stationarity O(1/K) + O(1/T) + O(σ²) of OFMU at fixed ρ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ofmu_theory.evaluator import Evaluator
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.steps import Constant
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.evidence import FamilyResult, Series, fmt
from proofs_checks.instances import FULL, InstanceSpec, family_names, specs
from proofs_checks.profiles import Profile
from proofs_checks.rates import rate_check
from proofs_checks.sweeps import StepChoice, anchored, k_grid, penalised_at, run_ofmu, step_rules

RHO = 1.0
"""The fixed penalty of the sweeps."""
T_NOISE = 4
"""Inner steps of the stochastic runs."""


@CLAIMS.register("C3")
@dataclass(frozen=True, kw_only=True)
class NonconvexStationarity(Claim):
    """min_{k≤K} ‖∇F_ρ(θ_k)‖² = O(1/K) + O(1/T) + O(σ²)."""

    id = "C3"
    title = "Non-convex stationarity O(1/K) + O(1/T) + O(σ²)"
    statement = (
        "In the non-convex regime OFMU reaches approximate stationarity of F_ρ: "
        "min_{k≤K} E‖∇F_ρ(θ_k)‖² = O(1/K) + O(1/T) + O(σ²), σ² the variance of the stochastic gradients."
    )
    latex = r"\min_{k\le K}\mathbb{E}\|\nabla F_\rho(\theta_k)\|^2 \le \frac{C_1}{K} + \frac{C_2}{T} + C_3\sigma^2"
    source = (
        "arXiv 2509.22483, non-convex theorem (rate as given by one summary)"
    )
    assumptions = (
        "smooth L_f, L_r (Lipschitz gradients), bounded gradients; β = 0 in the sweep (A1 measures β > 0)",
        "fixed ρ = 1, evaluation point θ̃; η_in = 1/L_lower or Armijo, η_out = 1/L_F or Armijo (deterministic)",
        "stochastic runs: constant steps (half the deterministic run's median steps), T = 4, batch size b on both levels",
    )
    applies_to = "non-convex families (deterministic sweeps); stochastic families for the σ² sweep"
    measured_quantity = (
        "min_{k≤K}‖∇F_ρ(θ_k)‖² (exact, full batch, at the iterates) against K at T = T_max, its floor at K_max against T, "
        "and the stationary level (mean of ‖∇F_ρ‖² over the last quarter of a mini-batch run) against "
        "σ² = E‖∇̂F_ρ(θ_0) − ∇F_ρ(θ_0)‖² (batch sizes varied)"
    )
    expected = "K-exponent ≤ −1, T-exponent ≤ −1 (tolerance 0.2, scaled quantity bounded ×3); level grows at most like σ²"

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        names = family_names(convex=False)
        if profile.name == "full":
            names += [n for n in family_names(convex=True, stochastic=True) if n not in names]
        return specs(names, profile.name, profile.seeds, seed)

    def searchable(self, family: str) -> bool:
        return family in ("bome_toy", "matrix_factorisation", "shen_chen")

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family = spec.instance()
        light = search or not family.constants().L_lower  # Armijo line searches cost several evaluations a step
        k_max = profile.horizon(profile.k_max, search=light)
        t_grid = profile.t_grid[:5] if light else profile.t_grid
        steps = step_rules(spec, RHO)
        ks = k_grid(k_max)
        big = max(t_grid)
        curves, floors, traces = {}, [], {}
        for T in t_grid:
            res = run_ofmu(spec, rho=RHO, inner_steps=T, max_steps=k_max, steps=steps)
            g2 = penalised_at(spec, res.iterates, RHO, grad=True)
            if len(g2) < k_max + 1:  # diverged: the running minimum stays where it was
                g2 = np.concatenate([g2, np.full(k_max + 1 - len(g2), np.inf)])
            best = np.minimum.accumulate(g2)
            curves[T], traces[T] = best[ks], res.trace
            floors.append(best[-1])
        ts = np.asarray(t_grid, dtype=np.float64)
        checks = [
            rate_check("K_exponent", ks, curves[big], exponent=1.0, what=f"min_k‖∇F_ρ(θ_k)‖² at T={big}"),
            rate_check("T_exponent", ts, np.asarray(floors), exponent=1.0, what=f"min_k‖∇F_ρ(θ_k)‖² at K={k_max}"),
        ]
        series = [
            Series.of(f"T={big}", ks, curves[big], bound=anchored(ks, curves[big], 1.0), bound_label="claimed C/K (anchored)",
                      xlabel="K", ylabel="min_k ‖∇F_ρ‖²", panel="vs K"),
            Series.of(f"K={k_max}", ts, floors, bound=anchored(ts, np.asarray(floors), 1.0),
                      bound_label="claimed C/T (anchored)", xlabel="T", ylabel="floor", panel="vs T"),
        ]  # fmt: skip
        notes = [f"steps: {steps.how}"]
        if light and not search:
            notes.append(f"no L_lower: Armijo line searches, sweep reduced to K ≤ {k_max}, T ≤ {big} to fit the profile")
        setting = {"rho": RHO, "beta": 0.0, "k_max": k_max, "t_grid": list(t_grid), "eval_point": "inner",
                   "steps": steps.to_dict()}  # fmt: skip
        if type(family).stochastic and not search:
            noise = self._noise_sweep(spec, profile, traces[T_NOISE] if T_NOISE in traces else traces[big])
            checks.append(noise["check"])
            series.append(noise["series"])
            notes.append(noise["note"])
            setting["noise"] = noise["setting"]
        measured = (
            f"K-slope {fmt(checks[0].measured, 3)}, T-slope {fmt(checks[1].measured, 3)}; "
            f"floor at K={k_max}, T={big}: {fmt(floors[-1])}"
            + (f"; σ²-slope {fmt(checks[2].measured, 3)}" if len(checks) > 2 else "")
        )
        return FamilyResult(
            claim=self.id, family=spec.family, params=family.params(), setting=setting,
            expected="K-exponent ≤ −1, T-exponent ≤ −1" + ("; level = O(σ²)" if len(checks) > 2 else ""),
            measured=measured, checks=tuple(checks), series=tuple(series), notes=tuple(notes),
        )  # fmt: skip

    def _noise_sweep(self, spec: InstanceSpec, profile: Profile, trace) -> dict:
        """Floors of stochastic runs (constant steps) against the measured gradient-noise variance."""
        problem = spec.problem()
        n_lo, n_up = problem.lower.n_rows, problem.upper.n_rows
        eta_in = 0.5 * float(np.nanmedian(trace["eta_in"]))
        eta_out = 0.5 * float(np.nanmedian(trace["eta_out"]))
        steps = StepChoice(eta_in=Constant(eta_in), eta_out=Constant(eta_out),
                           how=f"constant eta_in={fmt(eta_in)}, eta_out={fmt(eta_out)} (half the median steps of the deterministic run)")  # fmt: skip
        k_noise = max(32, profile.k_max // 2)
        theta0 = problem.theta0
        ev = Evaluator(problem)
        full_grad = np.asarray(ev.penalised(theta0, RHO, FULL).grad_F)

        def floor(sampler: MiniBatch | None) -> float:
            res = run_ofmu(spec, rho=RHO, inner_steps=T_NOISE, max_steps=k_noise, steps=steps, sampler=sampler)
            if len(res.iterates) < k_noise + 1:
                return float("inf")
            # min_k E‖∇F(θ_k)‖² at stationarity: the mean over the last quarter of one run estimates the
            # expectation (a running minimum of one noisy run would be biased low)
            g2 = penalised_at(spec, res.iterates[-(k_noise // 4):], RHO, grad=True)
            return float(np.mean(g2))

        base = floor(None)
        sig2, level, sizes = [], [], []
        for b in profile.batch_grid:
            if b >= min(n_lo, n_up):
                continue
            sampler = MiniBatch(n_lower=n_lo, n_upper=n_up, batch_lower=b, batch_upper=b, seed=spec.kwargs().get("seed", 0))
            dev = [np.asarray(ev.penalised(theta0, RHO, sampler.draw(i)).grad_F) - full_grad for i in range(profile.noise_draws)]
            sig2.append(float(np.mean([d @ d for d in dev])))
            level.append(floor(sampler))
            sizes.append(b)
        sig2, level = np.asarray(sig2), np.asarray(level)
        order = np.argsort(sig2)
        # O(σ²): the stationary level is at most A + Cσ², so it grows at most linearly in σ² (exponent −1 in n = σ²)
        check = rate_check("sigma2_exponent", sig2[order], level[order], exponent=-1.0, whole=True,
                           what="stationary level of ‖∇F_ρ‖² against σ² (at most linear growth; all batch sizes)")  # fmt: skip
        series = Series.of("stationary level", sig2[order], level[order], bound=anchored(sig2[order], level[order], -1.0),
                           bound_label="claimed A + Cσ² ≤ C'σ² (anchored)", xlabel="σ²", ylabel="mean ‖∇F_ρ‖² (last quarter)",
                           panel="vs σ²")  # fmt: skip
        return {
            "check": check, "series": series,
            "note": f"noise sweep: batch sizes {sizes}, K={k_noise}, T={T_NOISE}, {steps.how}; full-batch level {fmt(base)}",
            "setting": {"batch_sizes": sizes, "sigma2": sig2.tolist(), "level": level.tolist(), "full_batch_level": base,
                        "k": k_noise, "T": T_NOISE, "eta_in": eta_in, "eta_out": eta_out},
        }  # fmt: skip
