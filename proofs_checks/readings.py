"""Readings: which quantity a rate claim is read on, at which point, under which sweep design.

The paper does not say which quantity its rates bound, so no reading is "the" reading: a claim
declares its readings and each gets its own verdict (docs/claims.md). A :class:`Reading` names

* the **quantity**: a bilevel quantity — the distance to the solution (‖θ − θ*‖ where θ* is the
  unique bilevel solution), the lower-level gap Φ* − Φ(θ) (over the block y with x fixed on a
  classical problem), the upper-level gap |L_r(θ) − L_r*| — or the penalised gap F_ρ(θ) − F_ρ*;
* the **evaluation point**: θ̃_K (the inner loop's result, the point the outer step is taken at)
  or θ_K (the outer iterate, after the outer step has left the solution set);
* the **sweep design**: a K-sweep with T = T(K) = K (so the claim's K/T² term is ≤ 1/K and the
  sweep isolates the 1/K term), or the floor against T at the largest K (the excess over the 1/K
  term measured by the K-sweep must decay like K/T²).

:class:`BilevelReference` evaluates the bilevel quantities from a family's exact references;
:func:`theta_tilde` recomputes θ̃ from an outer iterate with the run's own inner loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ofmu_theory.evaluator import Evaluator
from ofmu_theory.sampler import FullBatch
from proofs_checks.instances import InstanceSpec, lower_gap

POINTS = {"tilde": "θ̃_K", "outer": "θ_K"}
DESIGNS = {
    "TK": "K-sweep, T = T(K) = K (K/T² = 1/K)",
    "floor": "floor against T at K = K_max (excess over the 1/K term)",
    "fixedT": "K-sweep at fixed T = T_max",
    "budget": "one run per solver at fixed T, to a call budget",
}
ROLES = ("primary", "secondary", "finding")


@dataclass(frozen=True, kw_only=True)
class Reading:
    """One reading of a rate claim.

    Attributes:
        id: short key ("dist@tilde/TK"), unique within the claim.
        quantity: the measured quantity in words.
        point: "tilde" (θ̃_K) or "outer" (θ_K).
        design: "TK", "floor" or "fixedT" (:data:`DESIGNS`).
        role: "primary" (enters the claim's headline), "secondary" (reported with its own verdict)
            or "finding" (a quantity the method is not expected to drive to zero: reported as what it is).
        power: the power p of the claimed decay of this quantity in 1/K (1 for gaps, ½ for a distance,
            whose square is of the order of the gaps).
    """

    id: str
    quantity: str
    point: str
    design: str
    role: str = "primary"
    power: float = 1.0

    def __post_init__(self) -> None:
        if self.point not in POINTS or self.design not in DESIGNS or self.role not in ROLES:
            raise ValueError(f"reading {self.id!r}: point, design or role unknown ({self.point}, {self.design}, {self.role})")

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "quantity": self.quantity, "point": POINTS[self.point], "design": DESIGNS[self.design],
                "role": self.role, "power": self.power}  # fmt: skip


def t_of_k(k: int) -> int:
    """T(K) = K: the inner loop grows with the horizon so that K/T² = 1/K."""
    return max(1, int(k))


def k_sweep(k_max: int) -> np.ndarray:
    """Horizons 1 ... k_max, log-spaced by about √2 (distinct integers, k_max included)."""
    num = int(round(2 * np.log2(max(k_max, 2)))) + 1
    return np.unique(np.round(np.geomspace(1, k_max, num)).astype(np.int64))


def theta_tilde(solver: Any, spec: InstanceSpec, theta: np.ndarray, k: int = 0) -> np.ndarray:
    """θ̃ = the run's inner loop (T ascent steps on Φ_β, its own step rule) applied to θ, full batch.

    A fresh evaluator, so the run's own oracle counts are untouched; deterministic (the inner
    transform is plain SGD and the step rules depend on the point only).
    """
    ev = solver.evaluator(spec.problem())
    ev.sampler = FullBatch()
    theta = np.asarray(theta, dtype=np.float64)
    tstate = solver.transform_in.init(ev.backend, theta)
    out, _, _, _ = solver.ascend(ev, theta, 0, tstate, k)
    return np.asarray(out, dtype=np.float64)


class BilevelReference:
    """The bilevel quantities of one instance at any θ, from the family's exact references.

    ``dist`` is ‖θ − θ*‖ when the family's θ* is its unique bilevel solution (else ``None``);
    ``lower`` the lower-level gap Φ* − Φ(θ) (:meth:`lower`); ``upper`` |L_r(θ) − L_r*| with
    L_r* = L_r(θ*) (``None`` without θ*).
    """

    def __init__(self, spec: InstanceSpec) -> None:
        self.spec = spec
        family = spec.instance()
        self.problem = spec.problem()
        star = family.solution()
        self.theta_star = None if star is None else np.asarray(star, dtype=np.float64)
        self.unique = self.theta_star is not None and bool(type(family).solution_unique)
        self.lr_star = None if star is None else float(self.problem.upper.value(self.theta_star))
        global_lower = star is not None and self.problem.block is None
        self.phi_star = self.problem.sigma * float(self.problem.lower.value(self.theta_star)) if global_lower else None

    def dist(self, theta: np.ndarray) -> float | None:
        return float(np.linalg.norm(np.asarray(theta) - self.theta_star)) if self.unique else None

    def lower(self, theta: np.ndarray) -> float:
        """Φ* − Φ(θ). On the unlearning form with a reference θ* ∈ argmax Φ, Φ* = Φ(θ*) is one global
        number (exact at saddles, where an ascent from θ would stall); on the classical form Φ*(x) is
        the maximum over the block with x fixed (:func:`~proofs_checks.instances.lower_gap`)."""
        theta = np.asarray(theta, dtype=np.float64)
        if self.phi_star is not None:
            return max(self.phi_star - self.problem.sigma * float(self.problem.lower.value(theta)), 0.0)
        return lower_gap(self.spec, theta)[0]

    def upper(self, theta: np.ndarray) -> float | None:
        if self.lr_star is None:
            return None
        return abs(float(self.problem.upper.value(np.asarray(theta, dtype=np.float64))) - self.lr_star)

    def all(self, theta: np.ndarray) -> dict[str, float]:
        """{"dist", "lower", "upper"} at θ (the ones this instance has)."""
        out = {"lower": self.lower(theta)}
        for key, value in (("dist", self.dist(theta)), ("upper", self.upper(theta))):
            if value is not None:
                out[key] = value
        return out

    def scales(self) -> dict[str, float]:
        """Each quantity's scale for the absolute round-off level: its value at θ_0, and for a gap
        computed as a difference also the size of the terms (|L_r*|, ‖θ*‖)."""
        theta0 = np.asarray(self.problem.theta0, dtype=np.float64)
        at0 = self.all(theta0)
        out = {k: abs(v) for k, v in at0.items()}
        if "upper" in out:
            out["upper"] = max(out["upper"], abs(self.lr_star or 0.0))
        if self.phi_star is not None:
            out["lower"] = max(out["lower"], abs(self.phi_star))
        if "dist" in out:
            out["dist"] = max(out["dist"], float(np.linalg.norm(self.theta_star)))
        return {k: (v if v > 0 and math.isfinite(v) else 1.0) for k, v in out.items()}


def penalised_gap(spec: InstanceSpec, theta: np.ndarray, rho: float, f_star: float) -> float:
    """F_ρ(θ) − F_ρ* (β = 0)."""
    return Evaluator(spec.problem()).penalised_value(np.asarray(theta, dtype=np.float64), rho, FullBatch().draw(0)) - f_star


# --- the two sweep designs, run once and read on every quantity --------------------------------
QUANTITY_WORDS = {
    "dist": "‖θ − θ*‖ (θ* the unique bilevel solution)",
    "lower": "lower-level gap Φ* − Φ(θ)",
    "upper": "upper-level gap |L_r(θ) − L_r*|",
}
POWERS = {"dist": 0.5, "lower": 1.0, "upper": 1.0}


@dataclass(frozen=True, kw_only=True)
class SweepData:
    """The bilevel quantities along both designs.

    Attributes:
        ks: horizons of the K-sweep (T = K).
        tilde, outer: quantity → values at θ̃_K and θ_K along the K-sweep.
        outer_iterates: θ_K of each K-sweep run (for further readings, e.g. F_ρ).
        runs: θ_0..θ_K of each K-sweep run (for readings along a run, e.g. min_k ‖∇F_ρ(θ_k)‖²).
        k_floor: the horizon of the floor sweep; ts: its inner-step counts.
        floor: quantity → values at θ̃_(K_floor) against T.
        scales: quantity → its scale (round-off level).
    """

    ks: np.ndarray
    tilde: dict[str, np.ndarray]
    outer: dict[str, np.ndarray]
    outer_iterates: np.ndarray
    runs: tuple[np.ndarray, ...]
    k_floor: int
    ts: np.ndarray
    floor: dict[str, np.ndarray]
    scales: dict[str, float]


def run_sweeps(spec: InstanceSpec, make_solver: Any, *, k_max: int, k_floor: int, t_grid: tuple[int, ...]) -> SweepData:
    """Run the K-sweep (T = T(K)) and the floor sweep (K = k_floor, T ∈ t_grid) and read the bilevel quantities.

    ``make_solver(T, K)`` returns the OFMU solver with T inner steps and horizon K. θ̃ of a run is
    its inner loop applied to θ_(K−1) (the point its last outer step was taken at).
    """
    ref = BilevelReference(spec)
    problem = spec.problem()
    ks = k_sweep(k_max)
    tilde: dict[str, list[float]] = {}
    outer: dict[str, list[float]] = {}
    outs, runs = [], []
    for K in ks:
        solver = make_solver(t_of_k(int(K)), int(K))
        it = _iterates(solver, problem, int(K))
        outs.append(it[-1])
        runs.append(it)
        for key, value in ref.all(theta_tilde(solver, spec, it[-2], int(K) - 1)).items():
            tilde.setdefault(key, []).append(value)
        for key, value in ref.all(it[-1]).items():
            outer.setdefault(key, []).append(value)
    floor: dict[str, list[float]] = {}
    for T in t_grid:
        solver = make_solver(int(T), int(k_floor))
        it = _iterates(solver, problem, int(k_floor))
        for key, value in ref.all(theta_tilde(solver, spec, it[-2], int(k_floor) - 1)).items():
            floor.setdefault(key, []).append(value)
    arr = lambda d: {k: np.asarray(v, dtype=np.float64) for k, v in d.items()}  # noqa: E731
    return SweepData(ks=ks, tilde=arr(tilde), outer=arr(outer), outer_iterates=np.asarray(outs), runs=tuple(runs),
                     k_floor=int(k_floor),
                     ts=np.asarray(t_grid, dtype=np.float64), floor=arr(floor), scales=ref.scales())  # fmt: skip


def _iterates(solver: Any, problem: Any, K: int) -> np.ndarray:
    """θ_0..θ_K of a run; a diverged run is padded with NaN (every quantity is then non-finite)."""
    it = np.asarray(solver.run(problem, record_iterates=True).iterates, dtype=np.float64)
    if len(it) < K + 1:
        it = np.vstack([it, np.full((K + 1 - len(it), it.shape[1]), np.nan)])
    return it


def bilevel_readings(
    *, t_power: float, outer_role: str = "secondary", secondary: tuple[str, ...] = ()
) -> tuple[Reading, ...]:
    """The bilevel readings of a two-loop rate O(1/K) + O(K^a/T^b): every quantity at θ̃ on both designs,
    and the distance at θ_K (``outer_role``). ``t_power`` is the claim's exponent of T in its gap bound;
    the quantities in ``secondary`` are secondary readings (the others at θ̃ are primary)."""
    out = []
    role = {key: "secondary" if key in secondary else "primary" for key in POWERS}
    for key in ("dist", "lower", "upper"):
        out.append(Reading(id=f"{key}@θ̃ [T=K]", quantity=QUANTITY_WORDS[key], point="tilde", design="TK",
                           role=role[key], power=POWERS[key]))  # fmt: skip
    for key in ("dist", "lower", "upper"):
        out.append(Reading(id=f"{key}@θ̃ [floor vs T]", quantity=f"{QUANTITY_WORDS[key]}, excess over the 1/K term",
                           point="tilde", design="floor", role=role[key], power=POWERS[key] * t_power))  # fmt: skip
    out.append(Reading(id="dist@θ_K [T=K]", quantity=QUANTITY_WORDS["dist"], point="outer", design="TK", role=outer_role,
                       power=POWERS["dist"]))  # fmt: skip
    return tuple(out)


def bilevel_checks(data: SweepData, readings: tuple[Reading, ...]) -> list[Any]:
    """One check per reading that ``data`` has the quantity for (a reading without it is simply absent)."""
    from proofs_checks.rates import reading_check

    checks = []
    for r in readings:
        key = r.id.split("@")[0]
        if key not in POWERS:
            continue
        if r.design == "TK":
            source = data.tilde if r.point == "tilde" else data.outer
            if key not in source:
                continue
            checks.append(reading_check(
                r.id, data.ks, source[key], exponent=r.power, scale=data.scales[key], reading=r.id,
                what=f"{r.quantity} at {POINTS[r.point]}, {DESIGNS[r.design]}",
            ))  # fmt: skip
        elif r.design == "floor":
            if key not in data.floor or key not in data.tilde:
                continue
            p = POWERS[key]
            c1 = float(np.nanmax(data.ks**p * data.tilde[key]))  # the 1/K term's constant (with the K/T² one: an upper bound)
            level = c1 / data.k_floor**p
            excess = np.maximum(data.floor[key] - level, 0.0)
            check = reading_check(
                r.id, data.ts, excess, exponent=r.power, scale=data.scales[key], reading=r.id,
                what=(f"{r.quantity} at θ̃, K = {data.k_floor}: excess over C/K^{p:g} = {level:.3g} "
                      f"(C = max_K K^{p:g}·q from the K-sweep) against T"),
            )  # fmt: skip
            checks.append(check)
    return checks
