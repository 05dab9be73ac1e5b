"""Minimum-distance (projection) least squares: the OFMU penalty's reference convex problem."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from convex._affine import AffineQuadratic
from convex._common import (
    MAX_COND,
    check_float,
    check_int,
    check_rho,
    check_seed,
    pinv_rank,
    reject_unknown,
    spectral_matrix,
)
from ofmu_theory.family import FAMILIES
from ofmu_theory.problem import Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


@FAMILIES.register("least_squares_projection")
@dataclass(frozen=True, kw_only=True)
class LeastSquaresProjection(AffineQuadratic):
    """Project c onto the least-squares solutions of a wide system.

    Lower (forget) level, maximised: L_f(θ) = −½‖Aθ − b‖², A ∈ R^{m×d} wide (m < d) of rank r, so
    argmax L_f = A⁺b + null(A) is an affine set of dimension d − r. Upper (retain) level:
    L_r(θ) = ½‖θ − c‖². With M = AᵀA:

        θ* = c + A⁺(b − Ac)                            (the projection of c onto argmax L_f)
        (I + 2ρM²) θ_ρ = c + 2ρ M Aᵀb                  (∇F_ρ = 0 for F_ρ = L_r + ρ‖∇L_f‖², β = 0)

    Both hold for rank-deficient A (r < m): A⁺A is then the projector onto the row space and
    I + 2ρM² stays invertible. ‖θ_ρ − θ*‖ ≤ ‖c − θ*‖/(1 + 2ρ s_r⁴) with s_r the smallest nonzero
    singular value of A, i.e. O(1/ρ).

    θ_0 is the "original model" trained on both sets: θ_0 = argmin ½‖θ − c‖² + ½‖Aθ − b‖²
    = (I + M)⁻¹(c + Aᵀb).

    Source: arXiv 2509.22483's test problems, as reconstructed for this project
    ("minimum-norm / projection least squares").

    Attributes:
        m, d: rows and columns of A (m < d).
        rank: r = rank(A) ≤ m.
        cond: s_1/s_r, the condition number of A on its row space (singular values log-spaced;
            unused when rank = 1).
        scale: s_1 = ‖A‖₂.
        A, b, c: the data (drawn in this order from ``np.random.default_rng(seed)``: A's factors,
            then b ~ N(0, I_m), then c ~ N(0, I_d)).
    """

    regime: ClassVar[str] = (
        "concave (not strongly) lower level, PL with mu = s_r(A)^2, non-singleton argmax; "
        "1-strongly convex upper level; deterministic"
    )
    convex: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    sense: ClassVar[Sense] = "max"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"m": 4, "d": 10, "cond": 3.0},
        "full": {"m": 8, "d": 20, "cond": 10.0},
    }
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            """A wide m×d matrix (d > m) of rank ≤ m, condition number in [1, 1e3], ‖A‖ in [0.5, 2]."""
            m = draw(st.integers(1, 5))
            return {
                "m": m,
                "d": draw(st.integers(m + 1, m + 6)),
                "rank": draw(st.integers(1, m)),
                "cond": draw(st.floats(min_value=1.0, max_value=1e3, allow_nan=False, allow_infinity=False)),
                "scale": draw(st.floats(0.5, 2.0)),
            }

        return params()

    @classmethod
    def search_params(cls) -> SearchStrategy[dict[str, Any]]:
        """The parameters, seed included, that a counterexample search of ``ofmu verify`` may shrink."""
        from hypothesis import strategies as st

        conds = st.floats(min_value=1.0, max_value=10.0, allow_nan=False, allow_infinity=False)
        seeds = st.integers(min_value=0, max_value=2**16)

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            m = draw(st.integers(1, 4))
            return {"m": m, "d": m + draw(st.integers(1, 4)), "cond": draw(conds), "seed": draw(seeds)}

        return params()

    @classmethod
    def rate_params(cls, dim: int, cond: float) -> dict[str, Any]:
        """Parameters with every nonzero ν² ≥ 1 (s_1 = 2, cond ≤ 2): the O(1/ρ) slope test of θ_ρ."""
        return {"m": dim, "d": dim + 3, "cond": cond, "scale": 2.0}

    m: int
    d: int
    rank: int
    cond: float
    scale: float
    A: np.ndarray = field(repr=False)
    b: np.ndarray = field(repr=False)
    c: np.ndarray = field(repr=False)

    @classmethod
    def sample(
        cls,
        *,
        seed: int = 0,
        m: int = 5,
        d: int = 12,
        rank: int | None = None,
        cond: float = 10.0,
        scale: float = 1.0,
        **unknown: Any,
    ) -> LeastSquaresProjection:
        """Draw an instance.

        Args:
            seed: seed of ``np.random.default_rng``.
            m: rows of A (≥ 1).
            d: columns of A (> m: A is wide).
            rank: rank of A in [1, m] (default m: full row rank).
            cond: condition number s_1/s_r in [1, 1e6] (unused when rank = 1).
            scale: largest singular value s_1 > 0.

        Raises:
            ValueError: naming the parameter that is out of range or unknown.
        """
        reject_unknown("least_squares_projection", cls.sample, unknown)
        seed = check_seed(seed)
        m = check_int("m", m, low=1)
        d = check_int("d", d, low=m + 1, why="A must be wide, d > m")
        rank = m if rank is None else check_int("rank", rank, low=1, high=m, why="rank(A) <= m")
        cond = check_float("cond", cond, low=1.0, high=MAX_COND)
        scale = check_float("scale", scale, low=0.0, open_low=True)
        rng = np.random.default_rng(seed)
        A = spectral_matrix(rng, m, d, rank=rank, cond=cond, scale=scale)  # (m, d)
        b = rng.standard_normal(m)
        c = rng.standard_normal(d)
        return cls(seed=seed, m=m, d=d, rank=rank, cond=cond, scale=scale, A=A, b=b, c=c)

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "m": self.m, "d": self.d, "rank": self.rank, "cond": self.cond, "scale": self.scale}

    def affine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.A, self.b, self.c

    def lower_rank(self) -> int:
        return self.rank

    def theta0(self) -> np.ndarray:
        M = self.A.T @ self.A
        return np.linalg.solve(np.eye(self.d) + M, self.c + self.A.T @ self.b)

    def solution(self) -> np.ndarray:
        """θ* = c + A⁺(b − Ac), A⁺ by the SVD truncated at the known rank."""
        return self.c + pinv_rank(self.A, self.rank) @ (self.b - self.A @ self.c)

    def penalised_solution(self, rho: float) -> np.ndarray:
        """θ_ρ solving (I + 2ρM²)θ = c + 2ρMAᵀb, M = AᵀA."""
        rho = check_rho(rho)
        M = self.A.T @ self.A
        return np.linalg.solve(np.eye(self.d) + 2.0 * rho * (M @ M), self.c + 2.0 * rho * (M @ (self.A.T @ self.b)))
