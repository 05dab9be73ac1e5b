"""Classical results the checker must find true (and, broken on purpose, false): the calibration layer.

Each function runs one textbook experiment through the core's solvers and returns its checks;
the keyword arguments that default to the textbook values (``step_scale``, ``bound_scale``,
``exponent``) are how the self-tests build cases that must come out "violated":

* :func:`convex_gd` — GD with step 1/L on a convex L-smooth f: f(x_k) − f* ≤ L‖x_0 − x*‖²/(2k);
* :func:`nonconvex_gd` — GD with step 1/L on an L-smooth f: min_{i<k}‖G_i‖² ≤ 2L(f(x_0) − f(x_k))/k
  (G the gradient mapping under a constraint; f(x_k) ≥ f_inf makes this the stronger form);
* :func:`linear_rate` — under strong convexity ‖x_k − x*‖² ≤ (1 − μ/L)^k‖x_0 − x*‖², under PL
  f(x_k) − f* ≤ (1 − μ/L)^k (f(x_0) − f*).

:class:`NesterovQuadratic` is Nesterov's worst-case quadratic (d ≫ K): convex, smooth, without
strong convexity on the horizon of a run, so a 1/K check on it is not vacuous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ofmu_theory.family import Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import BilevelProblem, Constants
from ofmu_theory.result import Result
from ofmu_theory.sampler import Sampler
from ofmu_theory.solvers import SOLVERS
from proofs_checks.evidence import Check
from ofmu_theory.evaluator import Evaluator
from proofs_checks.instances import BUILTIN_FAMILIES, FULL
from proofs_checks.rates import bound_check, contraction_check


# --- Nesterov's worst-case quadratic -----------------------------------------------------------
def _nesterov_value(theta: Any, data: Any, xp: Any) -> Any:
    L = data["L"]
    return (L / 4.0) * (0.5 * (theta[0] ** 2 + xp.sum((theta[1:] - theta[:-1]) ** 2) + theta[-1] ** 2) - theta[0])


def _nesterov_hvp(theta: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    Av = 2.0 * v
    Av[1:] -= v[:-1]
    Av[:-1] -= v[1:]
    return (data["L"] / 4.0) * Av


def _nesterov_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    g = _nesterov_hvp(theta, theta, data)
    g[0] -= data["L"] / 4.0
    return g


def _zero_value(theta: Any, data: Any, xp: Any) -> Any:
    return 0.0 * xp.sum(theta)


def _zeros(theta: np.ndarray, *args: Any) -> np.ndarray:
    return np.zeros_like(theta)


@dataclass(frozen=True, kw_only=True)
class NesterovQuadratic(Family):
    """f(x) = (L/4)(½[x_1² + Σ(x_i − x_{i+1})² + x_d²] − x_1), the upper level; the lower level is 0.

    x*_i = 1 − i/(d + 1), f* = (L/8)(1/(d + 1) − 1), x_0 = 0 (Nesterov, Lectures on Convex
    Optimization, §2.1.2). ∇²f = (L/4)·tridiag(−1, 2, −1) has spectrum in (0, L): convex, L-smooth,
    and its smallest eigenvalue (≈ Lπ²/(4(d+1)²)) is negligible on a horizon K ≪ d.
    """

    regime: ClassVar[str] = "convex, L-smooth, not strongly convex on the horizon (Nesterov's worst-case quadratic)"
    convex: ClassVar[bool] = True
    sense: ClassVar[str] = "min"

    d: int
    L: float
    data: dict = field(repr=False, default_factory=dict)

    @classmethod
    def sample(cls, *, seed: int = 0, d: int = 2049, L: float = 1.0) -> NesterovQuadratic:
        if d < 2 or not L > 0:
            raise ValueError(f"need d >= 2 and L > 0, got d={d}, L={L}")
        return cls(seed=seed, d=int(d), L=float(L), data={"L": float(L)})

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        zero = ArrayObjective(value=_zero_value, grad=_zeros, hvp=_zeros, d3=_zeros)
        upper = ArrayObjective(value=_nesterov_value, grad=_nesterov_grad, hvp=_nesterov_hvp, d3=_zeros, data=self.data)
        return zero, upper

    def theta0(self) -> np.ndarray:
        return np.zeros(self.d)

    def constants(self) -> Constants:
        return Constants(L_lower=0.0, L_upper=self.L, mu_upper=0.0, M_lower=0.0)

    def solution(self) -> np.ndarray:
        return 1.0 - np.arange(1, self.d + 1) / (self.d + 1)

    def optimal_value(self) -> float:
        return (self.L / 8.0) * (1.0 / (self.d + 1) - 1.0)

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "d": self.d, "L": self.L}


BUILTIN_FAMILIES["nesterov_quadratic"] = NesterovQuadratic


# --- gradient descent runs -----------------------------------------------------------------------
LEVELS = ("upper", "lower", "penalty")


def gd(
    problem: BilevelProblem, *, level: str, eta: float, steps: int, sampler: Sampler | None = None, rho: float = 1.0
) -> Result:
    """GD through the core's solvers: ``scalarized`` on L_r (``level="upper"``) or on −σL_lower (``"lower"``:
    ascent on Φ), ``grad-penalty`` (single loop) on F_ρ (``"penalty"``)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if level == "penalty":
        solver = SOLVERS.get("grad-penalty")(rho=rho, eta_out=eta, max_steps=steps)
    else:
        weights = {"upper": (0.0, 1.0), "lower": (1.0, 0.0)}[level]
        solver = SOLVERS.get("scalarized")(forget_weight=weights[0], retain_weight=weights[1], eta=eta, max_steps=steps)
    return solver.run(problem, sampler=sampler, record_iterates=True)


