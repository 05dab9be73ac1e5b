"""BOME's toy with a non-singleton lower-level solution set.

θ = (w, x₁, x₂): the upper variable w first, then the lower variables y = (x₁, x₂)
(block = (0, 1, 1)); both levels are minimised:

.. math::

    g(θ) = \\tfrac12 x_1^2 - w x_1, \\qquad f(θ) = \\tfrac12 (w - x_2)^2 + \\tfrac12 (x_1 - 1)^2.

The lower solution set S(w) = {x₁ = w, x₂ ∈ R} is a line, so y*(w) is not unique and methods that
differentiate through y*(w) break down; the optimistic bilevel solution is (w, x₁, x₂) = (1, 1, 1)
with f = 0.

Source: B. Liu, M. Ye, S. Wright, P. Stone, Q. Liu, "BOME! Bilevel optimization made easy: a
simple first-order approach", NeurIPS 2022 (the non-singleton toy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nonconvex._common import IdentityEq, check_float, check_seed, merge_params
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants, Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

W, X1, X2 = 0, 1, 2  # positions in θ

# Constant Hessians: g is quadratic, so D³g = 0.
LOWER_HESSIAN = np.array([[0.0, -1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
UPPER_HESSIAN = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])


def lower_value(theta: Any, data: Any, xp: Any) -> Any:
    """g = ½x₁² − w·x₁."""
    return 0.5 * theta[X1] ** 2 - theta[W] * theta[X1]


def lower_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    return np.array([-theta[X1], theta[X1] - theta[W], 0.0])


def lower_hvp(theta: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    return LOWER_HESSIAN @ v


def upper_value(theta: Any, data: Any, xp: Any) -> Any:
    """f = ½(w − x₂)² + ½(x₁ − 1)²."""
    return 0.5 * (theta[W] - theta[X2]) ** 2 + 0.5 * (theta[X1] - 1) ** 2


def upper_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    d = theta[W] - theta[X2]
    return np.array([d, theta[X1] - 1.0, -d])


def upper_hvp(theta: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    return UPPER_HESSIAN @ v


def zero_d3(theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    """D³ = 0 (quadratic objective)."""
    return np.zeros_like(theta)


@FAMILIES.register("bome_toy")
@dataclass(frozen=True, kw_only=True, eq=False)
class BomeToy(IdentityEq, Family):
    """BOME's non-singleton toy (classical sense: both levels minimised).

    Ordering θ = (w, x₁, x₂), block = (0, 1, 1). θ_0 ~ N(0, init_scale²·I₃) from the seed.

    Args (to :meth:`sample`):
        init_scale: standard deviation of θ_0 (default 1.0, > 0).

    Regime: g is convex but not strongly convex in y = (x₁, x₂) (∇²_y g = diag(1, 0)) with the
    line S(w) = {x₁ = w} as solution set; jointly in θ its Hessian [[0, −1, 0], [−1, 1, 0], 0]
    has eigenvalues (1 ± √5)/2 and 0, so g is non-convex in θ. f is convex. With β > 0 the OFMU
    inner objective Φ_β = σg − β·cos(σ∇g, ∇f) is non-convex.

    Constants (global; the objectives are quadratics):
        L_lower = (1 + √5)/2: the largest |eigenvalue| of ∇²g over all of θ (1 on the block).
        mu_lower = 1: PL in y, g − min_y g = ½(x₁ − w)² = ½‖∇_y g‖².
        M_lower = 0: g is quadratic.
        L_upper = 2: ∇²f has eigenvalues 2, 1, 0.
        mu_upper = 1: PL (not strongly convex): ‖∇f‖² = 2(w − x₂)² + (x₁ − 1)² ≥ 2(f − 0).
    """

    regime: ClassVar[str] = (
        "convex upper level, convex but not strongly convex lower level in y with a non-singleton "
        "solution set (PL, mu=1); lower level jointly non-convex in theta"
    )
    convex: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    sense: ClassVar[Sense] = "min"
    form: ClassVar[str] = "classical"

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {"quick": {}, "full": {}}
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        return st.fixed_dictionaries({"init_scale": st.floats(0.1, 3.0)})

    @classmethod
    def search_params(cls) -> SearchStrategy[dict[str, Any]]:
        """The parameters, seed included, that a counterexample search of ``ofmu verify`` may shrink."""
        from hypothesis import strategies as st

        seeds = st.integers(min_value=0, max_value=2**16)
        return st.fixed_dictionaries({"init_scale": st.floats(0.1, 3.0), "seed": seeds})

    init_scale: float
    start: np.ndarray

    @classmethod
    def sample(cls, *, seed: int = 0, **params: Any) -> BomeToy:
        """Draw θ_0 ~ N(0, init_scale²·I) from ``seed``."""
        p = merge_params("bome_toy", {"init_scale": 1.0}, params)
        scale = check_float("init_scale", p["init_scale"], low=0.0, low_open=True)
        start = scale * np.random.default_rng(check_seed(seed)).standard_normal(3)
        start.setflags(write=False)
        return cls(seed=int(seed), init_scale=scale, start=start)

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        lower = ArrayObjective(value=lower_value, grad=lower_grad, hvp=lower_hvp, d3=zero_d3)
        upper = ArrayObjective(value=upper_value, grad=upper_grad, hvp=upper_hvp, d3=zero_d3)
        return lower, upper

    def theta0(self) -> np.ndarray:
        return np.array(self.start)

    def block(self) -> np.ndarray:
        return np.array([0.0, 1.0, 1.0])

    def constants(self) -> Constants:
        return Constants(
            L_lower=(1.0 + float(np.sqrt(5.0))) / 2.0, mu_lower=1.0, M_lower=0.0, L_upper=2.0, mu_upper=1.0
        )

    # --- references ---------------------------------------------------------------------
    def solution(self) -> np.ndarray:
        """(w, x₁, x₂) = (1, 1, 1): min f over {x₁ = w} (f ≥ 0 and f = 0 only there)."""
        return np.ones(3)

    def penalised_solution(self, rho: float) -> np.ndarray:
        """θ_ρ = (1, 1, 1) for every ρ > 0.

        With β = 0, F_ρ = f + ρ‖P∇g‖² = ½(w − x₂)² + ½(x₁ − 1)² + ρ(x₁ − w)² ≥ 0, and it vanishes
        only at (1, 1, 1).
        """
        check_float("rho", rho, low=0.0, low_open=True)
        return np.ones(3)

    @staticmethod
    def lower_solution_set(w: float, x2: float = 0.0) -> np.ndarray:
        """The point (w, x₁, x₂) = (w, w, x₂) of S(w) (any x₂ solves the lower level)."""
        return np.array([w, w, x2], dtype=np.float64)

    @staticmethod
    def hyper_objective(w: float | np.ndarray) -> np.ndarray:
        """Optimistic φ(w) = min_{y ∈ S(w)} f = ½(w − 1)² (x₂ = w)."""
        return 0.5 * (np.asarray(w, dtype=np.float64) - 1.0) ** 2

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed, "init_scale": self.init_scale}
