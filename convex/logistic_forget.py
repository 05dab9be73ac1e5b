"""Regularised logistic regression with a concave soft-label forget side (stochastic)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import cvxpy as cp
import numpy as np
from scipy.special import expit, logit

from convex._common import check_float, check_int, check_seed, reject_unknown
from convex._losses import logistic, soft_label_ce
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants, Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

CLARABEL_TOL = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10, "max_iter": 500}
"""Clarabel tolerances for the exponential-cone reference solve (its defaults are 1e-8)."""

SIGMA2_MAX = 1.0 / (6.0 * np.sqrt(3.0))
"""max_z |σ''(z)| = √3/18, attained where σ(z) = (3 ± √3)/6."""


@dataclass(frozen=True, kw_only=True)
class LogisticReference:
    """The bilevel solution of a :class:`LogisticForget` instance and how it was obtained.

    Attributes:
        theta: θ* after the Newton polish.
        theta_cvxpy: Clarabel's solution of the exponential-cone program.
        kkt_residual: ‖Zᵀ∇L_r(θ*)‖ (Z an orthonormal basis of null(X_f)) at θ*: the certificate.
        feasibility: ‖X_fθ* − logit(p)‖_∞.
        status: Clarabel's status, "optimal" or "optimal_inaccurate" (the Newton polish converges
            from either; the certificate is the KKT residual).
        solver: the conic solver used.
    """

    theta: np.ndarray = field(repr=False)
    theta_cvxpy: np.ndarray = field(repr=False)
    kkt_residual: float
    feasibility: float
    status: str
    solver: str = "CLARABEL"


@FAMILIES.register("logistic_forget")
@dataclass(frozen=True, kw_only=True)
class LogisticForget(Family):
    """min_θ L_r(θ)  s.t.  θ ∈ argmax_θ L_f(θ): forgetting = predicting p on the forget set.

    Upper (retain) level, λ-strongly convex: L_r(θ) = (1/n_r)Σ log(1 + exp(−y_i x_iᵀθ)) + λ/2‖θ‖²
    over the retain rows (X_r, y_r ∈ {−1, 1}). Lower (forget) level, maximised: the negative mean
    soft-label cross-entropy L_f(θ) = −(1/n_f)Σ CE(p_i, σ(x_iᵀθ)) = −(1/n_f)Σ [softplus(x_iᵀθ) − p_i x_iᵀθ]
    over the forget rows X_f with targets p_i = p ∈ (0, 1) (p = ½: "forgetting = uncertain
    predictions"). L_f is concave and ∇L_f = −(1/n_f)X_fᵀ(σ(X_fθ) − p) vanishes iff X_fθ = logit(p)
    (X_f has full row rank n_f < d), so argmax L_f is that affine set of dimension d − n_f and

        θ* = argmin L_r(θ)  s.t.  X_fθ = logit(p).

    Reference (:attr:`reference`, lazy and cached): cvxpy with Clarabel (exponential cones,
    tolerances 1e-10; "optimal_inaccurate" is accepted and recorded), then equality-constrained
    Newton steps in null(X_f) until the reduced gradient is at round-off; a reduced gradient or
    infeasibility above 1e-10 raises RuntimeError. θ_ρ has no closed form
    (:meth:`penalised_solution` is ``None``).

    θ_0 is the "original model": the minimiser of the regularised logistic loss over retain and
    forget rows together, the forget rows with their true labels y_f (Newton's method).

    Data (drawn in this order): X_r, X_f with N(0, 1) entries; θ_true ~ N(0, (4/d)I);
    y = +1 with probability σ(xᵀθ_true), else −1, for the retain then the forget rows.

    Source: this project's synthetic stochastic convex case (OFMU, arXiv 2509.22483: L_f maximised,
    L_r minimised); the soft-label forget target is our choice (it gives L_f finite maximisers), not the paper's.
    """

    regime: ClassVar[str] = (
        "concave (not strongly, no global PL) lower level with an affine argmax of dimension d - n_f; "
        "lambda-strongly convex upper level; stochastic"
    )
    convex: ClassVar[bool] = True
    stochastic: ClassVar[bool] = True
    sense: ClassVar[Sense] = "max"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {"quick": {"n_r": 30, "n_f": 4, "d": 8}, "full": {}}
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            """Forget rows n_f < d, ridge weight in [0.01, 1], target probability in [0.1, 0.9]."""
            n_f = draw(st.integers(1, 4))
            return {
                "n_r": draw(st.integers(1, 20)),
                "n_f": n_f,
                "d": draw(st.integers(n_f + 1, n_f + 5)),
                "lam": draw(st.floats(0.01, 1.0)),
                "p": draw(st.floats(0.1, 0.9)),
            }

        return params()

    @classmethod
    def search_params(cls) -> SearchStrategy[dict[str, Any]]:
        """The parameters, seed included, that a counterexample search of ``ofmu verify`` may shrink."""
        from hypothesis import strategies as st

        seeds = st.integers(min_value=0, max_value=2**16)

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            n_f = draw(st.integers(1, 3))
            return {"n_r": draw(st.integers(10, 30)), "n_f": n_f, "d": n_f + draw(st.integers(1, 4)),
                    "seed": draw(seeds)}

        return params()

    n_r: int
    n_f: int
    d: int
    lam: float
    p: float
    X_r: np.ndarray = field(repr=False)
    y_r: np.ndarray = field(repr=False)
    X_f: np.ndarray = field(repr=False)
    y_f: np.ndarray = field(repr=False)
    targets: np.ndarray = field(repr=False)

    @classmethod
    def sample(
        cls,
        *,
        seed: int = 0,
        n_r: int = 40,
        n_f: int = 5,
        d: int = 10,
        lam: float = 0.1,
        p: float = 0.5,
        **unknown: Any,
    ) -> LogisticForget:
        """Draw an instance.

        Args:
            seed: seed of ``np.random.default_rng``.
            n_r: retain rows (≥ 1).
            n_f: forget rows (≥ 1).
            d: dimension (> n_f, so argmax L_f is an affine set, not a point).
            lam: ridge weight λ > 0 of the retain loss.
            p: target probability on the forget rows, in (0, 1).

        Raises:
            ValueError: naming the parameter that is out of range or unknown.
        """
        reject_unknown("logistic_forget", cls.sample, unknown)
        seed = check_seed(seed)
        n_r = check_int("n_r", n_r, low=1)
        n_f = check_int("n_f", n_f, low=1)
        d = check_int("d", d, low=n_f + 1, why="the forget argmax is affine only if d > n_f")
        lam = check_float("lam", lam, low=0.0, open_low=True)
        p = check_float("p", p, low=0.0, high=1.0, open_low=True, open_high=True)
        rng = np.random.default_rng(seed)
        X_r = rng.standard_normal((n_r, d))
        X_f = rng.standard_normal((n_f, d))
        theta_true = rng.standard_normal(d) * (2.0 / np.sqrt(d))
        y_r = np.where(rng.random(n_r) < expit(X_r @ theta_true), 1.0, -1.0)
        y_f = np.where(rng.random(n_f) < expit(X_f @ theta_true), 1.0, -1.0)
        if np.linalg.matrix_rank(X_f) < n_f:
            raise ValueError(f"degenerate draw for seed={seed}: X_f is rank deficient; use another seed")
        return cls(
            seed=seed, n_r=n_r, n_f=n_f, d=d, lam=lam, p=p,
            X_r=X_r, y_r=y_r, X_f=X_f, y_f=y_f, targets=np.full(n_f, p),
        )  # fmt: skip

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "n_r": self.n_r, "n_f": self.n_f, "d": self.d, "lam": self.lam, "p": self.p}

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        return soft_label_ce(self.X_f, self.targets), logistic(self.X_r, self.y_r, lam=self.lam)

    @cached_property
    def _theta0(self) -> np.ndarray:
        both = logistic(np.vstack([self.X_r, self.X_f]), np.concatenate([self.y_r, self.y_f]), lam=self.lam)
        return _newton(both, np.zeros(self.d), basis=np.eye(self.d))

    def theta0(self) -> np.ndarray:
        """The minimiser of the regularised logistic loss on retain ∪ forget rows (true labels)."""
        return self._theta0.copy()

    def region_radius(self) -> float:
        """r of the ball B(0, r) on which :meth:`constants` bounds ‖∇L_r‖.

        r = 2·max(‖θ_0‖, √(2L_r(θ_p)/λ)), θ_p = X_f⁺logit(p): the ball contains θ_0 and θ*
        (λ/2‖θ*‖² ≤ L_r(θ*) ≤ L_r(θ_p) since θ_p is feasible and the logistic part is ≥ 0).
        """
        theta_p = np.linalg.pinv(self.X_f) @ logit(self.targets)
        upper = self.objectives()[1].to("numpy")
        return 2.0 * max(float(np.linalg.norm(self.theta0())), float(np.sqrt(2.0 * upper.value(theta_p) / self.lam)))

    def constants(self) -> Constants:
        """Constants from |σ'| ≤ ¼ and |σ''| ≤ √3/18.

        * L_lower = ‖X_f‖₂²/(4n_f), L_upper = ‖X_r‖₂²/(4n_r) + λ, mu_upper = λ (a lower bound: the
          logistic part has no uniform curvature); mu_lower = None (concave, not strongly, and not
          PL globally: σ' → 0 far from the data).
        * M_lower = (√3/18)·(1/n_f)Σ‖x_i‖³: ‖∇²L_f(θ) − ∇²L_f(θ')‖ ≤ (1/n_f)Σ|σ'(z_i) − σ'(z_i')|‖x_i‖²
          and |σ'(z) − σ'(z')| ≤ (√3/18)|x_iᵀ(θ − θ')|.
        * G_phi, on all of R^d: ‖∇L_f‖ = ‖X_fᵀ(σ − p)‖/n_f ≤ min(‖X_f‖₂√n_f, Σ‖x_i‖)·max(p, 1 − p)/n_f.
        * G_upper, on B(0, r) with r = :meth:`region_radius`: ‖X_r‖₂/√n_r + λr.
        """
        norms_f = np.linalg.norm(self.X_f, axis=1)
        spec_f = float(np.linalg.norm(self.X_f, 2))
        q = max(self.p, 1.0 - self.p)
        return Constants(
            L_lower=spec_f**2 / (4.0 * self.n_f),
            L_upper=float(np.linalg.norm(self.X_r, 2)) ** 2 / (4.0 * self.n_r) + self.lam,
            mu_lower=None,
            mu_upper=self.lam,
            G_upper=float(np.linalg.norm(self.X_r, 2) / np.sqrt(self.n_r) + self.lam * self.region_radius()),
            H_phi=spec_f**2 / (4.0 * self.n_f),
            M_lower=float(SIGMA2_MAX * np.mean(norms_f**3)),
            G_phi=float(min(spec_f * np.sqrt(self.n_f), norms_f.sum()) * q / self.n_f),
        )

    @cached_property
    def reference(self) -> LogisticReference:
        """θ* by cvxpy (Clarabel) and a Newton polish (computed once per instance)."""
        theta = cp.Variable(self.d)
        margins = cp.multiply(self.y_r, self.X_r @ theta)
        objective = cp.sum(cp.logistic(-margins)) / self.n_r + 0.5 * self.lam * cp.sum_squares(theta)
        target = logit(self.targets)
        problem = cp.Problem(cp.Minimize(objective), [self.X_f @ theta == target])
        with warnings.catch_warnings():  # "solution may be inaccurate": recorded in the status instead
            warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
            problem.solve(solver=cp.CLARABEL, **CLARABEL_TOL)
        if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise RuntimeError(f"logistic_forget reference: Clarabel ended with status {problem.status!r}")
        theta_cvx = np.array(theta.value)

        _, _, vt = np.linalg.svd(self.X_f)
        basis = vt[self.n_f :].T  # (d, d − n_f): orthonormal basis of null(X_f)
        start = theta_cvx - np.linalg.pinv(self.X_f) @ (self.X_f @ theta_cvx - target)  # back onto X_fθ = logit(p)
        upper = self.objectives()[1]
        theta_star = _newton(upper, start, basis=basis)
        grad = upper.to("numpy").value_and_grad(theta_star)[1]
        kkt = float(np.linalg.norm(basis.T @ grad))
        feasibility = float(np.abs(self.X_f @ theta_star - target).max())
        if not (kkt <= 1e-10 * (1.0 + np.linalg.norm(grad)) and feasibility <= 1e-10 * (1.0 + np.abs(target).max())):
            raise RuntimeError(f"logistic_forget reference: Newton polish stopped at {kkt=:.3g}, {feasibility=:.3g}")
        return LogisticReference(
            theta=theta_star, theta_cvxpy=theta_cvx, kkt_residual=kkt, feasibility=feasibility, status=str(problem.status)
        )

    def solution(self) -> np.ndarray:
        """θ* from :attr:`reference`."""
        return self.reference.theta.copy()


def _newton(objective: ArrayObjective, start: np.ndarray, *, basis: np.ndarray, max_steps: int = 100) -> np.ndarray:
    """Damped Newton (Armijo backtracking) on a smooth strongly convex objective over start + range(Z).

    Z = ``basis`` has orthonormal columns. Stops when the reduced gradient ‖Zᵀ∇L‖ is at round-off
    (≤ 40·eps·(1 + ‖∇L‖)) or when no step length down to 1e-10 decreases L; returns the last
    accepted point.
    """
    obj = objective.to("numpy")

    def reduced_hessian(theta: np.ndarray) -> np.ndarray:
        return basis.T @ np.stack([obj.hvp(theta, basis[:, j]) for j in range(basis.shape[1])], axis=1)

    theta = start.copy()
    value, grad = obj.value_and_grad(theta)
    for _ in range(max_steps):
        g_red = basis.T @ grad
        if np.linalg.norm(g_red) <= 40 * np.finfo(float).eps * (1.0 + np.linalg.norm(grad)):
            break
        w = np.linalg.solve(reduced_hessian(theta), -g_red)
        t = 1.0
        while t > 1e-10:
            candidate = theta + t * (basis @ w)
            new_value, new_grad = obj.value_and_grad(candidate)
            # near the optimum the value stalls at round-off before the gradient does: accept a
            # full step that still shrinks the reduced gradient
            if new_value <= value + 1e-4 * t * float(g_red @ w) or (
                t == 1.0 and np.linalg.norm(basis.T @ new_grad) < np.linalg.norm(g_red)
            ):
                break
            t *= 0.5
        else:
            break
        theta, value, grad = candidate, new_value, new_grad
    return theta
