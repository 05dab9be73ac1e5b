"""Shared algebra of the quadratic families (least squares, coupled and wide quadratics).

Each of them has the form

    L_lower(θ) = s·½‖Jθ − e‖²       (s = −1 when maximised, +1 when minimised, so Φ = σ·L_lower = −½‖Jθ − e‖²)
    L_upper(θ) = ½‖θ − θ_c‖²

with P the block mask (P = I without a block). Writing N = P JᵀJ and h = P Jᵀe:

* the lower-level solution set is the affine set S = {θ : P∇Φ(θ) = 0} = {θ : Nθ = h} (never empty:
  these are the normal equations of the lower problem in its own block);
* the bilevel solution is the projection θ* = Π_S(θ_c), so θ_c − θ* ∈ range(Nᵀ);
* F_ρ(θ) = ½‖θ − θ_c‖² + ρ‖Nθ − h‖² (β = 0) has the unique minimiser
  θ_ρ = (I + 2ρNᵀN)⁻¹(θ_c + 2ρNᵀh), and (I + 2ρNᵀN)(θ_ρ − θ*) = θ_c − θ*. In the eigenbasis of NᵀN
  (eigenvalues ν_i²) each component of θ_ρ − θ* is that of θ_c − θ* divided by 1 + 2ρν_i², so

      ‖θ_ρ − θ*‖ ≤ ‖θ_c − θ*‖ / (1 + 2ρν²),   ν the smallest nonzero singular value of N,

  i.e. O(1/ρ), and ‖θ_ρ − θ*‖ ≤ ‖θ_c − θ*‖ for every ρ ≥ 0.

Reference: arXiv 2509.22483 (F_ρ is the paper's Eq. 7 with β = 0); the family formulas are those of
its test problems, as reconstructed for this project (docs/claims.md).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from convex._common import check_rho
from convex._losses import quadratic
from ofmu_theory.family import Family
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import Constants


@dataclass(frozen=True, kw_only=True)
class AffineQuadratic(Family):
    """Base of the families whose lower level is s·½‖Jθ − e‖² and upper level ½‖θ − θ_c‖².

    Subclasses provide :meth:`affine` (J, e, θ_c), :meth:`lower_rank`, :meth:`block` (when the
    lower level acts on part of θ), :meth:`theta0` and the closed-form :meth:`solution`.
    """

    @abstractmethod
    def affine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(J, e, θ_c) of L_lower = s·½‖Jθ − e‖² and L_upper = ½‖θ − θ_c‖²."""

    @classmethod
    @abstractmethod
    def rate_params(cls, dim: int, cond: float) -> dict[str, Any]:
        """``sample`` parameters of size ``dim`` whose nonzero ν² are all ≥ 1 (condition number ``cond`` ≤ 2).

        Then 2ρν² ≥ 2 on ρ ∈ [1, 1e4] and the fitted slope of log‖θ_ρ − θ*‖ against log ρ lies in
        [−1, −0.95]: the tests check the O(1/ρ) rate on these instances.
        """

    @abstractmethod
    def lower_rank(self) -> int:
        """k = rank(J_y) = rank(N), known by construction (J_y: the block's columns of J).

        Used instead of a numerical-rank cutoff, which would misjudge the smallest nonzero
        singular values at large condition numbers.
        """

    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        J, e, theta_c = self.affine()
        sign = -1.0 if self.sense == "max" else 1.0
        return quadratic(J, e, sign=sign), quadratic(np.eye(theta_c.size), theta_c)

    def normal_equations(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, h) with S = {θ : Nθ = h} the lower-level solution set, N = PJᵀJ, h = PJᵀe."""
        J, e, theta_c = self.affine()
        p = np.ones(theta_c.size) if self.block() is None else self.block()
        return p[:, None] * (J.T @ J), p * (J.T @ e)

    def penalised_solution(self, rho: float) -> np.ndarray:
        """θ_ρ = (I + 2ρNᵀN)⁻¹(θ_c + 2ρNᵀh), the minimiser of F_ρ = L_upper + ρ‖P∇Φ‖² (β = 0)."""
        rho = check_rho(rho)
        n, h = self.normal_equations()
        theta_c = self.affine()[2]
        return np.linalg.solve(np.eye(theta_c.size) + 2.0 * rho * (n.T @ n), theta_c + 2.0 * rho * (n.T @ h))

    def region_radius(self) -> float:
        """R of the region B(θ*, R) on which :meth:`constants` bounds ‖∇L_upper‖ and ‖∇Φ‖.

        R = ‖θ_0 − θ*‖ + 2‖θ_c − θ*‖. The ball contains every gradient-descent iterate on F_ρ
        (β = 0, any fixed ρ ≥ 0, step ≤ 1/L(F_ρ)) from θ_0: GD on the strongly convex quadratic F_ρ
        never moves away from θ_ρ, so ‖θ_k − θ*‖ ≤ ‖θ_0 − θ_ρ‖ + ‖θ_ρ − θ*‖ ≤ ‖θ_0 − θ*‖ + 2‖θ_ρ − θ*‖,
        and ‖θ_ρ − θ*‖ ≤ ‖θ_c − θ*‖ (module docstring).
        """
        theta_star, theta_c = self.solution(), self.affine()[2]
        return float(np.linalg.norm(self.theta0() - theta_star) + 2.0 * np.linalg.norm(theta_c - theta_star))

    def penalty_conditioning(self) -> float:
        """ν², ν = s_k(N) the smallest nonzero singular value of N: ‖θ_ρ − θ*‖ ≤ ‖θ_c − θ*‖/(1 + 2ρν²)."""
        n, _ = self.normal_equations()
        return float(np.linalg.svd(n, compute_uv=False)[self.lower_rank() - 1] ** 2)

    def constants(self) -> Constants:
        """Exact constants of the quadratic pair.

        * L_lower = ‖J‖₂² = λ_max(JᵀJ) (the Hessian of L_lower is s·JᵀJ); H_Φ = L_lower (β = 0);
          M_lower = 0 (quadratic).
        * mu_lower = s_k(J_y)² = λ⁺_min(J_yᵀJ_y), J_y the block's columns of J, k = :meth:`lower_rank`:
          the PL constant of the lower level in its own variables (½‖∇_y g‖² ≥ μ(g − g*) for
          g = ½‖J_y y − r‖² and any r, with equality along the k-th singular direction; it is the
          strong-convexity constant when J_y has full column rank).
        * L_upper = mu_upper = 1.
        * G_upper, G_phi: sup of ‖∇L_upper‖ = ‖θ − θ_c‖ and ‖∇Φ‖ = ‖Jᵀ(Jθ − e)‖ over the ball
          B(θ*, R), R = :meth:`region_radius`: ‖θ* − θ_c‖ + R and ‖Jᵀ(Jθ* − e)‖ + L_lower·R.
        """
        J, e, theta_c = self.affine()
        block = self.block()
        jy = J if block is None else J[:, block == 1]
        L_lower = float(np.linalg.norm(J, 2) ** 2)
        theta_star = self.solution()
        radius = self.region_radius()
        return Constants(
            L_lower=L_lower,
            L_upper=1.0,
            mu_lower=float(np.linalg.svd(jy, compute_uv=False)[self.lower_rank() - 1] ** 2),
            mu_upper=1.0,
            G_upper=float(np.linalg.norm(theta_star - theta_c) + radius),
            H_phi=L_lower,
            M_lower=0.0,
            G_phi=float(np.linalg.norm(J.T @ (J @ theta_star - e)) + L_lower * radius),
        )

    @abstractmethod
    def solution(self) -> np.ndarray:
        """θ* in closed form."""
