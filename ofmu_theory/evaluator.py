"""The oracle bundle every solver works through: Φ_β, ∇Φ_β, ∇²Φ_β·v, F_ρ and ∇F_ρ.

Symbols (arXiv 2509.22483, §3 of the method reference): σ = ±1 the lower level's sense,
a = σ∇L_f the ascent gradient of the lower (forget) level, g_r = ∇L_r, P the block mask,

    Φ_β(θ)  = σL_f(θ) − β·Sim(a, g_r)                         (inner objective, maximised)
    ∇Φ_β    = a − β·c·(H_a p + H_r q)                        (two HVPs; c, p, q in similarity.py)
    R(θ)    = P∇Φ_β(θ)   or, with a constraint Θ, the gradient mapping (Π_Θ(θ + ηP∇Φ) − θ)/η
    F_ρ(θ)  = L_r(θ) + ρ‖R(θ)‖²                               (the paper's Eq. 7)
    ∇F_ρ    = g_r + 2ρ ∇²Φ_β P R                             (Eq. 9; with Θ: + the mapping's terms)

Every oracle call is counted (:class:`CallCounts`): ``grad`` counts gradient evaluations of either
loss (finite-difference HVPs cost two), ``hvp`` second-order products, ``third`` products that
differentiate through a second-order graph (the β > 0 Hessian of Φ), ``value`` plain values.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ofmu_theory.backends import Scalar, Vec
from ofmu_theory.hvp import make_strategy
from ofmu_theory.objectives import Batch, Objective
from ofmu_theory.oracle_types import CallCounts, PhiPoint
from ofmu_theory.problem import BilevelProblem
from ofmu_theory.sampler import Batches
from ofmu_theory.similarity import (
    CosineTerms,
    SimCache,
    check_sim,
    cosine_terms,
    sim_grad_scale,
    sim_value,
)


class PenaltyPoint(NamedTuple):
    """F_ρ, ∇F_ρ and the Φ point they were computed from."""

    F: float
    grad_F: Vec
    point: PhiPoint
    hvp_ratio: float  # ‖∇²Φ w‖/‖w‖ for the product taken: a lower bound on H = ‖∇²Φ‖


class Evaluator:
    """Oracles of one problem under one choice of β, Sim variant and HVP strategy.

    Args:
        problem: the bilevel problem.
        beta: β ≥ 0, weight of the similarity term.
        sim: "signed" (paper), "squared" or "none".
        hvp: name of the HVP strategy ("exact", "fd", "fwd_rev"; see :mod:`ofmu_theory.hvp`).
        fd_eps: base relative step of finite differences (default: dtype-scaled).
        fd_scheme: "central" (O(ε²)) or "forward" (one gradient fewer, O(ε)).
        sim_eps: δ of the smoothed norms in the cosine (the zero-gradient guard).
        mapping_step: η of the gradient mapping under a constraint (default 1/L_lower, else 1).
    """

    def __init__(
        self,
        problem: BilevelProblem,
        *,
        beta: float = 0.0,
        sim: str = "none",
        hvp: str = "exact",
        fd_eps: float | None = None,
        fd_scheme: str = "central",
        sim_eps: float = 1e-12,
        mapping_step: float | None = None,
    ) -> None:
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got beta={beta!r}")
        if not (math.isfinite(sim_eps) and sim_eps > 0):
            raise ValueError(f"sim_eps must be > 0, got sim_eps={sim_eps!r}")
        self.problem = problem
        self.backend = problem.backend
        self.sigma = problem.sigma
        self.beta = float(beta)
        self.sim = check_sim(sim)
        self.sim_eps = sim_eps
        self.counts = CallCounts()
        if mapping_step is None:
            L = problem.constants.L_lower
            mapping_step = 1.0 / L if L else 1.0
        if not (math.isfinite(mapping_step) and mapping_step > 0):
            raise ValueError(f"mapping_step must be > 0, got mapping_step={mapping_step!r}")
        self.mapping_step = mapping_step
        self.strategy = make_strategy(hvp, fd_eps=fd_eps, fd_scheme=fd_scheme)
        # Data parallelism: derivatives taken through a graph hold this rank's share only.
        self.graph_reduce = getattr(problem.lower, "reduce", None)
        self.strategy.check(self)

    # --- structure ------------------------------------------------------------------------
    @property
    def uses_similarity(self) -> bool:
        """True when Φ_β has a similarity term (β > 0 and sim != "none")."""
        return self.beta > 0 and self.sim != "none"

    def restrict(self, v: Vec) -> Vec:
        """P·v (the lower level's block of v)."""
        return v if self.problem.block is None else self.backend.mul(v, self.problem.block)

    def complement(self, v: Vec) -> Vec:
        """(I − P)·v (the upper-only block of v)."""
        if self.problem.block is None:
            return self.backend.zeros_like(v)
        return self.backend.sub(v, self.backend.mul(v, self.problem.block))

    def project(self, theta: Vec) -> Vec:
        """Π_Θ(θ) (identity without a constraint)."""
        c = self.problem.constraint
        return theta if c is None else c.project(theta)

    # --- counted primitive oracles ---------------------------------------------------------
    def lower_value_grad(self, theta: Vec, batch: Batch, *, create_graph: bool = False) -> tuple[Scalar, Vec]:
        self.counts.grad += 1
        return self.problem.lower.value_and_grad(theta, batch, create_graph=create_graph)

    def upper_value_grad(self, theta: Vec, batch: Batch, *, create_graph: bool = False) -> tuple[Scalar, Vec]:
        self.counts.grad += 1
        return self.problem.upper.value_and_grad(theta, batch, create_graph=create_graph)

    def lower_value(self, theta: Vec, batch: Batch) -> Scalar:
        self.counts.value += 1
        return self.problem.lower.value(theta, batch)

    def upper_value(self, theta: Vec, batch: Batch) -> Scalar:
        self.counts.value += 1
        return self.problem.upper.value(theta, batch)

    def exact_hvp(self, objective: Objective, theta: Vec, v: Vec, batch: Batch, *, create_graph: bool = False) -> Vec:
        self.counts.hvp += 1
        return objective.hvp(theta, v, batch, create_graph=create_graph)

    # --- Φ_β ------------------------------------------------------------------------------
    def phi(
        self,
        theta: Vec,
        batches: Batches,
        *,
        create_graph: bool = False,
        need_upper: bool = False,
        lagged: SimCache | None = None,
        coin: int | None = None,
        keep_sim: bool = False,
    ) -> PhiPoint:
        """Evaluate Φ_β, ∇Φ_β and R at θ.

        With ``create_graph`` (autodiff backends) θ must be leaves requiring grad and the loss
        HVPs inside ∇Φ are exact, so that ∇Φ can be differentiated once more.

        Cheaper estimators of the similarity term (each an option of the ``ofmu`` solver):

        * ``lagged``: ∇Φ_β ≈ a − β·∇Sim_lag with ∇Sim from an earlier evaluation (no HVP; ∇L_r only
          when ``need_upper``, else the cached cosine stands in for S in the value Φ_β);
        * ``coin``: one of the two HVPs, weighted 2 — ∇S ≈ 2σH_f p (coin 0) or 2H_r q (coin 1),
          unbiased over a fair coin.

        ``keep_sim`` keeps ∇Sim in the point (``grad_sim``, for a :class:`SimCache`); otherwise it is freed.
        """
        b = self.backend
        loss_f, g_f = self.lower_value_grad(theta, batches.lower, create_graph=create_graph)
        a = b.scale(self.sigma, g_f)
        loss_r = g_r = cosine = grad_sim = None
        grad_phi, phi = a, self.sigma * loss_f
        reuse = lagged is not None and self.uses_similarity
        if (self.uses_similarity and not reuse) or need_upper:
            loss_r, g_r = self.upper_value_grad(theta, batches.upper, create_graph=create_graph)
            terms = cosine_terms(b, a, g_r, self.sim_eps)
            cosine = terms.cosine
            if self.uses_similarity and not reuse:
                grad_s = self._grad_cosine(theta, terms, batches, create_graph=create_graph, g_f=g_f, g_r=g_r,
                                           coin=coin)
                grad_sim = grad_s if self.sim == "signed" else b.scale(sim_grad_scale(self.sim, terms.cosine), grad_s)
        if reuse:
            grad_sim = lagged.grad_sim
            if cosine is None:
                cosine = lagged.cosine
        if grad_sim is not None:
            grad_phi = b.axpy(-self.beta, grad_sim, a)
            phi = phi - self.beta * sim_value(self.sim, cosine)
        return PhiPoint(
            theta=theta,
            loss_f=loss_f,
            loss_r=loss_r,
            g_f=g_f,
            g_r=g_r,
            cosine=cosine,
            phi=phi,
            grad_phi=grad_phi,
            residual=self.residual(theta, b.detach(self.restrict(grad_phi)) if create_graph else self.restrict(grad_phi)),
            graph=create_graph,
            grad_sim=grad_sim if keep_sim else None,
            coin=None if reuse else coin,
            lagged=reuse,
        )

    def _grad_cosine(
        self, theta: Vec, terms: CosineTerms, batches: Batches, *, create_graph: bool, g_f: Vec, g_r: Vec,
        coin: int | None = None,
    ) -> Vec:
        """∇S = σH_f p + H_r q (H_a = σH_f); with ``coin``, one of the two terms weighted 2."""
        b = self.backend
        lower, upper = self.problem.lower, self.problem.upper

        def hvp(objective: Objective, v: Vec, batch: Batch, g0: Vec) -> Vec:
            if create_graph:
                return self.exact_hvp(objective, theta, v, batch, create_graph=True)
            return self.strategy.loss_hvp(self, objective, theta, v, batch, g0=g0)

        if coin is None:
            return b.axpy(self.sigma, hvp(lower, terms.p, batches.lower, g_f), hvp(upper, terms.q, batches.upper, g_r))
        if coin == 0:
            return b.scale(2.0 * self.sigma, hvp(lower, terms.p, batches.lower, g_f))
        if coin == 1:
            return b.scale(2.0, hvp(upper, terms.q, batches.upper, g_r))
        raise ValueError(f"coin must be 0, 1 or None, got coin={coin!r}")

    def phi_value(self, theta: Vec, batches: Batches) -> float:
        """Φ_β(θ) as a float (needs both gradients when the similarity term is on)."""
        if self.uses_similarity:
            return self.backend.item(self.phi(theta, batches).phi)
        return self.sigma * self.backend.item(self.lower_value(theta, batches.lower))

    def residual(self, theta: Vec, restricted_grad_phi: Vec) -> Vec:
        """R(θ): P∇Φ, or the gradient mapping (Π(θ + ηP∇Φ) − θ)/η under a constraint."""
        c = self.problem.constraint
        if c is None:
            return restricted_grad_phi
        b, eta = self.backend, self.mapping_step
        moved = c.project(b.axpy(eta, restricted_grad_phi, b.detach(theta)))
        return b.scale(1.0 / eta, b.sub(moved, b.detach(theta)))

    # --- F_ρ ------------------------------------------------------------------------------
    def penalised(
        self,
        theta: Vec,
        rho: float,
        batches: Batches,
        *,
        lagged: SimCache | None = None,
        coin: int | None = None,
        curvature: str = "full",
        keep_sim: bool = False,
    ) -> PenaltyPoint:
        """F_ρ(θ) and ∇F_ρ(θ) = g_r + 2ρ[∇²Φ P JΠᵀR + (JΠᵀR − R)/η] (the bracket is ∇²Φ P R unconstrained).

        ``lagged`` and ``coin`` choose the estimator of ∇Φ_β (see :meth:`phi`). ``curvature="frozen"``
        (implied by a lagged ∇Sim, which is a constant of θ) takes ∇²Φ_β·w ≈ σH_f w: the similarity
        gradient is held fixed along w, so the third-order term β∇²Sim·w is dropped and no graph is kept.
        """
        b = self.backend
        if curvature not in ("full", "frozen"):
            raise ValueError(f"curvature must be 'full' or 'frozen', got curvature={curvature!r}")
        frozen = self.uses_similarity and (curvature == "frozen" or lagged is not None)
        graph = self.strategy.needs_graph(self) and not frozen
        at = b.requires_grad(theta) if graph else theta
        point = self.phi(at, batches, create_graph=graph, need_upper=True, lagged=lagged, coin=coin, keep_sim=keep_sim)
        R = point.residual
        c = self.problem.constraint
        if c is None:
            jtr = R
        else:
            eta = self.mapping_step
            jtr = c.project_vjp(b.axpy(eta, b.detach(self.restrict(point.grad_phi)), b.detach(theta)), R)
        w = self.restrict(jtr)
        if frozen:
            hv = b.scale(self.sigma, self.strategy.loss_hvp(self, self.problem.lower, at, w, batches.lower,
                                                              g0=point.g_f))
        else:
            hv = self.strategy.phi_hvp(self, at, w, batches, point)
        bracket = hv if c is None else b.add(hv, b.scale(1.0 / self.mapping_step, b.sub(jtr, R)))
        grad_F = b.axpy(2.0 * rho, bracket, b.detach(point.g_r))
        if graph:
            point = _detached(b, point)
        r2 = b.item(b.vdot(R, R))
        F = b.item(point.loss_r) + rho * r2
        w_norm = b.item(b.norm(w))
        ratio = b.item(b.norm(hv)) / w_norm if w_norm > 0 else float("nan")
        return PenaltyPoint(F=F, grad_F=grad_F, point=point, hvp_ratio=ratio)

    def penalised_value(self, theta: Vec, rho: float, batches: Batches) -> float:
        """F_ρ(θ) as a float."""
        point = self.phi(theta, batches, need_upper=True)
        R = point.residual
        return self.backend.item(point.loss_r) + rho * self.backend.item(self.backend.vdot(R, R))

    # --- exact ∇²Φ·v from oracles (backends without autograd) -------------------------------
    def phi_hvp_analytic(self, theta: Vec, v: Vec, batches: Batches) -> Vec:
        """∇²Φ_β v from exact HVPs and third-order products D³L[u, v, ·] (see docs/design.md).

        With ȧ = H_a v, ḃ = H_r v, ṅ_a = ⟨a, ȧ⟩/n_a, ṅ_b = ⟨b, ḃ⟩/n_b, Ṡ = ⟨p, ȧ⟩ + ⟨q, ḃ⟩:
        ṗ = ḃ/(n_a n_b) − b(ṅ_a n_b + n_a ṅ_b)/(n_a n_b)² − Ṡa/n_a² − Sȧ/n_a² + 2S a ṅ_a/n_a³,
        q̇ likewise with a ↔ b, and ∇²S v = D³L_a[p, v] + H_a ṗ + D³L_r[q, v] + H_r q̇.
        """
        b = self.backend
        lower, upper, s = self.problem.lower, self.problem.upper, self.sigma
        a_dot = b.scale(s, self.exact_hvp(lower, theta, v, batches.lower))
        if not self.uses_similarity:
            return a_dot
        _, g_f = self.lower_value_grad(theta, batches.lower)
        _, g_r = self.upper_value_grad(theta, batches.upper)
        a = b.scale(s, g_f)
        t = cosine_terms(b, a, g_r, self.sim_eps)
        S, na, nb = t.cosine, t.norm_a, t.norm_b
        b_dot = self.exact_hvp(upper, theta, v, batches.upper)
        na_dot = b.vdot(a, a_dot) / na
        nb_dot = b.vdot(g_r, b_dot) / nb
        S_dot = b.vdot(t.p, a_dot) + b.vdot(t.q, b_dot)
        nn, nn_dot = na * nb, na_dot * nb + na * nb_dot

        def derivative(x: Vec, x_dot: Vec, y: Vec, y_dot: Vec, nx: Scalar, nx_dot: Scalar) -> Vec:
            # d/dt [ y/(n_x n_y) − S x/n_x² ]
            out = b.scale(1.0 / nn, y_dot)
            out = b.axpy(-nn_dot / nn**2, y, out)
            out = b.axpy(-S_dot / nx**2, x, out)
            out = b.axpy(-S / nx**2, x_dot, out)
            return b.axpy(2.0 * S * nx_dot / nx**3, x, out)

        p_dot = derivative(a, a_dot, g_r, b_dot, na, na_dot)
        q_dot = derivative(g_r, b_dot, a, a_dot, nb, nb_dot)
        self.counts.third += 2
        hess_S_v = b.add(
            b.scale(s, b.add(lower.d3(theta, t.p, v, batches.lower), self.exact_hvp(lower, theta, p_dot, batches.lower))),
            b.add(upper.d3(theta, t.q, v, batches.upper), self.exact_hvp(upper, theta, q_dot, batches.upper)),
        )
        if self.sim == "squared":  # ∇²(S²)v = 2Ṡ∇S + 2S∇²S v
            grad_S = b.axpy(s, self.exact_hvp(lower, theta, t.p, batches.lower), self.exact_hvp(upper, theta, t.q, batches.upper))
            hess_S_v = b.axpy(2.0 * S_dot, grad_S, b.scale(2.0 * S, hess_S_v))
        return b.axpy(-self.beta, hess_S_v, a_dot)


def _detached(b: Any, point: PhiPoint) -> PhiPoint:
    """The same point with every vector cut from its autograd graph."""
    return point._replace(
        theta=b.detach(point.theta),
        loss_f=point.loss_f.detach() if hasattr(point.loss_f, "detach") else point.loss_f,
        loss_r=point.loss_r.detach() if hasattr(point.loss_r, "detach") else point.loss_r,
        g_f=b.detach(point.g_f),
        g_r=None if point.g_r is None else b.detach(point.g_r),
        cosine=point.cosine.detach() if hasattr(point.cosine, "detach") else point.cosine,
        phi=point.phi.detach() if hasattr(point.phi, "detach") else point.phi,
        grad_phi=b.detach(point.grad_phi),
        grad_sim=None if point.grad_sim is None else b.detach(point.grad_sim),
        graph=False,
    )
