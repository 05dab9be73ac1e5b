"""The two-variable toy of Shen & Chen (ICML 2023): PL (not convex) lower level, non-convex upper level.

θ = (x, y) ∈ R², the lower level minimises g over y, the upper level minimises f, x ∈ [0, 3]:

.. math::

    g(x, y) = (x + y)^2 + x \\sin^2(x + y), \\qquad
    f(x, y) = \\frac{\\cos(4y + 2)}{1 + e^{2 - 4x}} + \\tfrac12 \\log\\big((4x - 2)^2 + 1\\big).

For x ≥ 0, g ≥ 0 with equality iff x + y = 0, so y*(x) = −x is the unique lower minimiser and the
hyper-objective φ(x) = f(x, −x) is one-dimensional; its stationary points on [0, 3] are found by a
grid search refined with ``scipy.optimize.brentq`` on φ'.

Source: H. Shen, T. Chen, "On penalty-based bilevel gradient descent method", ICML 2023 (the
V-PBGD toy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
from scipy.optimize import brentq

from nonconvex._common import IdentityEq, check_seed, merge_params, sym_d3, sym_tensor2
from ofmu_theory.constraints import Box
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants, Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

X_LO, X_HI = 0.0, 3.0

# --- the lower level g: s = x + y, c = cos 2s, σ = sin 2s -------------------------------------


def lower_value(theta: Any, data: Any, xp: Any) -> Any:
    """g(x, y) = (x + y)² + x·sin²(x + y)."""
    x, y = theta[0], theta[1]
    s = x + y
    return s**2 + x * xp.sin(s) ** 2


def lower_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    """∇g = (2s + sin²s + x sin 2s, 2s + x sin 2s)."""
    x, s = theta[0], theta[0] + theta[1]
    gy = 2 * s + x * np.sin(2 * s)
    return np.array([gy + np.sin(s) ** 2, gy])


def _lower_hessian(theta: np.ndarray) -> np.ndarray:
    """∇²g = (2 + 2x cos 2s)·11ᵀ + sin 2s·[[2, 1], [1, 0]]."""
    x, s = theta[0], theta[0] + theta[1]
    return (2 + 2 * x * np.cos(2 * s)) * np.ones((2, 2)) + np.sin(2 * s) * np.array([[2.0, 1.0], [1.0, 0.0]])


def lower_hvp(theta: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    return _lower_hessian(theta) @ v


def lower_d3(theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    """D³g = cos 2s·A − 4x sin 2s·𝟙 with A_xxx = 6, A_xxy = 4, A_xyy = 2, A_yyy = 0."""
    x, s = theta[0], theta[0] + theta[1]
    c, sn = np.cos(2 * s), np.sin(2 * s)
    t = sym_tensor2(6 * c - 4 * x * sn, 4 * c - 4 * x * sn, 2 * c - 4 * x * sn, -4 * x * sn)
    return sym_d3(t, u, v)


# --- the upper level f = p(x) q(y) + r(x) ----------------------------------------------------
# p = sigmoid(4x − 2), q = cos(4y + 2), r = ½ log(u² + 1) with u = 4x − 2.


def upper_value(theta: Any, data: Any, xp: Any) -> Any:
    """f(x, y) = cos(4y + 2)/(1 + e^{2−4x}) + ½ log((4x − 2)² + 1)."""
    x, y = theta[0], theta[1]
    return xp.cos(4 * y + 2) / (1 + xp.exp(2 - 4 * x)) + 0.5 * xp.log((4 * x - 2) ** 2 + 1)


def _p_derivs(x: float) -> tuple[float, float, float, float]:
    p = 1.0 / (1.0 + np.exp(2.0 - 4.0 * x))
    return p, 4 * p * (1 - p), 16 * p * (1 - p) * (1 - 2 * p), 64 * p * (1 - p) * (1 - 6 * p + 6 * p**2)


def _q_derivs(y: float) -> tuple[float, float, float, float]:
    c, s = np.cos(4 * y + 2), np.sin(4 * y + 2)
    return c, -4 * s, -16 * c, 64 * s


def _r_derivs(x: float) -> tuple[float, float, float]:
    u = 4 * x - 2
    w = 1 + u**2
    return 4 * u / w, 16 * (1 - u**2) / w**2, 128 * u * (u**2 - 3) / w**3


def upper_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    """∇f = (p'q + r', p q')."""
    (p, p1, _, _), (q, q1, _, _), (r1, _, _) = _p_derivs(theta[0]), _q_derivs(theta[1]), _r_derivs(theta[0])
    return np.array([p1 * q + r1, p * q1])


def upper_hvp(theta: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    """∇²f = [[p''q + r'', p'q'], [p'q', p q'']]."""
    (p, p1, p2, _), (q, q1, q2, _), (_, r2, _) = _p_derivs(theta[0]), _q_derivs(theta[1]), _r_derivs(theta[0])
    return np.array([[p2 * q + r2, p1 * q1], [p1 * q1, p * q2]]) @ v


def upper_d3(theta: np.ndarray, u: np.ndarray, v: np.ndarray, data: Any) -> np.ndarray:
    """f_xxx = p'''q + r''', f_xxy = p''q', f_xyy = p'q'', f_yyy = p q'''."""
    (p, p1, p2, p3), (q, q1, q2, q3), (_, _, r3) = _p_derivs(theta[0]), _q_derivs(theta[1]), _r_derivs(theta[0])
    return sym_d3(sym_tensor2(p3 * q + r3, p2 * q1, p1 * q2, p * q3), u, v)


# --- the hyper-objective φ(x) = f(x, −x) -----------------------------------------------------


def phi(x: float | np.ndarray) -> np.ndarray:
    """φ(x) = f(x, y*(x)) with y*(x) = −x."""
    x = np.asarray(x, dtype=np.float64)
    return upper_value(np.stack([x, -x]), {}, np)


def dphi(x: float | np.ndarray) -> np.ndarray:
    """φ'(x) = f_x − f_y at (x, −x)."""
    x = np.asarray(x, dtype=np.float64)
    p, p1, _, _ = _p_derivs(x)
    q, q1, _, _ = _q_derivs(-x)
    return p1 * q + _r_derivs(x)[0] - p * q1


def d2phi(x: float | np.ndarray) -> np.ndarray:
    """φ''(x) = f_xx − 2 f_xy + f_yy at (x, −x)."""
    x = np.asarray(x, dtype=np.float64)
    p, p1, p2, _ = _p_derivs(x)
    q, q1, q2, _ = _q_derivs(-x)
    return p2 * q + _r_derivs(x)[1] - 2 * p1 * q1 + p * q2


class StationaryPoint(NamedTuple):
    """A critical point of φ on [0, 3]: interior (φ'(x) = 0) or an endpoint that is a local min/max.

    Attributes:
        x: the point; the bilevel point is (x, −x).
        phi: φ(x).
        dphi: φ'(x) (≈ 0 in the interior).
        d2phi: φ''(x).
        kind: "min" or "max" (interior, by the sign of φ''), "boundary_min" or "boundary_max".
    """

    x: float
    phi: float
    dphi: float
    d2phi: float
    kind: str


def _point(x: float, kind: str) -> StationaryPoint:
    return StationaryPoint(float(x), float(phi(x)), float(dphi(x)), float(d2phi(x)), kind)


@FAMILIES.register("shen_chen")
@dataclass(frozen=True, kw_only=True, eq=False)
class ShenChen(IdentityEq, Family):
    """Shen & Chen's toy bilevel problem (classical sense: both levels minimised).

    θ = (x, y), block = (0, 1) (y is the lower variable), Θ = {x ∈ [0, 3]} (``Box`` on x only).
    The instance has no size knobs; the seed only draws θ_0 = (x_0, y_0), x_0 ~ U[0, 3],
    y_0 ~ U[−3, 3].

    Regime: g(x, ·) is PL but not convex for x > 1 (g_yy = 2 + 2x cos 2s < 0 near s = π/2), f is
    non-convex (f_yy = −16 p(x) cos(4y + 2) changes sign). With β > 0 the OFMU inner objective
    Φ_β = σg − β·cos(σ∇g, ∇f) is non-convex as well.

    Constants (valid for x ∈ [0, 3] and every y; s = x + y):
        L_lower = 17 + √2: ∇²g = (2 + 2x cos 2s)·11ᵀ + sin 2s·[[2, 1], [1, 0]], so
            ‖∇²g‖ ≤ 2·8 + (1 + √2).
        M_lower = 36: D³g = cos 2s·A − 4x sin 2s·𝟙 with ‖A‖ = max_{‖u‖=1} 6u_x(u_x + u_y)² ≤ 12 and
            ‖𝟙‖ = 2√2, so ‖D³g‖ ≤ √(12² + (12·2√2)²) = 36 (Cauchy–Schwarz over (cos, sin)).
        mu_lower = 0.17: PL constant in y, inf (∂_y g)²/(2g) over x ∈ [0, 3], s ∈ [−30, 30] on a
            grid is 0.1755 (at x = 3, s ≈ −2.20); for |s| > 30 the ratio exceeds 1.8.
            A grid estimate rounded down; tests/nonconvex re-checks it.
        L_upper = 20 + 8/(3√3): Gershgorin on ∇²f with |p''| ≤ 8/(3√3), |r''| ≤ 16, |p'q'| ≤ 4,
            |p q''| ≤ 16.
        G_upper = 5: |f_x| ≤ |p'| + |r'| ≤ 1 + 2, |f_y| ≤ 4.
    """

    regime: ClassVar[str] = "non-convex upper level, PL but non-convex lower level in y (unique y*(x) = −x)"
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

        return st.just({})

    @classmethod
    def search_params(cls) -> SearchStrategy[dict[str, Any]]:
        """The parameters, seed included, that a counterexample search of ``ofmu verify`` may shrink."""
        from hypothesis import strategies as st

        seeds = st.integers(min_value=0, max_value=2**16)
        return st.fixed_dictionaries({"seed": seeds})

    x0: float
    y0: float

    @classmethod
    def sample(cls, *, seed: int = 0, **params: Any) -> ShenChen:
        """Draw θ_0 from ``seed``; the family has no other parameters."""
        merge_params("shen_chen", {}, params)
        rng = np.random.default_rng(check_seed(seed))
        return cls(seed=int(seed), x0=float(rng.uniform(X_LO, X_HI)), y0=float(rng.uniform(-3.0, 3.0)))

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        lower = ArrayObjective(value=lower_value, grad=lower_grad, hvp=lower_hvp, d3=lower_d3)
        upper = ArrayObjective(value=upper_value, grad=upper_grad, hvp=upper_hvp, d3=upper_d3)
        return lower, upper

    def theta0(self) -> np.ndarray:
        return np.array([self.x0, self.y0])

    def block(self) -> np.ndarray:
        return np.array([0.0, 1.0])

    def constraint(self) -> Box:
        return Box(lo=X_LO, hi=X_HI, mask=np.array([1.0, 0.0]))

    def constants(self) -> Constants:
        return Constants(
            L_lower=17.0 + float(np.sqrt(2.0)),
            M_lower=36.0,
            mu_lower=0.17,
            L_upper=20.0 + 8.0 / (3.0 * float(np.sqrt(3.0))),
            G_upper=5.0,
        )

    # --- references ---------------------------------------------------------------------
    @staticmethod
    def lower_solution(x: float | np.ndarray) -> np.ndarray:
        """y*(x) = −x, the unique minimiser of g(x, ·) for x ≥ 0."""
        return -np.asarray(x, dtype=np.float64)

    @staticmethod
    def stationary_points(n_grid: int = 3001) -> list[StationaryPoint]:
        """All interior stationary points of φ on (0, 3), and the endpoints that are local extrema.

        Sign changes of φ' on a uniform grid of ``n_grid`` points, each refined by ``brentq``
        (xtol 1e-14); the kind is the sign of φ''. An endpoint is a "boundary_min" when φ
        increases into the interval from it, "boundary_max" otherwise.
        """
        grid = np.linspace(X_LO, X_HI, n_grid)
        d = dphi(grid)
        points = [_point(X_LO, "boundary_min" if d[0] > 0 else "boundary_max")]
        for i in np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0):
            x = brentq(dphi, grid[i], grid[i + 1], xtol=1e-14, rtol=4 * np.finfo(float).eps)
            points.append(_point(x, "min" if d2phi(x) > 0 else "max"))
        points.append(_point(X_HI, "boundary_min" if d[-1] < 0 else "boundary_max"))
        return points

    def local_minima(self) -> list[StationaryPoint]:
        """The local minimisers of φ on [0, 3] (interior or endpoint)."""
        return [p for p in self.stationary_points() if p.kind in ("min", "boundary_min")]

    def solution(self) -> np.ndarray:
        """(x*, −x*) with x* the global minimiser of φ on [0, 3]."""
        best = min(self.local_minima(), key=lambda p: p.phi)
        return np.array([best.x, -best.x])

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}
