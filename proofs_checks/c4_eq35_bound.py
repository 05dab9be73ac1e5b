"""C4 — the paper's Eq. 35, ‖∇F‖² ≤ 2G_r² + 8ρ²H²‖∇Φ‖², at every iterate of OFMU runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ofmu_theory.solvers import SOLVERS
from ofmu_theory.steps import Armijo
from proofs_checks.claim import CLAIMS, Claim
from proofs_checks.evidence import Check, FamilyResult, Series, Verdict, fmt
from proofs_checks.instances import InstanceSpec, family_names, specs
from proofs_checks.profiles import Profile
from proofs_checks.rates import bound_check

BETA = 0.1
"""β of the similarity runs (the signed cosine, as in the paper)."""
RHO0, GAMMA, RHO_CAP = 1.0, 1.02, 100.0
"""The paper's growing penalty ρ_{k+1} = γρ_k, with a (reconstructed) cap."""
INNER_STEPS = 5
ARMIJO = Armijo(eta0=0.7)
"""Backtracking from 0.7, not 1: a unit step solves a quadratic lower level exactly, and the core's trace then
records hvp_ratio = 0/0 = NaN, which its run loop reads as divergence (reported to the core's owners)."""


@CLAIMS.register("C4")
@dataclass(frozen=True, kw_only=True)
class Eq35Bound(Claim):
    """Eq. 35 with G_r and H the measured running maxima; and whether its right side can vanish."""

    id = "C4"
    example = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0)
    title = "Eq. 35 gradient bound"
    statement = (
        "Along the run, ‖∇F_ρ‖² ≤ 2G_r² + 8ρ²H²‖∇Φ‖² with ‖∇L_r‖ ≤ G_r and ‖∇²Φ‖ ≤ H (here the running maxima "
        "measured so far). Reviewers: the 2G_r² term does not vanish, so the bound alone cannot prove ε-stationarity."
    )
    latex = r"\|\nabla F_{\rho_k}(\tilde\theta_k)\|^2 \le 2G_r^2 + 8\rho_k^2H^2\|\nabla\Phi(\tilde\theta_k)\|^2"
    source = "arXiv 2509.22483 Eq. 35 (from ∇F = ∇L_r + 2ρ∇²Φ∇Φ and ‖a + b‖² ≤ 2‖a‖² + 2‖b‖²); reviews of the paper"
    assumptions = (
        "G_r = max_{j≤k}‖∇L_r(θ̃_j)‖ and H = max_{j≤k} ‖∇²Φ w_j‖/‖w_j‖ (hvp_ratio: a lower bound on ‖∇²Φ‖) — measured",
        f"OFMU with β ∈ {{0, {BETA}}} (signed), T = {INNER_STEPS}, ρ_k = min({RHO0}·{GAMMA}^k, {RHO_CAP}), Armijo steps from 0.7",
        "with a constraint Θ, ∇F_ρ has the gradient mapping's extra term, which Eq. 35 does not account for",
    )
    applies_to = "every family"
    measured_quantity = "‖∇F_ρ‖², G_r, H and ‖∇Φ‖ at the evaluation point θ̃_k of every outer step (solver trace)"
    expected = "ratio ‖∇F‖²/(2G_r² + 8ρ²H²‖∇Φ‖²) ≤ 1 at every iterate; right side stays ≥ 2G_r² > 0"

    def instances(self, profile: Profile, seed: int) -> list[InstanceSpec]:
        return specs(family_names(), profile.name, profile.seeds, seed)

    def searchable(self, family: str) -> bool:
        return family in ("l1_regression", "shen_chen")

    def check(self, spec: InstanceSpec, profile: Profile, *, search: bool = False) -> FamilyResult:
        family, problem = spec.instance(), spec.problem()
        c = family.constants()
        steps = profile.horizon(profile.eq35_steps, search=search)
        checks: list[Check] = []
        series: list[Series] = []
        notes: list[str] = []
        setting: dict = {"rho0": RHO0, "gamma": GAMMA, "rho_cap": RHO_CAP, "inner_steps": INNER_STEPS, "steps": steps}
        for beta in (0.0, BETA):
            tag = f"beta={beta:g}"
            solver = SOLVERS.get("ofmu")(
                beta=beta, sim="signed" if beta else "none", rho=RHO0, gamma=GAMMA, rho_cap=RHO_CAP,
                inner_steps=INNER_STEPS, eta_in=ARMIJO, eta_out=ARMIJO, max_steps=steps,
            )  # fmt: skip
            run = solver.run(problem)
            tr, status = run.trace, run.status.name
            lhs = tr["grad_F_norm"] ** 2
            G = np.fmax.accumulate(tr["grad_r_norm"])
            H = np.fmax.accumulate(np.nan_to_num(tr["hvp_ratio"], nan=0.0))
            rho, res = tr["rho"], tr["grad_phi_norm"]
            rhs = 2 * G**2 + 8 * rho**2 * H**2 * res**2
            ks = np.arange(1, len(lhs) + 1)
            checks.append(bound_check(f"eq35_measured_{tag}", lhs, rhs, what=f"{tag}: ‖∇F‖² against 2G_r² + 8ρ²H²‖∇Φ‖²"))
            floor = 2 * G[-1] ** 2 if len(G) else math.nan
            checks.append(Check(
                name=f"rhs_vanishes_{tag}", kind="info", measured=float(rhs[-1]) if len(rhs) else math.nan, predicted=0.0,
                margin=-floor, verdict=Verdict.VIOLATED, primary=False,
                detail=(f"{tag}: the right side ends at {fmt(rhs[-1] if len(rhs) else math.nan)} ≥ 2G_r² = {fmt(floor)} "
                        f"while ‖∇F‖² ends at {fmt(lhs[-1] if len(lhs) else math.nan)}: the bound does not go to zero"),
            ))  # fmt: skip
            h_max = float(np.nanmax(np.nan_to_num(tr["hvp_ratio"], nan=0.0))) if len(lhs) else math.nan
            notes.append(f"{tag}: max H (hvp_ratio) = {fmt(h_max)}, "
                         f"max G_r = {fmt(G[-1] if len(G) else math.nan)}, {len(lhs)} steps, status {status}")  # fmt: skip
            if beta == 0 and c.G_upper and c.H_phi:
                rhs_c = 2 * c.G_upper**2 + 8 * rho**2 * c.H_phi**2 * res**2
                checks.append(bound_check(
                    "eq35_constants_beta=0", lhs, rhs_c, primary=False,
                    what=f"β=0 with the family's constants G_upper={fmt(c.G_upper)}, H_phi={fmt(c.H_phi)} (valid on their region)",
                ))  # fmt: skip
            series += [
                Series.of(f"‖∇F‖², {tag}", ks, lhs, bound=rhs, bound_label=f"2G_r² + 8ρ²H²‖∇Φ‖², {tag}",
                          xlabel="k", ylabel="squared norm", panel=tag),
            ]  # fmt: skip
        if family.constraint() is not None:
            notes.append("Θ is constrained: ∇F_ρ includes the gradient mapping's term (JΠᵀR − R)/η, outside Eq. 35's derivation")
        primary = [ch for ch in checks if ch.primary]
        measured = "; ".join(f"{ch.name}: max ratio {fmt(ch.measured)}" for ch in primary)
        return FamilyResult(
            claim=self.id, family=spec.family, params=family.params(), setting=setting,
            expected="max ratio ≤ 1 (and RHS ≥ 2G_r² > 0: never ε-small)", measured=measured,
            checks=tuple(checks), series=tuple(series), notes=tuple(notes),
        )  # fmt: skip
