"""Problem instances for the claims: which families, which parameters, and exact references.

An :class:`InstanceSpec` names a registered family and its parameters (seed included); the
instance and its numpy problem are built once and cached. The helpers here compute what the
claims need beyond a family's own references, and say how they got it:

* :func:`penalised_minimiser` — θ_ρ: the family's closed form where it has one, else a converged
  L-BFGS-B run on F_ρ started at θ* (monotone, so F_ρ(θ_ρ) ≤ F_ρ(θ*));
* :func:`upper_infimum` — inf L_r by multi-start L-BFGS-B (global for a convex upper level);
* :func:`lower_gap` — the lower-level gap max_y Φ(x, y) − Φ(θ) over the lower block: exact for
  a quadratic lower level (M_lower = 0), else a converged projected-ascent run.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.optimize import minimize

from ofmu_theory.constraints import Box
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.sampler import Batches, FullBatch

FULL: Batches = FullBatch().draw(0)
"""The full-batch 'batches' of every exact evaluation."""

def load_families() -> list[str]:
    """Import convex/ and nonconvex/ (and every public module in them) so their families register."""
    for package in ("convex", "nonconvex"):
        try:
            module = importlib.import_module(package)
        except ImportError:  # pragma: no cover - the packages are part of the repository
            continue
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package}.{info.name}")
    return FAMILIES.names()


BUILTIN_FAMILIES: dict[str, type[Family]] = {}
"""Calibration instances built into proofs_checks (not registered in FAMILIES: they are no unlearning problems)."""


@dataclass(frozen=True)
class InstanceSpec:
    """A family name, the parameters of one instance (seed included) and the experiment variant.

    Attributes:
        family: a registered family's name, or a built-in calibration instance's.
        params: the keyword arguments of ``sample`` as sorted pairs.
        variant: which experiment of a claim runs on the instance ("" when a claim has one).
        start: "family" (the family's θ_0, e.g. the model trained on both sets) or "random"
            (:func:`random_start`: a seeded Gaussian θ_0 with its component along θ* removed).
    """

    family: str
    params: tuple[tuple[str, Any], ...] = field(default=())
    variant: str = ""
    start: str = "family"

    def __post_init__(self) -> None:
        if self.start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(STARTS)}, got start={self.start!r}")

    @classmethod
    def of(cls, family: str, *, variant: str = "", start: str = "family", **params: Any) -> InstanceSpec:
        return cls(family, tuple(sorted(params.items())), variant, start)

    def with_params(self, **params: Any) -> InstanceSpec:
        """The same family, variant and start with other parameters."""
        return InstanceSpec(self.family, tuple(sorted(params.items())), self.variant, self.start)

    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def record(self) -> dict[str, Any]:
        """The parameters with the start (and, for a random start, its norm and cosine with θ*): for reports."""
        out = self.kwargs()
        if self.start != "family":
            out["start"] = self.start
            theta0 = np.asarray(self.problem().theta0, dtype=np.float64)
            out["start_norm"] = float(np.linalg.norm(theta0))
            star = self.instance().solution()
            if star is not None and np.linalg.norm(star) > 0 and np.linalg.norm(theta0) > 0:
                out["start_cos_theta_star"] = float(theta0 @ star / (np.linalg.norm(theta0) * np.linalg.norm(star)))
        return out

    def instance(self) -> Family:
        return _instance(self)

    def problem(self) -> BilevelProblem:
        return _problem(self)

    def label(self) -> str:
        """"family [variant]" for reports."""
        return f"{self.family} [{self.variant}]" if self.variant else self.family


def family_class(family: str) -> type[Family]:
    """The class of a registered family or a built-in calibration instance (its quick/full sizes: ``presets``)."""
    if family not in BUILTIN_FAMILIES and family not in FAMILIES:
        load_families()
    return BUILTIN_FAMILIES[family] if family in BUILTIN_FAMILIES else FAMILIES.get(family)


@lru_cache(maxsize=128)
def _instance_of(family: str, params: tuple[tuple[str, Any], ...]) -> Family:
    return family_class(family).sample(**dict(params))


def _instance(spec: InstanceSpec) -> Family:
    return _instance_of(spec.family, spec.params)


STARTS = ("family", "random")
RANDOM_START_SALT = 7919
"""Random starts draw from ``default_rng((seed, RANDOM_START_SALT))``: independent of the family's own draws."""


def random_start(family: Family, seed: int) -> np.ndarray:
    """A seeded θ_0 with no component along θ*: z ~ N(0, I), z ← z − (⟨z, θ*⟩/‖θ*‖²)θ*, scaled to
    the norm of the family's θ_0 (√d when that is 0), then projected onto Θ where there is one.

    The family's own θ_0 may already carry part of θ* (least_squares_projection's carries its
    null-space component), which hides the dynamics; this one does not.
    """
    theta0 = np.asarray(family.theta0(), dtype=np.float64)
    rng = np.random.default_rng((int(seed), RANDOM_START_SALT))
    z = rng.standard_normal(theta0.size)
    star = family.solution()
    if star is not None and float(np.linalg.norm(star)) > 0:
        star = np.asarray(star, dtype=np.float64)
        z -= (z @ star) / (star @ star) * star
    norm = float(np.linalg.norm(theta0)) or float(np.sqrt(theta0.size))
    z *= norm / float(np.linalg.norm(z))
    constraint = family.constraint()
    if constraint is not None:
        z = np.asarray(constraint.to("numpy").project(z), dtype=np.float64)
    return z


@lru_cache(maxsize=128)
def _problem_of(family: str, params: tuple[tuple[str, Any], ...], start: str = "family") -> BilevelProblem:
    problem = _instance_of(family, params).problem("numpy")
    if start == "random":
        theta0 = random_start(_instance_of(family, params), int(dict(params).get("seed", 0)))
        problem = problem.with_theta0(theta0)
    return problem


def _problem(spec: InstanceSpec) -> BilevelProblem:
    return _problem_of(spec.family, spec.params, spec.start)


def specs(
    families: list[str], profile_name: str, n_seeds: int, seed: int, *, variant: str = "", start: str = "family",
    **overrides: Any,
) -> list[InstanceSpec]:
    """One spec per (family, seed) with the profile's preset parameters (``overrides[family]`` win)."""
    available = set(load_families()) | set(BUILTIN_FAMILIES)
    out = []
    for name in families:
        if name not in available:
            continue
        presets = getattr(family_class(name), "presets", {})  # a family without presets: its sample defaults
        preset = dict(presets.get(profile_name, presets.get("quick", {})))  # other profiles use the quick sizes
        preset.update(overrides.get(name, {}))
        out.extend(InstanceSpec.of(name, variant=variant, start=start, seed=seed + i, **preset) for i in range(n_seeds))
    return out


def family_names(*, convex: bool | None = None, stochastic: bool | None = None) -> list[str]:
    """Registered families filtered by their class attributes."""
    names = []
    for name in load_families():
        cls = FAMILIES.get(name)
        if convex is not None and cls.convex is not convex:
            continue
        if stochastic is not None and cls.stochastic is not stochastic:
            continue
        names.append(name)
    return names


# --- references beyond the family's own -----------------------------------------------------
def _bounds(problem: BilevelProblem, family: Family) -> list[tuple[float | None, float | None]] | None:
    c = family.constraint()
    if c is None:
        return None
    if not isinstance(c, Box):
        raise ValueError(f"{type(c).__name__} constraint: only boxes are handled by the L-BFGS-B references")
    mask = np.ones(problem.dim) if c.mask is None else np.asarray(c.mask)
    return [(c.lo, c.hi) if m else (None, None) for m in mask]


def penalised_minimiser(spec: InstanceSpec, rho: float) -> tuple[np.ndarray, str]:
    """θ_ρ = argmin F_ρ (β = 0) and how it was obtained.

    Closed form where the family has ``penalised_solution``; else L-BFGS-B (exact ∇F_ρ from the
    evaluator, box bounds where Θ is a box) started at θ*, which only accepts decreasing steps,
    so the point returned satisfies F_ρ(θ_ρ) ≤ F_ρ(θ*) = L_r(θ*): Lemma 1's argument applies to it.
    """
    family = spec.instance()
    closed = family.penalised_solution(rho)
    if closed is not None:
        return np.asarray(closed, dtype=np.float64), "closed form (family.penalised_solution)"
    start = family.solution()
    if start is None:
        raise ValueError(f"{spec.family} has neither penalised_solution nor solution: θ_ρ cannot be computed")
    problem = spec.problem()
    ev = Evaluator(problem)

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        pen = ev.penalised(x, rho, FULL)
        return pen.F, np.asarray(pen.grad_F, dtype=np.float64)

    res = minimize(
        fun, np.asarray(start, dtype=np.float64), jac=True, method="L-BFGS-B", bounds=_bounds(problem, family),
        options={"maxiter": 20000, "maxcor": 30, "gtol": 1e-13, "ftol": 1e-16},
    )  # fmt: skip
    x = res.x
    if fun(x)[0] > fun(np.asarray(start, dtype=np.float64))[0]:  # cannot happen with a monotone line search
        x = np.asarray(start, dtype=np.float64)
    return x, f"L-BFGS-B on F_rho from theta* ({res.nit} iterations, |proj grad| {np.max(np.abs(res.jac)):.1e})"


def upper_infimum(spec: InstanceSpec, *, starts: int = 4) -> tuple[float, str]:
    """inf L_r by multi-start L-BFGS-B (θ_0, θ*, seeded Gaussian starts), over Θ when Θ is a box."""
    family, problem = spec.instance(), spec.problem()
    upper = problem.upper
    rng = np.random.default_rng(0)
    points = [np.asarray(family.theta0(), dtype=np.float64)]
    if family.solution() is not None:
        points.append(np.asarray(family.solution(), dtype=np.float64))
    scale = 1.0 + float(np.linalg.norm(points[0])) / np.sqrt(problem.dim)
    points += [scale * rng.standard_normal(problem.dim) for _ in range(starts - len(points))]
    bounds = _bounds(problem, family)
    best = np.inf
    for x0 in points:
        if bounds is not None:
            x0 = np.clip(x0, [b[0] if b[0] is not None else -np.inf for b in bounds],
                         [b[1] if b[1] is not None else np.inf for b in bounds])  # fmt: skip
        res = minimize(
            lambda x: tuple(np.asarray(v, dtype=np.float64) for v in upper.value_and_grad(x)),
            x0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-16},
        )  # fmt: skip
        best = min(best, float(res.fun))
    how = "global (convex upper level)" if type(family).convex else "best of multi-start local minima"
    return best, f"L-BFGS-B multi-start ({len(points)} starts): {how}"


