"""ℓ1-constrained over-parameterised regression: a constrained bilevel problem with a cvxpy reference."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import cvxpy as cp
import numpy as np
from scipy.optimize import linprog

from convex._common import check_float, check_int, check_seed, reject_unknown
from convex._losses import mean_quadratic
from ofmu_theory.constraints import L1Ball
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants, Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

CLARABEL_TOL = {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "max_iter": 500}
"""Clarabel tolerances for the reference solves (its defaults are 1e-8)."""

TAU_FRACTIONS = tuple(float(t) for t in np.geomspace(1e-1, 1e-7, 7))
"""The slacks of the second-stage solves  min f  s.t.  g ≤ g* + τ,  as fractions of g(θ_f) − g*
(θ_f = argmin_Θ f): larger slacks would leave the constraint inactive (θ_τ = θ_f)."""


@dataclass(frozen=True, kw_only=True)
class L1Reference:
    """The bilevel solution of an :class:`L1Regression` instance and how it was obtained.

    Attributes:
        theta: θ*, the limit τ → 0 (solved as min f s.t. A_tθ = b_t, ‖θ‖₁ ≤ R, then polished).
        g_star: stage-1 optimum min_{‖θ‖₁≤R} g (0 by the choice of R, up to solver accuracy).
        taus: the slacks τ of the stage-2 solves: (g(θ_f) − g*)·10⁻ᵏ, k = 1…7, θ_f = argmin_Θ f.
        distances: ‖θ_τ − θ*‖ for each τ (θ_τ = argmin f s.t. g ≤ g* + τ, ‖θ‖₁ ≤ R).
        tau_order: slope of log‖θ_τ − θ*‖ against log τ over the three smallest τ (½ expected: the
            residual ‖A_tθ − b_t‖ may move by O(√τ); the larger τ can bind on another active set,
            so the distances need not decrease monotonically there).
        kkt_residual: max violation of the KKT conditions of min f s.t. A_tθ = b_t, ‖θ‖₁ ≤ R at θ*.
        polished: whether θ* comes from the active-set KKT solve (True) or is Clarabel's point.
        accurate: whether every Clarabel solve ended "optimal" (False: some ended
            "optimal_inaccurate"; accepted only when θ* is polished, i.e. certified by KKT).
        solver: the conic solver used.
    """

    theta: np.ndarray = field(repr=False)
    g_star: float
    taus: tuple[float, ...]
    distances: tuple[float, ...]
    tau_order: float
    kkt_residual: float
    polished: bool
    accurate: bool
    solver: str = "CLARABEL"


@FAMILIES.register("l1_regression")
@dataclass(frozen=True, kw_only=True)
class L1Regression(Family):
    """min_θ ½‖A_vθ − b_v‖²/n_v  s.t.  θ ∈ argmax_{‖θ‖₁ ≤ R} −½‖A_tθ − b_t‖²/n_t.

    Lower (forget) level, maximised over the ℓ1 ball Θ = {‖θ‖₁ ≤ R} (:meth:`constraint`):
    L_f(θ) = −(1/2n_t)‖A_tθ − b_t‖² = −g(θ); upper (retain/validation) level
    L_r(θ) = f(θ) = (1/2n_v)‖A_vθ − b_v‖². Both are means over rows (mini-batches are unbiased).
    A_t is wide (n_t < d), so the lower level is concave but not strongly concave.

    Choice of R (made at sample time, so the structure is known rather than hoped for): let
    R_0 = min{‖θ‖₁ : A_tθ = b_t} (an LP) and θ_aff = argmin{f(θ) : A_tθ = b_t} (a linear KKT
    system). We take R = R_0 + radius_frac·(‖θ_aff‖₁ − R_0) with radius_frac ∈ (0, 1). Then

    * g* = 0 and the lower solution set S = {A_tθ = b_t} ∩ Θ is a polytope of dimension d − n_t
      (R > R_0, so the affine set {A_tθ = b_t}, of dimension d − n_t, meets the interior of Θ):
      not a singleton;
    * the ℓ1 constraint is active at θ*: if ‖θ*‖₁ < R, θ* would be a local, hence global,
      minimiser of the convex f on the affine set {A_tθ = b_t}, i.e. θ_aff, but ‖θ_aff‖₁ > R.

    Reference (:attr:`reference`, computed lazily and cached on the instance): two cvxpy
    (Clarabel) stages — g* = min_Θ g, then
    θ_τ = argmin f s.t. g ≤ g* + τ, θ ∈ Θ for τ = (g(θ_f) − g*)·10⁻ᵏ, k = 1…7, θ_f = argmin_Θ f (so
    every slack binds) — and the limit τ → 0, solved as min f s.t. A_tθ = b_t, θ ∈ Θ (exact because
    g* = 0) and polished by solving the KKT system on the active set (support and signs) to machine
    precision; the KKT residual certifies θ* and the distances ‖θ_τ − θ*‖ are reported.

    θ_0 = Π_Θ(argmin_θ g(θ) + f(θ)): the least-squares fit of both data sets, projected onto Θ.

    Data (drawn in this order): A_t, A_v with N(0, 1) entries; θ_true with ``nnz`` N(0, 1) entries
    on a random support; b_t = A_tθ_true + noise·ε_t, b_v = A_vθ_true + noise·ε_v.

    Source: arXiv 2509.22483's test problems, as reconstructed for this project ("ℓ1-constrained over-parameterised regression").
    """

    regime: ClassVar[str] = (
        "concave (not strongly) lower level over an l1 ball, non-singleton argmax (a polytope of dimension d - n_t), "
        "constraint active at the solution; convex upper level (strongly when n_v >= d); stochastic"
    )
    convex: ClassVar[bool] = True
    stochastic: ClassVar[bool] = True
    sense: ClassVar[Sense] = "max"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {"quick": {}, "full": {}}
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            """Forget rows n_t < d, retain rows n_v ≥ d, a sparse planted model."""
            n_t = draw(st.integers(1, 4))
            d = draw(st.integers(n_t + 2, n_t + 8))
            return {
                "n_t": n_t,
                "d": d,
                "n_v": draw(st.integers(d, d + 10)),
                "nnz": draw(st.integers(1, min(3, d))),
                "noise": draw(st.sampled_from([0.05, 0.1, 0.5])),
                "radius_frac": draw(st.floats(0.2, 0.8)),
            }

        return params()

    @classmethod
    def search_params(cls) -> SearchStrategy[dict[str, Any]]:
        """The parameters, seed included, that a counterexample search of ``ofmu verify`` may shrink."""
        from hypothesis import strategies as st

        seeds = st.integers(min_value=0, max_value=2**16)
        return st.fixed_dictionaries({"seed": seeds})

    n_t: int
    n_v: int
    d: int
    nnz: int
    noise: float
    radius_frac: float
    radius: float
    radius_min: float
    A_t: np.ndarray = field(repr=False)
    b_t: np.ndarray = field(repr=False)
    A_v: np.ndarray = field(repr=False)
    b_v: np.ndarray = field(repr=False)

    @classmethod
    def sample(
        cls,
        *,
        seed: int = 0,
        n_t: int = 5,
        n_v: int = 30,
        d: int = 20,
        nnz: int = 3,
        noise: float = 0.1,
        radius_frac: float = 0.5,
        **unknown: Any,
    ) -> L1Regression:
        """Draw an instance.

        Args:
            seed: seed of ``np.random.default_rng``.
            n_t: rows of the forget data (A_t, b_t), ≥ 1.
            n_v: rows of the retain data (A_v, b_v), ≥ d − n_t (so θ* is unique).
            d: dimension (> n_t: A_t is wide).
            nnz: nonzeros of the planted θ_true, in [1, d].
            noise: standard deviation of the label noise, > 0 (noiseless sparse data can make θ_true
                both the min-ℓ1 interpolant and θ_aff, leaving no room for R).
            radius_frac: where R lies between R_0 and ‖θ_aff‖₁, in (0, 1).

        Raises:
            ValueError: naming the parameter that is out of range or unknown.
        """
        reject_unknown("l1_regression", cls.sample, unknown)
        seed = check_seed(seed)
        n_t = check_int("n_t", n_t, low=1)
        d = check_int("d", d, low=n_t + 1, why="A_t must be wide, d > n_t")
        n_v = check_int("n_v", n_v, low=max(1, d - n_t), why="theta* unique needs n_v >= d - n_t")
        nnz = check_int("nnz", nnz, low=1, high=d)
        noise = check_float("noise", noise, low=0.0, open_low=True)
        radius_frac = check_float("radius_frac", radius_frac, low=0.0, high=1.0, open_low=True, open_high=True)
        rng = np.random.default_rng(seed)
        A_t = rng.standard_normal((n_t, d))
        A_v = rng.standard_normal((n_v, d))
        theta_true = np.zeros(d)
        theta_true[rng.choice(d, size=nnz, replace=False)] = rng.standard_normal(nnz)
        b_t = A_t @ theta_true + noise * rng.standard_normal(n_t)
        b_v = A_v @ theta_true + noise * rng.standard_normal(n_v)

        radius_min = _min_l1_interpolation(A_t, b_t)
        theta_aff = _equality_constrained_ls(A_v, b_v, A_t, b_t)
        gap = float(np.abs(theta_aff).sum()) - radius_min
        if not gap > 1e-6 * max(radius_min, 1.0):
            raise ValueError(
                f"degenerate draw for seed={seed}: the min-l1 interpolant already minimises f; use another seed"
            )
        radius = radius_min + radius_frac * gap
        return cls(
            seed=seed, n_t=n_t, n_v=n_v, d=d, nnz=nnz, noise=noise, radius_frac=radius_frac,
            radius=radius, radius_min=radius_min, A_t=A_t, b_t=b_t, A_v=A_v, b_v=b_v,
        )  # fmt: skip

    def params(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "n_t": self.n_t,
            "n_v": self.n_v,
            "d": self.d,
            "nnz": self.nnz,
            "noise": self.noise,
            "radius_frac": self.radius_frac,
        }

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        return mean_quadratic(self.A_t, self.b_t, sign=-1.0), mean_quadratic(self.A_v, self.b_v)

    def constraint(self) -> L1Ball:
        return L1Ball(radius=self.radius)

    def theta0(self) -> np.ndarray:
        ht = self.A_t.T @ self.A_t / self.n_t
        hv = self.A_v.T @ self.A_v / self.n_v
        fit = np.linalg.solve(ht + hv, self.A_t.T @ self.b_t / self.n_t + self.A_v.T @ self.b_v / self.n_v)
        return self.constraint()._project(fit, np)

    def constants(self) -> Constants:
        """Constants of the mean-squared losses; G bounds hold on the whole ball Θ.

        * L_lower = ‖A_t‖₂²/n_t, L_upper = ‖A_v‖₂²/n_v, mu_upper = λ_min(A_vᵀA_v)/n_v (0 if n_v < d),
          M_lower = 0, H_Φ = L_lower.
        * mu_lower = None: the unconstrained PL constant λ⁺_min(A_tA_tᵀ)/n_t does not carry over to
          the projected-gradient residual on Θ in closed form.
        * G_upper = sup_{‖θ‖₁≤R} ‖∇f(θ)‖ ≤ R·max_j ‖H_v e_j‖ + ‖A_vᵀb_v‖/n_v with H_v = A_vᵀA_v/n_v
          (the ℓ1→ℓ2 norm of H_v is its largest column norm); G_phi alike with (A_t, b_t). Every
          iterate lies in Θ because the solvers project onto it.
        """
        ht = self.A_t.T @ self.A_t / self.n_t
        hv = self.A_v.T @ self.A_v / self.n_v
        L_lower = float(np.linalg.eigvalsh(ht)[-1])
        eig_v = np.linalg.eigvalsh(hv)
        return Constants(
            L_lower=L_lower,
            L_upper=float(eig_v[-1]),
            mu_lower=None,
            mu_upper=float(max(eig_v[0], 0.0)) if self.n_v >= self.d else 0.0,
            G_upper=float(self.radius * np.linalg.norm(hv, axis=0).max() + np.linalg.norm(self.A_v.T @ self.b_v) / self.n_v),
            H_phi=L_lower,
            M_lower=0.0,
            G_phi=float(self.radius * np.linalg.norm(ht, axis=0).max() + np.linalg.norm(self.A_t.T @ self.b_t) / self.n_t),
        )

    @cached_property
    def reference(self) -> L1Reference:
        """The two-stage cvxpy reference (computed once per instance)."""
        theta = cp.Variable(self.d)
        g = cp.sum_squares(self.A_t @ theta - self.b_t) / (2 * self.n_t)
        f = cp.sum_squares(self.A_v @ theta - self.b_v) / (2 * self.n_v)
        ball = cp.norm1(theta) <= self.radius

        stage1 = cp.Problem(cp.Minimize(g), [ball])
        accurate = _solve(stage1, "stage 1 (g*)")
        g_star = max(float(stage1.value), 0.0)
        upper_only = cp.Problem(cp.Minimize(f), [ball])
        accurate &= _solve(upper_only, "argmin over the ball of f")
        taus = tuple(max(float(g.value) - g_star, 0.0) * frac for frac in TAU_FRACTIONS)

        # g ≤ g* + τ  ⇔  ‖A_tθ − b_t‖ ≤ √(2n_t(g* + τ)): the second-order-cone form is better conditioned.
        level = cp.Parameter(nonneg=True)
        stage2 = cp.Problem(cp.Minimize(f), [cp.norm(self.A_t @ theta - self.b_t, 2) <= level, ball])
        thetas = []
        for tau in taus:
            level.value = np.sqrt(2 * self.n_t * (g_star + tau))
            accurate &= _solve(stage2, f"stage 2 (tau={tau:g})")
            thetas.append(np.array(theta.value))

        interp = self.A_t @ theta == self.b_t
        limit = cp.Problem(cp.Minimize(f), [interp, ball])
        accurate &= _solve(limit, "the tau -> 0 limit")
        theta_cvx = np.array(theta.value)
        nu, lam = np.array(interp.dual_value), float(ball.dual_value)
        theta_star, polished = theta_cvx, False
        kkt = self._kkt_residual(theta_cvx, nu, lam)
        candidate = self._polish(theta_cvx)
        if candidate is not None:
            theta_pol, nu_pol, lam_pol = candidate
            kkt_pol = self._kkt_residual(theta_pol, nu_pol, lam_pol)
            # KKT is sufficient for this convex program and θ* is unique (f strictly convex on
            # {A_tθ = b_t}), so a point with a smaller KKT residual is the better reference
            if kkt_pol <= kkt:
                theta_star, polished, kkt = theta_pol, True, kkt_pol

        if not polished and not accurate:
            raise RuntimeError(
                f"l1_regression reference: no certified solution (KKT residual {kkt:.3g}, Clarabel inaccurate)"
            )
        distances = tuple(float(np.linalg.norm(t - theta_star)) for t in thetas)
        tail = slice(-3, None)  # the active set settles as τ → 0; fit where it has
        order = float(np.polyfit(np.log(np.maximum(taus[tail], 1e-300)), np.log(np.maximum(distances[tail], 1e-300)), 1)[0])
        return L1Reference(
            theta=theta_star, g_star=g_star, taus=taus, distances=distances, tau_order=order,
            kkt_residual=kkt, polished=polished, accurate=accurate,
        )  # fmt: skip

    def solution(self) -> np.ndarray:
        """θ* from :attr:`reference`."""
        return self.reference.theta.copy()

    # --- reference internals --------------------------------------------------------------
    def _kkt_residual(self, theta: np.ndarray, nu: np.ndarray, lam: float) -> float:
        """Largest violation of the KKT conditions of min f s.t. A_tθ = b_t, ‖θ‖₁ ≤ R.

        Stationarity 0 ∈ ∇f + A_tᵀν + λ∂‖θ‖₁, λ ≥ 0, A_tθ = b_t, ‖θ‖₁ = R (the constraint is active).
        """
        r = self.A_v.T @ (self.A_v @ theta - self.b_v) / self.n_v + self.A_t.T @ nu  # (d,)
        on = np.abs(theta) > 1e-9 * max(np.abs(theta).max(), 1.0)
        stat_on = np.abs(r[on] + lam * np.sign(theta[on]))
        stat_off = np.maximum(np.abs(r[~on]) - lam, 0.0)
        return float(
            max(
                stat_on.max(initial=0.0),
                stat_off.max(initial=0.0),
                np.abs(self.A_t @ theta - self.b_t).max(),
                abs(np.abs(theta).sum() - self.radius),
                max(-lam, 0.0),
            )
        )

    def _polish(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Solve the KKT system on the active set (support S, signs s), starting from a near-optimal θ.

        [[H_SS, A_t,Sᵀ, s], [A_t,S, 0, 0], [sᵀ, 0, 0]]·[θ_S; ν; λ] = [A_v,Sᵀb_v/n_v; b_t; R], H = A_vᵀA_v/n_v.
        Entries the solver left at ~1e-9 make the starting support ambiguous, so the active set is
        corrected (a coordinate whose sign flips leaves S; the worst off-support violation of
        |(∇f + A_tᵀν)_j| ≤ λ enters S with sign −sign(·)) until the KKT conditions hold.
        Returns ``None`` when a system is singular, λ < 0, or no consistent active set is found.
        """
        scale = np.abs(theta).max()
        signs = {int(j): float(np.sign(theta[j])) for j in np.flatnonzero(np.abs(theta) > 1e-7 * scale)}
        for _ in range(2 * self.d):
            support = np.array(sorted(signs), dtype=int)
            k, s = support.size, np.array([signs[j] for j in support])
            av, at = self.A_v[:, support], self.A_t[:, support]
            kkt = np.zeros((k + self.n_t + 1, k + self.n_t + 1))
            kkt[:k, :k] = av.T @ av / self.n_v
            kkt[:k, k : k + self.n_t] = at.T
            kkt[k : k + self.n_t, :k] = at
            kkt[:k, -1] = s
            kkt[-1, :k] = s
            rhs = np.concatenate([av.T @ self.b_v / self.n_v, self.b_t, [self.radius]])
            try:
                sol = np.linalg.solve(kkt, rhs)
            except np.linalg.LinAlgError:
                return None
            theta_s, nu, lam = sol[:k], sol[k : k + self.n_t], float(sol[-1])
            if not np.all(np.isfinite(sol)) or lam < 0:
                return None
            flipped = np.flatnonzero(np.sign(theta_s) != s)
            if flipped.size:
                del signs[int(support[flipped[np.argmax(np.abs(theta_s[flipped]))]])]
                continue
            full = np.zeros(self.d)
            full[support] = theta_s
            r = self.A_v.T @ (self.A_v @ full - self.b_v) / self.n_v + self.A_t.T @ nu  # (d,)
            off = np.setdiff1d(np.arange(self.d), support)
            excess = np.abs(r[off]) - lam * (1 + 1e-12)
            if off.size and excess.max() > 1e-14 * (1.0 + np.abs(r).max()):
                j = int(off[np.argmax(excess)])
                signs[j] = -float(np.sign(r[j]))
                continue
            return full, nu, lam
        return None


