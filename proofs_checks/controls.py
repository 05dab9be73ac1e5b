"""The checker proves itself: controls run before any claim, in every report.

Positive controls are methods with textbook guarantees on instances whose constants are known;
they must come out **holds**. Negative controls are the same methods slowed on purpose; they must
come out **violated**. If any control does not come out as it must, the checker is broken: the
report says "checker failed" at the top and gives no claim verdicts.

* ``gd_penalty`` (positive): gradient descent with step 1/L_F on F_ρ (OFMU with T = 0, β = 0: the
  core's ``grad-penalty`` solver) on least_squares_projection from a random start, against
  F_ρ(θ_k) − F_ρ* ≤ L_F‖θ_0 − θ_ρ‖²/(2k); and the rate check without the constant.
* ``gd_nesterov`` (positive): gradient descent with step 1/L on Nesterov's worst-case quadratic,
  d = 2K + 1, against f(x_k) − f* ≤ L‖x_0 − x*‖²/(2k). Its slope on the horizon is about −½ (the
  bound holds because ‖x_0 − x*‖² grows with d): a slope fit alone would call it violated.
* ``slowed_bound`` and ``slowed_rate`` (negative): the run of ``gd_penalty`` with the steps
  η_k = 1/(L_F(k + 1)²) (their sum is finite: the gap stays above a positive level), against the same
  bound and against the 1/K rate check without a constant. (Nesterov's quadratic with d = 2K + 1 cannot serve
  here: its bound L‖x_0 − x*‖²/(2k) ≥ L/3 exceeds f(x_0) − f* ≈ L/8 for every k ≤ K, so no method
  violates it on the horizon.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ofmu_theory.evaluator import Evaluator
from ofmu_theory.schedules import Schedule
from ofmu_theory.solvers import SOLVERS
from ofmu_theory.steps import Scheduled
from proofs_checks.evidence import Check, Series, Verdict, combine
from proofs_checks.instances import FULL, InstanceSpec
from proofs_checks.profiles import Profile
from proofs_checks.rates import reading_check

RHO = 1.0
PENALTY_SPEC = InstanceSpec.of("least_squares_projection", start="random", seed=0, m=4, d=10, cond=3.0)


@dataclass(frozen=True)
class Slowed(Schedule):
    """s(k) = eta0/(k + 1)²: a step schedule slowed on purpose (the negative controls): Σ s(k) < ∞, so the
    iterates stop short of the minimiser and the gap stays above a positive level while any O(1/k) bound → 0."""

    eta0: float

    def __call__(self, k: int) -> float:
        return self.eta0 / (k + 1) ** 2


@dataclass(frozen=True, kw_only=True)
class ControlResult:
    """One control: what it runs, the verdict it must give, and its checks.

    Attributes:
        name: short key.
        kind: "positive" (must hold) or "negative" (must be violated).
        description: what runs, on what, against which bound.
        checks: its checks; a negative control needs every one violated, a positive one every one holding.
        series: curves for results.json.
    """

    name: str
    kind: str
    description: str
    checks: tuple[Check, ...]
    series: tuple[Series, ...] = ()

    @property
    def expected(self) -> Verdict:
        return Verdict.HOLDS if self.kind == "positive" else Verdict.VIOLATED

    @property
    def got(self) -> Verdict:
        if self.kind == "negative" and self.checks and all(c.verdict is Verdict.VIOLATED for c in self.checks):
            return Verdict.VIOLATED
        if self.kind == "negative":
            return combine([c.verdict for c in self.checks if c.verdict is not Verdict.VIOLATED])
        return combine([c.verdict for c in self.checks])

    @property
    def passed(self) -> bool:
        return self.got is self.expected

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description, "expected": self.expected.value,
                "got": self.got.value, "passed": self.passed, "checks": [c.to_dict() for c in self.checks],
                "series": [s.to_dict() for s in self.series]}  # fmt: skip


def _run(problem: Any, solver: Any, value: Any, f_star: float) -> np.ndarray:
    it = np.asarray(solver.run(problem, record_iterates=True).iterates, dtype=np.float64)
    gaps = np.array([value(x) - f_star for x in it[1:]])
    if len(gaps) < solver.max_steps:  # diverged: the gap is infinite from there on
        gaps = np.concatenate([gaps, np.full(solver.max_steps - len(gaps), np.inf)])
    return gaps


def penalty_run(profile: Profile, *, slowed: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """F_ρ(θ_k) − F_ρ* of GD on F_ρ (T = 0; step 1/L_F, or 1/(L_F(k + 1)²) when ``slowed``), the bound, the scale."""
    family, problem = PENALTY_SPEC.instance(), PENALTY_SPEC.problem()
    ev = Evaluator(problem)
    theta_rho = np.asarray(family.penalised_solution(RHO), dtype=np.float64)
    f_star = ev.penalised_value(theta_rho, RHO, FULL)
    L = family.constants().penalised_smoothness(RHO, 0.0)
    K = profile.control_steps // 4
    eta = Scheduled(Slowed(1.0 / L)) if slowed else 1.0 / L
    solver = SOLVERS.get("grad-penalty")(rho=RHO, eta_out=eta, max_steps=K)
    gaps = np.maximum(_run(problem, solver, lambda x: ev.penalised_value(x, RHO, FULL), f_star), 0.0)
    k = np.arange(1, K + 1)
    r0 = float(np.sum((np.asarray(problem.theta0) - theta_rho) ** 2))
    scale = abs(ev.penalised_value(np.asarray(problem.theta0), RHO, FULL))
    return k, gaps, L * r0 / (2.0 * k), scale


def gd_penalty(profile: Profile) -> ControlResult:
    """GD with step 1/L_F on F_ρ (T = 0) against its classical bound, and the rate check without it."""
    k, gaps, bound, scale = penalty_run(profile)
    checks = (
        reading_check("bound L_F‖θ_0 − θ_ρ‖²/(2k)", k, gaps, exponent=1.0, bound=bound, scale=scale, what="F_ρ(θ_k) − F_ρ*"),
        reading_check("rate 1/k (no constant)", k, gaps, exponent=1.0, scale=scale, what="F_ρ(θ_k) − F_ρ*"),
    )  # fmt: skip
    return ControlResult(
        name="gd_penalty", kind="positive",
        description=(f"GD, step 1/L_F, on F_ρ (ρ = {RHO:g}, T = 0, β = 0) on least_squares_projection (random start), "
                     f"K = {int(k[-1])}"),
        checks=checks, series=(Series.of("F_ρ gap", k, np.maximum(gaps, 1e-300), bound=bound, bound_label="L‖x0−x*‖²/(2k)"),),
    )  # fmt: skip


def slowed_penalty(profile: Profile) -> tuple[ControlResult, ControlResult]:
    """The same GD on F_ρ slowed on purpose (η_k = 1/(L_F(k + 1)²)): the bound and the rate check must both fail."""
    k, gaps, bound, scale = penalty_run(profile, slowed=True)
    series = (Series.of("F_ρ gap (slowed)", k, np.maximum(gaps, 1e-300), bound=bound, bound_label="L‖x0−x*‖²/(2k)"),)
    what = "F_ρ(θ_k) − F_ρ*, slowed steps"
    return (
        ControlResult(
            name="slowed_bound", kind="negative",
            description="the GD run of gd_penalty slowed on purpose (η_k = 1/(L_F(k + 1)²)), against L_F‖θ_0 − θ_ρ‖²/(2k)",
            checks=(reading_check("bound L_F‖θ_0 − θ_ρ‖²/(2k)", k, gaps, exponent=1.0, bound=bound, scale=scale, what=what),),
            series=series,
        ),
        ControlResult(
            name="slowed_rate", kind="negative",
            description="the same slowed run against the 1/K rate check without a constant (the claims' slope check)",
            checks=(reading_check("rate 1/k (no constant)", k, gaps, exponent=1.0, scale=scale, what=what),),
        ),
    )  # fmt: skip


def _nesterov(profile: Profile) -> tuple[Any, Any, float, float, int]:
    K = profile.control_steps
    spec = InstanceSpec.of("nesterov_quadratic", seed=0, d=2 * K + 1)
    inst = spec.instance()
    return spec.problem(), inst, inst.optimal_value(), inst.L, K


def gd_nesterov(profile: Profile) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """f(x_k) − f* of GD (step 1/L) on Nesterov's quadratic, the bound L‖x_0 − x*‖²/(2k), the scale."""
    problem, inst, f_star, L, K = _nesterov(profile)
    eta = 1.0 / L
    solver = SOLVERS.get("scalarized")(forget_weight=0.0, retain_weight=1.0, eta=eta, max_steps=K)
    gaps = _run(problem, solver, lambda x: float(problem.upper.value(x)), f_star)
    k = np.arange(1, K + 1)
    r0 = float(np.sum((np.asarray(problem.theta0) - inst.solution()) ** 2))
    return k, gaps, L * r0 / (2.0 * k), abs(float(problem.upper.value(problem.theta0)) - f_star)


def run_controls(profile: Profile) -> tuple[ControlResult, ...]:
    """Every control, positive first."""
    k, gaps, bound, scale = gd_nesterov(profile)
    K = int(k[-1])
    nesterov = ControlResult(
        name="gd_nesterov", kind="positive",
        description=f"GD, step 1/L, on Nesterov's worst-case quadratic, d = {2 * K + 1} ≥ 2K + 1, K = {K}",
        checks=(reading_check("bound L‖x_0 − x*‖²/(2k)", k, gaps, exponent=1.0, bound=bound, scale=scale,
                              what="f(x_k) − f*"),),  # fmt: skip
        series=(Series.of("f gap", k, gaps, bound=bound, bound_label="L‖x0−x*‖²/(2k)"),),
    )  # fmt: skip
    return (gd_penalty(profile), nesterov, *slowed_penalty(profile))
