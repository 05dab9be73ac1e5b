"""Matrix factorisation: a PL (exactly parameterised) or degenerate (over-parameterised) lower level.

θ = (vec U, vec V) with U ∈ R^{m×k}, V ∈ R^{n×k} (row-major ``ravel``); both levels act on all of θ
and the lower level is MAXIMISED (the unlearning convention):

.. math::

    L_{lower}(θ) = -\\tfrac12 \\|UV^\\top - M\\|_F^2, \\qquad
    L_{upper}(θ) = \\tfrac12 (\\|U\\|_F^2 + \\|V\\|_F^2).

M = P diag(s) Qᵀ has rank r and singular values s log-spaced in [1/cond, 1]. The argmax is
{UVᵀ = M} (value 0; every local maximum is global), a non-singleton set: (UG, VG⁻ᵀ) for any
invertible G. The bilevel value is min{½(‖U‖² + ‖V‖²) : UVᵀ = M} = ‖M‖_* (the variational form of
the nuclear norm, needs k ≥ r), attained by the balanced factors U = P√S, V = Q√S (padded with
zero columns), unique up to a k×k rotation.

Sources: Burer & Monteiro, Math. Program. 2003 (factorised SDPs); Srebro, Rennie & Jaakkola,
NeurIPS 2004, Lemma 1 (‖M‖_* = min ½(‖U‖² + ‖V‖²) over UVᵀ = M); the local PL property at
exact parameterisation follows from the Morse–Bott structure of the solution manifold (e.g.
Zhu, Li, Tang & Wakin, "Global optimality in low-rank matrix optimization", IEEE TSP 2018).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nonconvex._common import IdentityEq, check_float, check_int, check_seed, frozen, merge_params
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants, Sense

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


def _split(theta: Any, data: Any) -> tuple[Any, Any]:
    """(U, V) from θ; the shapes come from the data's M (m×n) and θ's length (m + n)·k."""
    m, n = data["M"].shape
    k = theta.shape[0] // (m + n)
    return theta[: m * k].reshape(m, k), theta[m * k :].reshape(n, k)


def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([a.ravel(), b.ravel()])


def lower_value(theta: Any, data: Any, xp: Any) -> Any:
    """−½‖UVᵀ − M‖_F²."""
    u, v = _split(theta, data)
    r = u @ v.T - data["M"]
    return -0.5 * xp.sum(r * r)


def lower_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    """−(R V, Rᵀ U) with R = UVᵀ − M."""
    u, v = _split(theta, data)
    r = u @ v.T - data["M"]
    return -_join(r @ v, r.T @ u)


def lower_hvp(theta: np.ndarray, d: np.ndarray, data: Any) -> np.ndarray:
    """−(dR V + R dV, dRᵀ U + Rᵀ dU) with dR = dU Vᵀ + U dVᵀ."""
    u, v = _split(theta, data)
    du, dv = _split(d, data)
    r = u @ v.T - data["M"]
    dr = du @ v.T + u @ dv.T
    return -_join(dr @ v + r @ dv, dr.T @ u + r.T @ du)


def lower_d3(theta: np.ndarray, d1: np.ndarray, d2: np.ndarray, data: Any) -> np.ndarray:
    """∇_θ D²L[d1, d2] for ℓ = ½‖R‖², then negated.

    With d1 = (a, b), d2 = (c, e): D²ℓ[d1, d2] = ⟨A₁, A₂⟩ + ⟨R, a eᵀ + c bᵀ⟩, A₁ = aVᵀ + Ubᵀ,
    A₂ = cVᵀ + Ueᵀ; its gradient is (A₂b + A₁e + (aeᵀ + cbᵀ)V, A₂ᵀa + A₁ᵀc + (aeᵀ + cbᵀ)ᵀU).
    """
    u, v = _split(theta, data)
    a, b = _split(d1, data)
    c, e = _split(d2, data)
    a1, a2 = a @ v.T + u @ b.T, c @ v.T + u @ e.T
    cross = a @ e.T + c @ b.T
    return -_join(a2 @ b + a1 @ e + cross @ v, a2.T @ a + a1.T @ c + cross.T @ u)


def upper_value(theta: Any, data: Any, xp: Any) -> Any:
    """½‖θ‖² = ½(‖U‖_F² + ‖V‖_F²)."""
    # ``theta**2`` rather than ``theta * theta``: torch's double backward of pow keeps the HVP
    # attached to θ, so TorchObjective.d3 returns zeros instead of raising "does not require grad".
    return 0.5 * xp.sum(theta**2)


def upper_grad(theta: np.ndarray, data: Any) -> np.ndarray:
    return np.array(theta, copy=True)


def upper_hvp(theta: np.ndarray, d: np.ndarray, data: Any) -> np.ndarray:
    return np.array(d, copy=True)


def upper_d3(theta: np.ndarray, d1: np.ndarray, d2: np.ndarray, data: Any) -> np.ndarray:
    return np.zeros_like(theta)


DEFAULTS: dict[str, Any] = {"m": 5, "n": 4, "rank": 2, "width": 2, "cond": 10.0, "init_scale": 0.5}


@FAMILIES.register("matrix_factorisation")
@dataclass(frozen=True, kw_only=True, eq=False)
class MatrixFactorisation(IdentityEq, Family):
    """Factorise a rank-r matrix M with minimum-norm factors (lower level maximised, all of θ).

    Args (to :meth:`sample`):
        m, n: the shape of M (defaults 5, 4; >= 1).
        rank: r, the rank of M (default 2; 1 ≤ r ≤ min(m, n)).
        width: k, the width of the factors (default 2; k ≥ r).
        cond: s₁/s_r, the condition number of M on its range (default 10; >= 1).
        init_scale: θ_0 = (U₀, V₀) are Gaussian matrices scaled so ‖U₀‖₂ = ‖V₀‖₂ = init_scale
            (default 0.5; in (0, 2], inside the region below).

    Regime: the lower level is non-concave (at θ = 0 its Hessian is −[[0, M], [Mᵀ, 0]]-like with
    eigenvalues ±s_i) with a non-singleton argmax; for k = r it is locally PL at the balanced
    solutions; for k > r with m, n > r it is not PL near the balanced solution (moving its zero
    columns by ε along unit z_u ⟂ range P, z_v ⟂ range Q makes R = ε² z_u z_vᵀ: the loss gap is
    O(ε⁴), the gradient O(ε³)); for k > r with m = r or n = r we claim nothing. The upper
    level is 1-strongly convex. With β > 0 the OFMU inner objective is non-convex.

    Constants, on the region R = {‖U‖₂ ≤ B, ‖V‖₂ ≤ B}, B = 2√s₁ (spectral norms):
        L_lower = 3B² + s₁: D²ℓ[d, d] = ‖aVᵀ + Ubᵀ‖² + 2⟨R, abᵀ⟩ with ‖R‖₂ ≤ B² + s₁.
        M_lower = 3√2·B: D³ℓ[d, d, d] = 6⟨aVᵀ + Ubᵀ, abᵀ⟩ ≤ 6B(‖a‖ + ‖b‖)‖a‖‖b‖ ≤ 3√2·B for
            ‖d‖ = 1 (a symmetric trilinear form's norm is its max on the diagonal, Banach 1938).
        mu_lower (k = r only) = min non-zero (α_i + β_j), α ∈ {s, 0^{m−r}}, β ∈ {s, 0^{n−r}}: the
            smallest non-zero eigenvalue of −∇²L_lower at a balanced solution (its kernel is the
            tangent space of the solution manifold), hence the PL constant in the limit at the
            balanced solutions only; unbalanced solutions (UG, VG⁻ᵀ) have smaller ones. None if k > r.
        L_upper = mu_upper = 1; G_upper = B·√(min(m, k) + min(n, k)) ≥ ‖θ‖ on R.
    """

    regime: ClassVar[str] = (
        "1-strongly convex upper level, non-concave lower level with a non-singleton argmax "
        "(locally PL for width = rank; not PL near the balanced solution when width > rank and "
        "m, n > rank)"
    )
    convex: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    sense: ClassVar[Sense] = "max"
    solution_unique: ClassVar[bool] = False

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "quick": {},
        "full": {"m": 8, "n": 6, "rank": 3, "width": 3},
    }
    """Parameters under the ``ofmu verify`` profiles ("quick", "full"; other profiles use "quick")."""

    @classmethod
    def test_params(cls) -> SearchStrategy[dict[str, Any]]:
        """Small, valid ``sample`` parameters (the seed apart) that the test suite draws instances from."""
        from hypothesis import strategies as st

        @st.composite
        def params(draw: st.DrawFn) -> dict[str, Any]:
            """m, n ≥ rank, width ≥ rank, condition number in [1, 100]."""
            rank = draw(st.integers(1, 3))
            return {
                "m": draw(st.integers(rank, 6)),
                "n": draw(st.integers(rank, 6)),
                "rank": rank,
                "width": draw(st.integers(rank, rank + 2)),
                "cond": draw(st.floats(1.0, 100.0)),
                "init_scale": draw(st.floats(0.1, 2.0)),
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
            rank = draw(st.integers(1, 2))
            return {
                "m": draw(st.integers(rank, 4)), "n": draw(st.integers(rank, 4)), "rank": rank, "width": rank,
                "cond": draw(conds), "init_scale": draw(st.floats(0.1, 1.0)),
                "seed": draw(seeds),
            }

        return params()

    m: int
    n: int
    rank: int
    width: int
    cond: float
    init_scale: float
    target: np.ndarray  # M, (m, n)
    left: np.ndarray  # P, (m, r)
    sing: np.ndarray  # s, (r,)
    right: np.ndarray  # Q, (n, r)
    start: np.ndarray  # θ_0

    @classmethod
    def sample(cls, *, seed: int = 0, **params: Any) -> MatrixFactorisation:
        """Draw M = P diag(s) Qᵀ (Haar P, Q) and θ_0 from ``seed``."""
        p = merge_params("matrix_factorisation", DEFAULTS, params)
        m, n = check_int("m", p["m"], low=1), check_int("n", p["n"], low=1)
        r = check_int("rank", p["rank"], low=1, high=min(m, n))
        k = check_int("width", p["width"], low=r)
        cond = check_float("cond", p["cond"], low=1.0)
        scale = check_float("init_scale", p["init_scale"], low=0.0, high=2.0, low_open=True)
        rng = np.random.default_rng(check_seed(seed))
        left = np.linalg.qr(rng.standard_normal((m, r)))[0]
        right = np.linalg.qr(rng.standard_normal((n, r)))[0]
        sing = np.geomspace(1.0, 1.0 / cond, r)
        u0, v0 = rng.standard_normal((m, k)), rng.standard_normal((n, k))
        u0 *= scale / np.linalg.norm(u0, 2)
        v0 *= scale / np.linalg.norm(v0, 2)
        return cls(
            seed=int(seed), m=m, n=n, rank=r, width=k, cond=cond, init_scale=scale,
            target=frozen((left * sing) @ right.T), left=frozen(left), sing=frozen(sing),
            right=frozen(right), start=frozen(_join(u0, v0)),
        )  # fmt: skip

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        data = {"M": np.array(self.target)}  # a writable copy: torch warns on read-only arrays
        lower = ArrayObjective(value=lower_value, grad=lower_grad, hvp=lower_hvp, d3=lower_d3, data=data)
        upper = ArrayObjective(value=upper_value, grad=upper_grad, hvp=upper_hvp, d3=upper_d3, data=data)
        return lower, upper

    def theta0(self) -> np.ndarray:
        return np.array(self.start)

    def region_bound(self) -> float:
        """B = 2√s₁: the constants hold on {‖U‖₂ ≤ B, ‖V‖₂ ≤ B}."""
        return 2.0 * float(np.sqrt(self.sing[0]))

    def constants(self) -> Constants:
        b, s1 = self.region_bound(), float(self.sing[0])
        mu = None
        if self.width == self.rank:
            alpha = np.concatenate([self.sing, np.zeros(self.m - self.rank)])
            beta = np.concatenate([self.sing, np.zeros(self.n - self.rank)])
            sums = (alpha[:, None] + beta[None, :]).ravel()
            mu = float(sums[sums > 0].min())
        g_upper = b * np.sqrt(min(self.m, self.width) + min(self.n, self.width))
        return Constants(
            L_lower=3 * b**2 + s1, M_lower=3 * float(np.sqrt(2.0)) * b, mu_lower=mu,
            L_upper=1.0, mu_upper=1.0, G_upper=float(g_upper),
        )  # fmt: skip

    # --- references ---------------------------------------------------------------------
    def factors(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(U, V) from a flat θ."""
        return _split(np.asarray(theta), {"M": self.target})

    def solution(self) -> np.ndarray:
        """One balanced minimiser: U = [P√S, 0], V = [Q√S, 0] (k − r zero columns)."""
        root = np.sqrt(self.sing)
        u = np.zeros((self.m, self.width))
        v = np.zeros((self.n, self.width))
        u[:, : self.rank] = self.left * root
        v[:, : self.rank] = self.right * root
        return _join(u, v)

    def optimal_upper_value(self) -> float:
        """‖M‖_* = Σ s_i, the upper value at every bilevel solution."""
        return float(self.sing.sum())

    def params(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "m": self.m, "n": self.n, "rank": self.rank, "width": self.width,
            "cond": self.cond, "init_scale": self.init_scale,
        }  # fmt: skip