def objective(problem: BilevelProblem, level: str, x: np.ndarray, rho: float = 1.0) -> float:
    """The minimised function of :func:`gd`: L_r, −σL_lower or F_ρ."""
    if level == "upper":
        return float(problem.upper.value(x))
    if level == "penalty":
        return Evaluator(problem).penalised_value(x, rho, FULL)
    return -problem.sigma * float(problem.lower.value(x))


def mapping_norms2(problem: BilevelProblem, level: str, iterates: np.ndarray, L: float) -> np.ndarray:
    """‖G(x)‖² with G = L(x − Π(x − ∇f/L)) (= ‖∇f‖² without a constraint) at each iterate."""
    out = np.empty(len(iterates))
    for i, x in enumerate(iterates):
        if level == "upper":
            g = np.asarray(problem.upper.value_and_grad(x)[1])
        else:
            g = -problem.sigma * np.asarray(problem.lower.value_and_grad(x)[1])
        step = x - g / L
        if problem.constraint is not None:
            step = problem.constraint.project(step)
        G = L * (x - step)
        out[i] = float(G @ G)
    return out


def convex_gd(
    problem: BilevelProblem, *, level: str, L: float, x_star: np.ndarray, f_star: float, steps: int,
    step_scale: float = 1.0, bound_scale: float = 1.0, rho: float = 1.0, sampler: Sampler | None = None,
) -> tuple[list[Check], dict[str, np.ndarray]]:
    """GD with step step_scale/L; checks f(x_k) − f* ≤ bound_scale·L‖x_0 − x*‖²/(2k) for k = 1..K."""
    res = gd(problem, level=level, eta=step_scale / L, steps=steps, rho=rho, sampler=sampler)
    it = res.iterates
    gaps = np.array([objective(problem, level, x, rho) - f_star for x in it[1:]])
    if len(gaps) < steps:  # diverged
        gaps = np.concatenate([gaps, np.full(steps - len(gaps), np.inf)])
    k = np.arange(1, steps + 1)
    r0 = float(np.sum((it[0] - x_star) ** 2))
    bound = bound_scale * L * r0 / (2.0 * k)
    check = bound_check("gd_convex_bound", gaps, bound, what=f"f(x_k) − f* against {bound_scale:g}·L‖x_0 − x*‖²/(2k), η = {step_scale:g}/L")
    return [check], {"k": k, "gap": gaps, "bound": bound}


def nonconvex_gd(
    problem: BilevelProblem, *, level: str, L: float, steps: int, step_scale: float = 1.0, bound_scale: float = 1.0,
) -> tuple[list[Check], dict[str, np.ndarray]]:
    """GD with step step_scale/L; checks min_{i<k}‖G_i‖² ≤ bound_scale·2L(f(x_0) − f(x_k))/k."""
    res = gd(problem, level=level, eta=step_scale / L, steps=steps)
    it = res.iterates
    f = np.array([objective(problem, level, x) for x in it])
    g2 = mapping_norms2(problem, level, it, L)
    n = len(it) - 1
    k = np.arange(1, steps + 1)
    best = np.full(steps, np.inf)
    best[:n] = np.minimum.accumulate(g2[:-1])[:n]
    bound = np.full(steps, -np.inf)  # a diverged run (f(x_k) non-finite) violates every bound
    bound[:n] = bound_scale * 2.0 * L * (f[0] - f[1 : n + 1]) / k[:n]
    check = bound_check("gd_nonconvex_bound", best, bound,
                        what=f"min_(i<k)‖G_i‖² against {bound_scale:g}·2L(f(x_0) − f(x_k))/k, η = {step_scale:g}/L")  # fmt: skip
    if n < steps:
        check = bound_check("gd_nonconvex_bound", np.array([np.inf]), np.array([0.0]), what="GD diverged")
    return [check], {"k": k, "min_g2": best, "bound": bound}


def linear_rate(
    problem: BilevelProblem, *, level: str, L: float, mu: float, steps: int, error: str,
    x_star: np.ndarray | None = None, f_star: float | None = None, step_scale: float = 1.0,
    factor_scale: float = 1.0, rho: float = 1.0,
) -> tuple[list[Check], dict[str, np.ndarray]]:
    """GD with step step_scale/L; checks e_k ≤ q^k e_0 with q = factor_scale·(1 − μ/L), and fits the factor.

    ``error`` is "distance" (e = ‖x − x*‖², strong convexity) or "value" (e = f − f*, PL).
    """
    res = gd(problem, level=level, eta=step_scale / L, steps=steps, rho=rho)
    it = res.iterates
    if error == "distance":
        e = np.sum((it - x_star) ** 2, axis=1)
    else:
        e = np.maximum(np.array([objective(problem, level, x, rho) for x in it]) - f_star, 0.0)
    if len(e) < steps + 1:
        e = np.concatenate([e, np.full(steps + 1 - len(e), np.inf)])
    k = np.arange(steps + 1)
    q = factor_scale * (1.0 - mu / L)
    bound = e[0] * q**k
    floor = 1e-13 * max(e[0], 1e-300)  # round-off: compare only where the bound is above it
    keep = bound > floor
    checks = [
        bound_check(f"linear_{error}_bound", e[keep], bound[keep], what=f"{'‖x_k − x*‖²' if error == 'distance' else 'f(x_k) − f*'} against (1 − μ/L)^k·e_0, μ = {mu:g}, L = {L:g}"),
        contraction_check(f"linear_{error}_factor", k, e, predicted=q, what="fitted factor of e_k"),
    ]  # fmt: skip
    return checks, {"k": k, "error": e, "bound": bound}
