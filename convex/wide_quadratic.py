"""Wide quadratic: a classical bilevel problem whose lower level is PL but not strongly convex."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from convex._affine import AffineQuadratic
from convex._common import MAX_COND, check_float, check_int, check_seed, pinv_rank, reject_unknown, spectral_matrix
from ofmu_theory.family import FAMILIES
from ofmu_theory.problem import Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


@FAMILIES.register("wide_quadratic")
@dataclass(frozen=True, kw_only=True)
class WideQuadratic(AffineQuadratic):
    """min_{x,y} ½‖y‖² + ½‖x − x_0‖²  s.t.  y ∈ argmin_y ½‖Cy − Bx‖²,  C wide.

    θ = (x, y), x ∈ R^n, y ∈ R^p, block = y, sense "min"; C ∈ R^{q×p} with q < p (rank r ≤ q),
    B ∈ R^{q×n}. The lower level is PL in y with μ = s_r(C)² but not strongly convex, and its
    solution set S(x) = C⁺Bx + null(C) is an affine set of dimension p − r (the normal equations
    CᵀCy = CᵀBx; this holds for rank-deficient C too). For a fixed x the upper level picks the
    minimum-norm point of S(x), which is C⁺Bx because C⁺Bx ∈ range(Cᵀ) ⊥ null(C). Hence, with
    M = C⁺B, the hyper-objective is ½‖Mx‖² + ½‖x − x_0‖² and

        x* = (I + MᵀM)⁻¹x_0,   y* = Mx*.

    θ_ρ is the base-class closed form (I + 2ρNᵀN)⁻¹(θ_c + 2ρNᵀh) with θ_c = (x_0, 0), N = PJᵀJ,
    J = [−B, C], h = 0: the penalty is ρ‖Cᵀ(Cy − Bx)‖².

    θ_0 ~ N(0, I_{n+p}) (a random start).

    Source: arXiv 2509.22483's test problems, as reconstructed for this project ("wide-matrix PL lower level"); the formula for x*
    is re-derived above.

    Attributes:
        n, p, q: dimensions of x, y and of the rows of C and B (q < p).
        rank: rank of C (≤ q).
        cond: s_1(C)/s_r(C) (singular values log-spaced; unused when rank = 1).
        scale: ‖C‖₂.
        C, B, x0, theta_start: the data, drawn in this order (C's factors, B ~ N(0, 1) entries,
            x_0 ~ N(0, I_n), θ_0).
    """

    regime: ClassVar[str] = (
        "lower level PL in y with mu = s_r(C)^2, not strongly convex, non-singleton argmin (classical bilevel); "
        "1-strongly convex upper level; deterministic"
    )
    convex: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    sense: ClassVar[Sense] = "min"
    form: ClassVar[str] = "classical"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {"n": 3, "p": 6, "q": 3, "cond": 3.0},
        "full": {"n": 4, "p": 10, "q": 5, "cond": 10.0},
    }
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            """C ∈ R^{q×p} wide (p > q) of rank ≤ q, B ∈ R^{q×n}."""
            q = draw(st.integers(1, 3))
            return {
                "n": draw(st.integers(1, 3)),
                "p": draw(st.integers(q + 1, q + 4)),
                "q": q,
                "rank": draw(st.integers(1, q)),
                "cond": draw(st.floats(1.0, 100.0)),
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
            q = draw(st.integers(1, 3))
            return {"n": draw(st.integers(1, 3)), "q": q, "p": q + draw(st.integers(1, 3)),
                    "cond": draw(conds), "seed": draw(seeds)}

        return params()

    @classmethod
    def rate_params(cls, dim: int, cond: float) -> dict[str, Any]:
        """Parameters with every nonzero ν² ≥ 1 (s_1 = 2, cond ≤ 2): the O(1/ρ) slope test of θ_ρ."""
        return {"n": dim, "p": dim + 2, "q": dim, "cond": cond, "scale": 2.0}

    n: int
    p: int
    q: int
    rank: int
    cond: float
    scale: float
    C: np.ndarray = field(repr=False)
    B: np.ndarray = field(repr=False)
    x0: np.ndarray = field(repr=False)
    theta_start: np.ndarray = field(repr=False)

    @classmethod
    def sample(
        cls,
        *,
        seed: int = 0,
        n: int = 3,
        p: int = 6,
        q: int = 3,
        rank: int | None = None,
        cond: float = 10.0,
        scale: float = 1.0,
        **unknown: Any,
    ) -> WideQuadratic:
        """Draw an instance.

        Args:
            seed: seed of ``np.random.default_rng``.
            n: dimension of the upper variable x (≥ 1).
            p: dimension of the lower variable y (> q).
            q: rows of C and B (≥ 1).
            rank: rank of C in [1, q] (default q).
            cond: condition number of C in [1, 1e6] (unused when rank = 1).
            scale: ‖C‖₂ > 0.

        Raises:
            ValueError: naming the parameter that is out of range or unknown.
        """
        reject_unknown("wide_quadratic", cls.sample, unknown)
        seed = check_seed(seed)
        n = check_int("n", n, low=1)
        q = check_int("q", q, low=1)
        p = check_int("p", p, low=q + 1, why="C must be wide, p > q")
        rank = q if rank is None else check_int("rank", rank, low=1, high=q, why="rank(C) <= q")
        cond = check_float("cond", cond, low=1.0, high=MAX_COND)
        scale = check_float("scale", scale, low=0.0, open_low=True)
        rng = np.random.default_rng(seed)
        C = spectral_matrix(rng, q, p, rank=rank, cond=cond, scale=scale)  # (q, p)
        B = rng.standard_normal((q, n))
        x0 = rng.standard_normal(n)
        theta_start = rng.standard_normal(n + p)
        return cls(
            seed=seed, n=n, p=p, q=q, rank=rank, cond=cond, scale=scale, C=C, B=B, x0=x0, theta_start=theta_start
        )

    def params(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "n": self.n,
            "p": self.p,
            "q": self.q,
            "rank": self.rank,
            "cond": self.cond,
            "scale": self.scale,
        }

    def affine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        J = np.hstack([-self.B, self.C])  # (q, n + p): Jθ = Cy − Bx
        return J, np.zeros(self.q), np.concatenate([self.x0, np.zeros(self.p)])

    def block(self) -> np.ndarray:
        """The y coordinates."""
        return np.concatenate([np.zeros(self.n), np.ones(self.p)])

    def lower_rank(self) -> int:
        return self.rank

    def theta0(self) -> np.ndarray:
        return self.theta_start.copy()

    def solution(self) -> np.ndarray:
        """θ* = (x*, Mx*), M = C⁺B, x* = (I + MᵀM)⁻¹x_0."""
        M = pinv_rank(self.C, self.rank) @ self.B  # (p, n)
        x = np.linalg.solve(np.eye(self.n) + M.T @ M, self.x0)
        return np.concatenate([x, M @ x])
