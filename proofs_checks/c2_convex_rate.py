"""C2 — the convex two-loop rate O(1/K) + O(K/T²) of OFMU at fixed ρ, read on several quantities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ofmu_theory.solvers import SOLVERS
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.evidence import FamilyResult, Series, fmt
from proofs_checks.instances import InstanceSpec, family_names, penalised_minimiser, specs
from proofs_checks.profiles import Profile
from proofs_checks.rates import reading_check
from proofs_checks.readings import POINTS, Reading, bilevel_checks, bilevel_readings, run_sweeps
from proofs_checks.sweeps import penalised_at, step_rules

RHO = 1.0
"""The fixed penalty of the sweep (the claim is for any fixed ρ; ρ = 1 keeps L_F small)."""

F_READING = Reading(id="F_ρ gap@θ_K [T=K]", quantity="F_ρ(θ_K) − F_ρ* (β = 0, ρ fixed)", point="outer", design="TK",
                    role="finding")  # fmt: skip


def make_ofmu(spec: InstanceSpec, rho: float = RHO):
    """T, K → OFMU with β = 0, fixed ρ, η_in = 1/L_Φ and η_out = 1/L_F(ρ) where known (else Armijo)."""
    steps = step_rules(spec, rho)

    def make(T: int, K: int):
        return SOLVERS.get("ofmu")(beta=0.0, sim="none", rho=rho, gamma=1.0, inner_steps=T, eta_in=steps.eta_in,
                                   eta_out=steps.eta_out, max_steps=K)  # fmt: skip

    return make, steps


@CLAIMS.register("C2")
@dataclass(frozen=True, kw_only=True)
class ConvexRate(Claim):
    """After K outer and T inner steps the error is O(1/K) + O(K/T²); which error is a reading."""

    id = "C2"
    example = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0, start="random")
    title = "Convex two-loop rate O(1/K) + O(K/T²)"
    statement = (
        "In the convex regime (Φ concave, L_r convex), OFMU with T inner ascent steps per outer step reaches an error "
        "O(1/K) + O(K/T²) at fixed ρ. The paper does not say which error: each reading (quantity, evaluation point, "
        "sweep design) gets its own verdict."
    )
    latex = r"e(\theta_K \text{ or } \tilde\theta_K) \le \frac{C_1}{K} + \frac{C_2 K}{T^2}"
    source = (
        "arXiv 2509.22483, convex-regime theorem (statement reconstructed from summaries; the measured quantity is not "
        "stated; docs/claims.md)"
    )
    assumptions = (
        "Φ concave and L_r convex (the convex families), β = 0 (the cosine term breaks concavity)",
        "fixed ρ = 1; η_in = 1/L_Φ, η_out = 1/L_F(ρ) where the family knows them, else Armijo",
        "random starts (θ_0 with no component along θ*); the lower level of the bilevel readings is argmax σL_f (β = 0)",
        "gaps decay like the rate, a distance like its square root",
    )
    applies_to = "convex families; the verdicts are split by form (unlearning: no block; classical: a block)"
    measured_quantity = (
        "at θ̃_K: ‖θ̃_K − θ*‖, the lower-level gap and the upper-level gap on a K-sweep with T = K, and their floors "
        "against T at K = K_max; at θ_K: ‖θ_K − θ*‖ and F_ρ(θ_K) − F_ρ* (a finding: OFMU does not minimise F_ρ)"
    )
    expected = "gaps O(1/K), distances O(1/√K) with T = K; excess over the 1/K term O(K/T²) against T"
    readings = bilevel_readings(t_power=2.0) + (F_READING,)

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        return specs(family_names(convex=True), profile.name, profile.seeds, seed, start="random")

    def searchable(self, family: str) -> bool:
        # on the classical form a violation is the block behaviour (B1), explained, not a counterexample to a rate
        from ofmu_theory.family import FAMILIES

        return family in FAMILIES.names() and FAMILIES.get(family).form == "unlearning"

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family = spec.instance()
        k_max = profile.horizon(profile.k_sweep_max, search=search)
        k_floor = profile.horizon(profile.k_max, search=search)
        t_grid = profile.t_grid[:5] if search else profile.t_grid
        make, steps = make_ofmu(spec)
        data = run_sweeps(spec, make, k_max=k_max, k_floor=k_floor, t_grid=t_grid)
        checks = bilevel_checks(data, self.readings)
        notes = [f"steps: {steps.how}", f"start: {spec.start}", f"form: {family.form}"]
        series = _series(data)
        setting = {"rho": RHO, "beta": 0.0, "k_sweep": data.ks.tolist(), "T_of_K": "T = K", "k_floor": k_floor,
                   "t_grid": list(t_grid), "steps": steps.to_dict()}  # fmt: skip
        finding = _penalised_finding(spec, data)
        if finding is not None:
            check, note, f_series, extra = finding
            checks.append(check)
            notes.append(note)
            series.append(f_series)
            setting |= extra
        else:
            notes.append("F_ρ reading skipped: no F_ρ* (no closed-form θ_ρ and Θ is not a box)")
        headline = tuple(r.id for r in self.readings if r.role == "primary")
        measured = "; ".join(
            f"{key} at θ̃_{int(data.ks[-1])}: {fmt(v[-1])}" for key, v in data.tilde.items()
        ) + "; " + "; ".join(f"{key} at θ_{int(data.ks[-1])}: {fmt(v[-1])}" for key, v in data.outer.items())
        return FamilyResult(
            claim=self.id, family=spec.family, params=spec.record(), setting=setting,
            expected="gaps O(1/K), distance O(1/√K) (T = K); excess O(K/T²)", measured=measured, checks=tuple(checks),
            series=tuple(series), notes=tuple(notes), form=family.form, headline=headline,
        )  # fmt: skip


def _series(data) -> list[Series]:
    out = []
    for key, v in data.tilde.items():
        out.append(Series.of(f"{key} at θ̃", data.ks, v, xlabel="K (T = K)", ylabel="quantity", panel="bilevel at θ̃"))
    for key, v in data.outer.items():
        out.append(Series.of(f"{key} at θ_K", data.ks, v, xlabel="K (T = K)", ylabel="quantity", panel="bilevel at θ_K"))
    for key, v in data.floor.items():
        out.append(Series.of(f"{key} at θ̃, K={data.k_floor}", data.ts, v, xlabel="T", ylabel="quantity", panel="floor vs T"))
    return out


def _penalised_finding(spec: InstanceSpec, data):
    """The F_ρ reading at θ_K, with F_ρ(θ*) − F_ρ* beside the measured floor (None without F_ρ*)."""
    family = spec.instance()
    constraint = family.constraint()
    if family.penalised_solution(RHO) is None and constraint is not None and type(constraint).__name__ != "Box":
        return None
    theta_rho, how = penalised_minimiser(spec, RHO)
    f_star = float(penalised_at(spec, theta_rho[None, :], RHO)[0])
    gap = np.maximum(penalised_at(spec, data.outer_iterates, RHO) - f_star, 0.0)
    scale = max(abs(float(penalised_at(spec, np.asarray(spec.problem().theta0)[None, :], RHO)[0])), abs(f_star))
    check = reading_check(F_READING.id, data.ks, gap, exponent=1.0, scale=scale, reading=F_READING.id,
                          what=f"{F_READING.quantity} at {POINTS['outer']}, T = K")  # fmt: skip
    note = "F_ρ reading: θ_ρ by " + how
    extra = {"F_star": f_star}
    star = family.solution()
    if star is not None:
        at_star = float(penalised_at(spec, np.asarray(star)[None, :], RHO)[0]) - f_star
        note += f"; F_ρ(θ*) − F_ρ* = {fmt(at_star)} beside the measured floor {fmt(gap[-1])} at K = {int(data.ks[-1])}"
        extra["F_at_theta_star_gap"] = at_star
        check = _with_detail(check, f"F_ρ(θ*) − F_ρ* = {fmt(at_star)}, measured floor {fmt(gap[-1])}")
    extra["F_gap_floor"] = float(gap[-1])
    series = Series.of("F_ρ(θ_K) − F_ρ*", data.ks, gap, xlabel="K (T = K)", ylabel="F_ρ gap", panel="F_ρ at θ_K")
    return check, note, series, extra


def _with_detail(check, text: str):
    from dataclasses import replace

    return replace(check, detail=f"{check.detail}; {text}")
