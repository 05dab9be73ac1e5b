"""Coupled quadratic: a classical bilevel problem whose lower level is strongly convex in y."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from convex._affine import AffineQuadratic
from convex._common import MAX_COND, check_float, check_int, check_rho, check_seed, reject_unknown, spectral_matrix
from ofmu_theory.family import FAMILIES
from ofmu_theory.problem import Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


@FAMILIES.register("coupled_quadratic")
@dataclass(frozen=True, kw_only=True)
class CoupledQuadratic(AffineQuadratic):
    """min_{x,y} ½‖x‖² + ½‖y − b‖²  s.t.  y ∈ argmin_y ½‖y − Ax‖².

    θ = (x, y) ∈ R^{n+p}, block = the y coordinates, sense "min". The lower level is 1-strongly
    convex in y with y*(x) = Ax, so the hyper-objective is ½‖x‖² + ½‖Ax − b‖² and

        x* = (I + AᵀA)⁻¹Aᵀb,   y* = Ax*.

    With P the block mask, ‖P∇Φ‖² = ‖y − Ax‖² and ∇F_ρ = 0 reads x = 2ρAᵀ(y − Ax),
    y − b = −2ρ(y − Ax); eliminating y with t = 2ρ/(1 + 2ρ):

        x_ρ = (I + tAᵀA)⁻¹ tAᵀb,   y_ρ = (b + 2ρAx_ρ)/(1 + 2ρ),

    and 1 − t = 1/(1 + 2ρ), so ‖θ_ρ − θ*‖ = O(1/ρ) (ν² ≥ 1 in the base-class bound).

    θ_0 ~ N(0, I_{n+p}) (a random start; there is no "original model" in a classical bilevel problem).

    Source: arXiv 2509.22483's test problems, as reconstructed for this project ("coupled quadratic").

    Attributes:
        n, p: dimensions of x and y.
        cond: condition number of A (rank min(n, p), singular values log-spaced; unused when
            min(n, p) = 1).
        scale: ‖A‖₂.
        A, b, theta_start: the data, drawn in this order (A's factors, b ~ N(0, I_p), θ_0).
    """

    regime: ClassVar[str] = (
        "lower level 1-strongly convex in y (classical bilevel); 1-strongly convex upper level; deterministic"
    )
    convex: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    sense: ClassVar[Sense] = "min"
    form: ClassVar[str] = "classical"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"n": 3, "p": 4},
        "full": {"n": 5, "p": 8, "cond": 30.0},
    }
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        return st.fixed_dictionaries({  # x ∈ R^n, y ∈ R^p, A ∈ R^{p×n} with condition number in [1, 1e3]
            "n": st.integers(1, 4),
            "p": st.integers(1, 5),
            "cond": st.floats(min_value=1.0, max_value=1e3, allow_nan=False, allow_infinity=False),
            "scale": st.floats(0.5, 2.0),
        })

    @classmethod
    def search_params(cls) -> SearchStrategy[dict[str, Any]]:
        """The parameters, seed included, that a counterexample search of ``ofmu verify`` may shrink."""
        from hypothesis import strategies as st

        conds = st.floats(min_value=1.0, max_value=10.0, allow_nan=False, allow_infinity=False)
        seeds = st.integers(min_value=0, max_value=2**16)
        return st.fixed_dictionaries(
            {"n": st.integers(1, 3), "p": st.integers(1, 4), "cond": conds, "seed": seeds}
        )

    @classmethod
    def rate_params(cls, dim: int, cond: float) -> dict[str, Any]:
        """Parameters with every nonzero ν² ≥ 1 (s_1 = 2, cond ≤ 2): the O(1/ρ) slope test of θ_ρ."""
        return {"n": dim, "p": dim + 1, "cond": cond, "scale": 2.0}

    n: int
    p: int
    cond: float
    scale: float
    A: np.ndarray = field(repr=False)
    b: np.ndarray = field(repr=False)
    theta_start: np.ndarray = field(repr=False)

    @classmethod
    def sample(
        cls, *, seed: int = 0, n: int = 3, p: int = 5, cond: float = 10.0, scale: float = 1.0, **unknown: Any
    ) -> CoupledQuadratic:
        """Draw an instance.

        Args:
            seed: seed of ``np.random.default_rng``.
            n: dimension of the upper variable x (≥ 1).
            p: dimension of the lower variable y (≥ 1).
            cond: condition number of A ∈ R^{p×n} in [1, 1e6] (unused when min(n, p) = 1).
            scale: ‖A‖₂ > 0.

        Raises:
            ValueError: naming the parameter that is out of range or unknown.
        """
        reject_unknown("coupled_quadratic", cls.sample, unknown)
        seed = check_seed(seed)
        n = check_int("n", n, low=1)
        p = check_int("p", p, low=1)
        cond = check_float("cond", cond, low=1.0, high=MAX_COND)
        scale = check_float("scale", scale, low=0.0, open_low=True)
        rng = np.random.default_rng(seed)
        A = spectral_matrix(rng, p, n, rank=min(n, p), cond=cond, scale=scale)  # (p, n)
        b = rng.standard_normal(p)
        theta_start = rng.standard_normal(n + p)
        return cls(seed=seed, n=n, p=p, cond=cond, scale=scale, A=A, b=b, theta_start=theta_start)

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "n": self.n, "p": self.p, "cond": self.cond, "scale": self.scale}

    def affine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        J = np.hstack([-self.A, np.eye(self.p)])  # (p, n + p): Jθ = y − Ax
        return J, np.zeros(self.p), np.concatenate([np.zeros(self.n), self.b])

    def block(self) -> np.ndarray:
        """The y coordinates."""
        return np.concatenate([np.zeros(self.n), np.ones(self.p)])

    def lower_rank(self) -> int:
        return self.p

    def theta0(self) -> np.ndarray:
        return self.theta_start.copy()

    def solution(self) -> np.ndarray:
        """θ* = (x*, Ax*), x* = (I + AᵀA)⁻¹Aᵀb."""
        x = np.linalg.solve(np.eye(self.n) + self.A.T @ self.A, self.A.T @ self.b)
        return np.concatenate([x, self.A @ x])

    def penalised_solution(self, rho: float) -> np.ndarray:
        """θ_ρ = (x_ρ, y_ρ) with t = 2ρ/(1 + 2ρ), x_ρ = (I + tAᵀA)⁻¹tAᵀb, y_ρ = (b + 2ρAx_ρ)/(1 + 2ρ)."""
        rho = check_rho(rho)
        t = 2.0 * rho / (1.0 + 2.0 * rho)
        x = np.linalg.solve(np.eye(self.n) + t * (self.A.T @ self.A), t * (self.A.T @ self.b))
        y = (self.b + 2.0 * rho * (self.A @ x)) / (1.0 + 2.0 * rho)
        return np.concatenate([x, y])