def _solve(problem: cp.Problem, what: str) -> bool:
    """Solve with Clarabel; True when "optimal", False when "optimal_inaccurate", an error otherwise."""
    with warnings.catch_warnings():  # "solution may be inaccurate": recorded in the reference instead
        warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
        problem.solve(solver=cp.CLARABEL, **CLARABEL_TOL)
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise RuntimeError(f"l1_regression reference: Clarabel ended {what} with status {problem.status!r}")
    return problem.status == cp.OPTIMAL


def _min_l1_interpolation(A: np.ndarray, b: np.ndarray) -> float:
    """R_0 = min ‖θ‖₁ s.t. Aθ = b, as the LP min 1ᵀ(u + v) s.t. A(u − v) = b, u, v ≥ 0 (HiGHS)."""
    n = A.shape[1]
    res = linprog(np.ones(2 * n), A_eq=np.hstack([A, -A]), b_eq=b, bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"l1_regression: the min-l1 interpolation LP failed: {res.message}")
    return float(res.fun)


def _equality_constrained_ls(A_v: np.ndarray, b_v: np.ndarray, A_t: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """argmin (1/2n_v)‖A_vθ − b_v‖² s.t. A_tθ = b_t, from its KKT system."""
    n_v, d = A_v.shape
    n_t = A_t.shape[0]
    kkt = np.block([[A_v.T @ A_v / n_v, A_t.T], [A_t, np.zeros((n_t, n_t))]])
    return np.linalg.solve(kkt, np.concatenate([A_v.T @ b_v / n_v, b_t]))[:d]