def block_hessian(problem: BilevelProblem, theta: np.ndarray) -> np.ndarray:
    """P∇²(σL_lower)P as a dense matrix, from HVPs (small problems only)."""
    d = problem.dim
    mask = np.ones(d) if problem.block is None else np.asarray(problem.block)
    cols = [problem.sigma * np.asarray(problem.lower.hvp(theta, mask * e)) * mask for e in np.eye(d)]
    return np.stack(cols, axis=1)


def lower_gap(spec: InstanceSpec, theta: np.ndarray, *, max_steps: int = 20000) -> tuple[float, str]:
    """max over the lower block of Φ = σL_lower, minus Φ(θ), with x (the non-block part) fixed.

    Exact for a quadratic lower level (M_lower = 0) without Θ: gap = ½ gᵀ(−H_PP)⁺g, g = P∇Φ. Otherwise
    projected gradient ascent on the block with step 1/L_lower until the gradient mapping is
    ≤ 1e-13 (‖P∇Φ‖ without Θ; PL: linear); without L_lower, L-BFGS-B on the block.
    """
    family, problem = spec.instance(), spec.problem()
    c = family.constants()
    mask = np.ones(problem.dim) if problem.block is None else np.asarray(problem.block)
    sigma = problem.sigma
    grad = mask * sigma * np.asarray(problem.lower.value_and_grad(theta)[1])
    if c.M_lower == 0 and family.constraint() is None:
        H = block_hessian(problem, theta)
        gap = 0.5 * float(grad @ np.linalg.pinv(-H, rcond=1e-12, hermitian=True) @ grad)
        return max(gap, 0.0), "exact (quadratic lower level)"
    if not c.L_lower:
        return _lower_gap_lbfgs(spec, theta, mask)
    phi0 = sigma * float(problem.lower.value(theta))
    x = np.array(theta, dtype=np.float64)
    proj = problem.constraint.project if problem.constraint is not None else (lambda v: v)
    eta = 1.0 / c.L_lower
    for step in range(max_steps):
        g = mask * sigma * np.asarray(problem.lower.value_and_grad(x)[1])
        new = proj(x + eta * g)
        if np.linalg.norm(new - x) <= 1e-13 * eta:  # the gradient mapping vanishes (= ‖P∇Φ‖ without Θ)
            break
        x = new
    return max(sigma * float(problem.lower.value(x)) - phi0, 0.0), f"projected ascent on the block ({step} steps)"


def _lower_gap_lbfgs(spec: InstanceSpec, theta: np.ndarray, mask: np.ndarray) -> tuple[float, str]:
    """The lower-level gap without L_lower: L-BFGS-B on −σL_lower over the block from θ (a local
    maximum for a non-concave lower level; box bounds where Θ is a box)."""
    family, problem = spec.instance(), spec.problem()
    sigma = problem.sigma
    idx = np.flatnonzero(mask)
    base = np.array(theta, dtype=np.float64)
    bounds = _bounds(problem, family)

    def fun(y: np.ndarray) -> tuple[float, np.ndarray]:
        x = base.copy()
        x[idx] = y
        value, grad = problem.lower.value_and_grad(x)
        return -sigma * float(value), -sigma * np.asarray(grad, dtype=np.float64)[idx]

    res = minimize(fun, base[idx], jac=True, method="L-BFGS-B", bounds=None if bounds is None else [bounds[i] for i in idx],
                   options={"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-16})  # fmt: skip
    gap = max(fun(base[idx])[0] - float(res.fun), 0.0)
    return gap, f"L-BFGS-B on the block ({res.nit} iterations; a local maximum where the lower level is not concave)"
