"""C3 — non-convex stationarity O(1/K) + O(1/T) + O(σ²) of OFMU at fixed ρ."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ofmu_theory.evaluator import Evaluator
from ofmu_theory.sampler import MiniBatch
from ofmu_theory.steps import ConstantStep
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.c2_convex_rate import make_ofmu
from proofs_checks.evidence import Check, FamilyResult, Series, Verdict, fmt
from proofs_checks.instances import FULL, InstanceSpec, family_names, specs
from proofs_checks.profiles import Profile
from proofs_checks.rates import rate_check
from proofs_checks.readings import BilevelReference, Reading, bilevel_checks, bilevel_readings, run_sweeps
from proofs_checks.sweeps import StepChoice, anchored, penalised_at, run_ofmu

RHO = 1.0
"""The fixed penalty of the sweeps."""
T_NOISE = 4
"""Inner steps of the stochastic runs."""


SPURIOUS_FRACTION = 1e-2
"""A stationary point of F_ρ is spurious when its lower-level gap exceeds this fraction of the gap at θ_0."""
GRAD_READING = Reading(id="‖∇F_ρ‖²@θ_k [T=K]", quantity="min_{k≤K}‖∇F_ρ(θ_k)‖² (β = 0, ρ fixed)", point="outer",
                       design="TK", role="secondary")  # fmt: skip
NOISE_READING = "stationary level vs σ²"


def stationarity_outcome(check: Check, gap: float, gap0: float) -> Check:
    """The F_ρ-stationarity check with its outcome: "spurious stationary point" when the lower-level gap
    where the minimum of ‖∇F_ρ‖² is reached exceeds SPURIOUS_FRACTION × (the gap at θ_0), unless the
    check is violated anyway; never a pass."""
    if gap > SPURIOUS_FRACTION * gap0 and check.verdict is not Verdict.VIOLATED:
        return replace(check, verdict=Verdict.SPURIOUS, detail=(
            f"{check.detail}; spurious: the lower-level gap where the minimum is reached is {fmt(gap)} "
            f"> {SPURIOUS_FRACTION:g} × {fmt(gap0)} (the gap at θ_0)"))  # fmt: skip
    return replace(check, detail=f"{check.detail}; lower-level gap there {fmt(gap)}")


@CLAIMS.register("C3")
@dataclass(frozen=True, kw_only=True)
class NonconvexStationarity(Claim):
    """O(1/K) + O(1/T) + O(σ²) in the non-convex regime; the bilevel readings at θ̃ are primary."""

    id = "C3"
    example = InstanceSpec.of("bome_toy", seed=0, start="random")
    title = "Non-convex stationarity O(1/K) + O(1/T) + O(σ²)"
    statement = (
        "In the non-convex regime OFMU converges at the rate O(1/K) + O(1/T) + O(σ²), σ² the variance of the stochastic "
        "gradients. Primary readings: the lower-level gap and the distance to the solution at θ̃. The stationarity of "
        "F_ρ is a secondary reading; a stationary point of F_ρ with a large lower-level gap is its own outcome "
        "(\"spurious stationary point\"), never a pass."
    )
    latex = r"e(\tilde\theta_K) \le \frac{C_1}{K} + \frac{C_2}{T} + C_3\sigma^2"
    source = "arXiv 2509.22483, non-convex theorem (rate as given by one summary; the measured quantity is not stated)"
    assumptions = (
        "smooth L_f, L_r (Lipschitz gradients), bounded gradients; β = 0 in the sweeps (A1 measures β > 0)",
        "fixed ρ = 1; η_in = 1/L_Φ or Armijo, η_out = 1/L_F or Armijo (deterministic); random starts",
        f"spurious: lower-level gap at the best ‖∇F_ρ‖² point > {SPURIOUS_FRACTION:g}·(gap at θ_0)",
        "stochastic runs: constant steps (half the deterministic run's median steps), T = 4, batch size b on both levels",
    )
    applies_to = "non-convex families (deterministic sweeps; verdicts split by form); stochastic families for the σ² sweep"
    measured_quantity = (
        "at θ̃_K: the lower-level gap, ‖θ̃_K − θ*‖ (unique θ*), |L_r − L_r*| on a K-sweep with T = K and against T at "
        "K = K_max; min_k‖∇F_ρ(θ_k)‖² with the lower-level gap where it is reached; the stationary level of mini-batch "
        "runs against σ²"
    )
    expected = "gaps O(1/K), distance O(1/√K) with T = K; excess over the 1/K term O(1/T); level grows at most like σ²"
    readings = bilevel_readings(t_power=1.0, secondary=("upper",)) + (GRAD_READING,)

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        names = family_names(convex=False)
        if profile.name == "full":
            names += [n for n in family_names(convex=True, stochastic=True) if n not in names]
        return specs(names, profile.name, profile.seeds, seed, start="random")

    def searchable(self, family: str) -> bool:
        # on the classical form a violation is the block behaviour (B1), explained, not a counterexample to a rate
        from ofmu_theory.family import FAMILIES

        return family in FAMILIES.names() and FAMILIES.get(family).form == "unlearning"

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family = spec.instance()
        light = search or not family.constants().L_lower  # Armijo line searches cost several evaluations a step
        k_max = max(16, profile.k_sweep_max // 4) if light else profile.k_sweep_max
        k_floor = profile.horizon(profile.k_max, search=light)
        t_grid = profile.t_grid[:5] if light else profile.t_grid
        make, steps = make_ofmu(spec, RHO)
        data = run_sweeps(spec, make, k_max=k_max, k_floor=k_floor, t_grid=t_grid)
        checks = bilevel_checks(data, self.readings)
        ref = BilevelReference(spec)
        # ‖∇F_ρ‖² at θ_k along each K-sweep run (T = K): the running minimum at K, and the point reaching it
        best, best_gap = [], []
        for it in data.runs:
            finite = np.all(np.isfinite(it), axis=1)
            g2 = np.full(len(it), np.inf)
            g2[finite] = penalised_at(spec, it[finite], RHO, grad=True)
            g2 = np.where(np.isfinite(g2), g2, np.inf)
            i = int(np.argmin(g2))
            best.append(float(g2[i]))
            best_gap.append(ref.lower(it[i]))
        best = np.asarray(best)
        g0 = float(penalised_at(spec, np.asarray(spec.problem().theta0)[None, :], RHO, grad=True)[0])
        grad_check = rate_check(GRAD_READING.id, data.ks, best, exponent=1.0, scale=g0, reading=GRAD_READING.id,
                                what=f"{GRAD_READING.quantity}, T = K")  # fmt: skip
        checks.append(stationarity_outcome(grad_check, best_gap[-1], data.scales.get("lower", 1.0)))
        series = [
            *[Series.of(f"{key} at θ̃", data.ks, v, xlabel="K (T = K)", ylabel="quantity", panel="bilevel at θ̃")
              for key, v in data.tilde.items()],
            Series.of("min ‖∇F_ρ‖²", data.ks, best, xlabel="K (T = K)", ylabel="min_k ‖∇F_ρ‖²", panel="F_ρ stationarity"),
            Series.of("lower gap there", data.ks, best_gap, xlabel="K (T = K)", ylabel="lower gap", panel="F_ρ stationarity"),
            *[Series.of(f"{key} at θ̃, K={data.k_floor}", data.ts, v, xlabel="T", ylabel="quantity", panel="floor vs T")
              for key, v in data.floor.items()],
        ]  # fmt: skip
        notes = [f"steps: {steps.how}", f"start: {spec.start}", f"form: {family.form}"]
        if light and not search:
            notes.append(f"no L_lower: Armijo line searches, sweeps reduced to K ≤ {k_max} (T = K), K_floor = {k_floor}, T ≤ {max(t_grid)}")
        setting = {"rho": RHO, "beta": 0.0, "k_sweep": data.ks.tolist(), "T_of_K": "T = K", "k_floor": k_floor,
                   "t_grid": list(t_grid), "steps": steps.to_dict(), "min_grad_F2": best.tolist(),
                   "lower_gap_at_min": best_gap}  # fmt: skip
        if type(family).stochastic and not search:
            trace = run_ofmu(spec, rho=RHO, inner_steps=T_NOISE, max_steps=32, steps=steps).trace
            noise = self._noise_sweep(spec, profile, trace)
            checks.append(replace(noise["check"], reading=NOISE_READING))
            series.append(noise["series"])
            notes.append(noise["note"])
            setting["noise"] = noise["setting"]
        measured = "; ".join(f"{key} at θ̃_{int(data.ks[-1])}: {fmt(v[-1])}" for key, v in data.tilde.items()) + (
            f"; min‖∇F_ρ‖² {fmt(best[-1])} (lower gap there {fmt(best_gap[-1])})"
        )
        headline = tuple(r.id for r in self.readings if r.role == "primary")
        return FamilyResult(
            claim=self.id, family=spec.family, params=spec.record(), setting=setting,
            expected="gaps O(1/K), distance O(1/√K) (T = K); excess O(1/T); F_ρ stationarity not spurious",
            measured=measured, checks=tuple(checks), series=tuple(series), notes=tuple(notes), form=family.form,
            headline=headline,
        )  # fmt: skip

    def _noise_sweep(self, spec: InstanceSpec, profile: Profile, trace) -> dict:
        """Floors of stochastic runs (constant steps) against the measured gradient-noise variance."""
        problem = spec.problem()
        n_lo, n_up = problem.lower.n_rows, problem.upper.n_rows
        eta_in = 0.5 * float(np.nanmedian(trace["eta_in"]))
        eta_out = 0.5 * float(np.nanmedian(trace["eta_out"]))
        steps = StepChoice(eta_in=ConstantStep(eta_in), eta_out=ConstantStep(eta_out),
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
