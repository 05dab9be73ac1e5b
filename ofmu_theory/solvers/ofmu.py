"""OFMU: the two-loop penalty method of Asif & Amiri (arXiv 2509.22483, Algorithm 1, reconstructed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ofmu_theory.backends import Vec
from ofmu_theory.evaluator import Evaluator, PenaltyPoint
from ofmu_theory.oracle_types import PhiPoint
from ofmu_theory.sampler import Batches
from ofmu_theory.schedules import Geometric
from ofmu_theory.similarity import SimCache
from ofmu_theory.solvers.base import SOLVERS, Loop, Solver
from ofmu_theory.solvers.ofmu_config import OFMUConfig
from ofmu_theory.states import STATES
from ofmu_theory.steps import StepRule, as_step_rule
from ofmu_theory.transforms import Sgd, Transform


@STATES.register("ofmu_state")
class OFMUState(NamedTuple):
    theta: Vec
    k: int
    draws: int
    inner_state: Any
    outer_state: Any
    sim: SimCache | None = None  # the lagged similarity term (``sim_lag > 1``)


@SOLVERS.register("ofmu")
@dataclass(frozen=True, kw_only=True)
class OFMU(OFMUConfig, Solver):
    """OFMU: T inner ascent steps on Φ_β, then one outer descent step on F_ρ; ρ_{k+1} = γρ_k.

    The hyper-parameters of :class:`~ofmu_theory.solvers.ofmu_config.OFMUConfig` (``beta`` = β, ``sim``,
    ``rho`` = ρ_0, ``gamma`` = γ, ``rho_cap``, ``inner_steps`` = T, ``eval_point``, the HVP strategy and
    the similarity estimators; declared and validated there) plus the loop: ``eta_in`` = η_in, ``eta_out``
    = η_out, their transforms, ``max_steps`` = K. ``OFMU.of(config, eta_in=..., ...)`` builds one.

    .. math::

        θ'_{t+1} = Π(θ'_t + η_in ∇Φ_β(θ'_t)),\\quad θ'_0 = θ_k,\\quad θ̃_k = θ'_T \\\\
        θ_{k+1} = Π(θ̃_k − η_out ∇F_{ρ_k}(x_k)),\\quad x_k = θ̃_k\\ (\\text{eval\\_point="inner"})
        \\text{ or } θ_k\\ (\\text{"outer"}) \\\\
        F_ρ = L_r + ρ‖∇Φ_β‖²,\\quad ∇F_ρ = ∇L_r + 2ρ∇²Φ_β∇Φ_β \\quad\\text{(Eqs. 7, 9)}

    Reconstructed (the paper is silent; each is an option recorded in the result): the
    evaluation point, the ρ cap, step-size rules, the HVP method, the similarity variant.
    The step error is ‖∇F_{ρ_k}‖ at the evaluation point.

    Cheaper estimators of the similarity term (ours, not the paper's; defaults = the exact estimator;
    their cost and error are measured in docs/llm-performance.md):

    * ``sim_lag`` = m: ∇Sim (its two HVPs) recomputed at every m-th evaluation of ∇Φ_β (inner and
      outer ones, counted across outer steps) and reused in between; m = 1 recomputes it every time.
    * ``sim_pick="random"``: one of the two HVPs of ∇S per evaluation, weight 2 (a fair coin seeded by
      ``sim_seed`` and the draw index: unbiased, deterministic, resumable).
    * ``sim_curvature="frozen"``: ∇²Φ_β·∇Φ_β ≈ σH_f∇Φ_β in ∇F_ρ (the similarity gradient held fixed
      along the direction; implied for a lagged evaluation). No graph of ∇Φ_β is kept.
    """

    name = "ofmu"

    eta_in: float | StepRule = 0.1
    eta_out: float | StepRule = 0.1
    transform_in: Transform = field(default_factory=Sgd)
    transform_out: Transform = field(default_factory=Sgd)
    sim_eps: float = 1e-12
    mapping_step: float | None = None
    sim_seed: int = 0

    def __post_init__(self) -> None:
        Solver.__post_init__(self)
        OFMUConfig.__post_init__(self)
        object.__setattr__(self, "eta_in", as_step_rule(self.eta_in, name="eta_in"))
        object.__setattr__(self, "eta_out", as_step_rule(self.eta_out, name="eta_out"))

    @classmethod
    def of(cls, config: OFMUConfig, **loop: Any) -> OFMU:
        """The solver with ``config``'s hyper-parameters and the loop's (``eta_in``, ``max_steps``, ...)."""
        return cls(**config.values(), **loop)

    @property
    def rho_schedule(self) -> Geometric:
        """ρ_k = min(ρ_0 γ^k, cap)."""
        return Geometric(self.rho, self.gamma, self.rho_cap)

    def evaluator(self, problem) -> Evaluator:
        return Evaluator(
            problem,
            beta=self.beta,
            sim=self.sim,
            hvp=self.hvp,
            fd_eps=self.fd_eps,
            fd_scheme=self.fd_scheme,
            sim_eps=self.sim_eps,
            mapping_step=self.mapping_step,
        )

    def init(self, ev: Evaluator, theta0: Vec) -> OFMUState:
        b = ev.backend
        return OFMUState(theta0, 0, 0, self.transform_in.init(b, theta0), self.transform_out.init(b, theta0))

    def coin(self, draw: int) -> int | None:
        """The randomised estimator's pick for the evaluation on draw ``draw`` (None: both HVPs)."""
        if self.sim_pick == "both":
            return None
        return int(np.random.default_rng((self.sim_seed, draw)).integers(2))

    def lagged(self, ev: Evaluator, cache: SimCache | None) -> SimCache | None:
        """The cache to reuse for the next evaluation of ∇Φ_β, or None when ∇Sim is due a refresh."""
        if not ev.uses_similarity or cache is None or cache.age >= self.sim_lag:
            return None
        return cache

    def remember(self, ev: Evaluator, cache: SimCache | None, point: PhiPoint) -> SimCache | None:
        """The cache after an evaluation (kept only when ``sim_lag > 1``)."""
        if self.sim_lag == 1 or not ev.uses_similarity:
            return None
        if point.lagged and cache is not None:
            return cache._replace(age=cache.age + 1)
        b = ev.backend
        return SimCache(b.detach(point.grad_sim), b.item(point.cosine), 1)

    @property
    def inner_loop(self) -> Loop:
        """The inner loop's update: projected ascent on Φ_β with η_in and ``transform_in``."""
        return Loop(self.eta_in, self.transform_in, ascent=True, what="inner (Phi)")

    @property
    def outer_loop(self) -> Loop:
        """The outer loop's update: projected descent on F_ρ with η_out and ``transform_out``."""
        return Loop(self.eta_out, self.transform_out, ascent=False, what="outer (F_rho)")

    def next_evaluation(self, ev: Evaluator, draws: int, cache: SimCache | None) -> tuple[Batches, int, dict[str, Any]]:
        """The batches of the next evaluation of ∇Φ_β, the draw counter after it and the similarity estimator's
        options for it (the lagged ∇Sim to reuse, the randomised pick, whether to keep ∇Sim for later)."""
        estimator = {"lagged": self.lagged(ev, cache), "coin": self.coin(draws), "keep_sim": self.sim_lag > 1}
        batches, draws = self.draw(ev, draws)
        return batches, draws, estimator

    def ascend(self, ev: Evaluator, theta: Vec, draws: int, tstate: Any, k: int = 0) -> tuple[Vec, int, Any, float]:
        """T projected ascent steps on Φ_β from θ (the inner loop); returns (θ̃, draws, state, last η_in)."""
        return self.ascend_lagged(ev, theta, draws, tstate, k)[:4]

    def ascend_lagged(
        self, ev: Evaluator, theta: Vec, draws: int, tstate: Any, k: int = 0, cache: SimCache | None = None,
    ) -> tuple[Vec, int, Any, float, SimCache | None]:
        """:meth:`ascend` carrying the lagged similarity term: returns (θ̃, draws, state, last η_in, cache).

        θ'_{t+1} = Π(θ'_t + η_in ∇Φ_β(θ'_t)), t < T, from θ'_0 = θ.
        """
        eta, smooth = float("nan"), ev.problem.constants.phi_smoothness(ev.beta)
        for _ in range(self.inner_steps):
            batches, draws, estimator = self.next_evaluation(ev, draws, cache)
            point = ev.phi(theta, batches, **estimator)
            cache = self.remember(ev, cache, point)
            theta, tstate, eta, _ = self.move(
                ev, self.inner_loop, theta, point.residual, tstate, value=ev.backend.item(point.phi),
                value_fn=lambda x, bt=batches: ev.phi_value(x, bt), smoothness=smooth, k=k,
            )
        return theta, draws, tstate, eta, cache

    def step(self, ev: Evaluator, state: OFMUState) -> tuple[OFMUState, dict[str, float]]:
        """θ̃_k = T ascent steps on Φ_β from θ_k; θ_{k+1} = Π(θ̃_k − η_out ∇F_{ρ_k}(x_k)); ρ_k = min(ρ_0γᵏ, cap)."""
        rho = self.rho_schedule(state.k)
        inner, draws, in_state, eta_in, cache = self.ascend_lagged(
            ev, state.theta, state.draws, state.inner_state, state.k, state.sim)
        x = inner if self.eval_point == "inner" else state.theta
        batches, draws, estimator = self.next_evaluation(ev, draws, cache)
        pen = ev.penalised(x, rho, batches, curvature=self.sim_curvature, **estimator)
        theta, out_state, eta_out, accepted = self.move(
            ev, self.outer_loop, inner, pen.grad_F, state.outer_state, value=pen.F,
            value_fn=lambda y: ev.penalised_value(y, rho, batches),
            smoothness=ev.problem.constants.penalised_smoothness(rho, ev.beta), k=state.k,
        )
        row = penalty_row(ev.backend, pen, rho=rho, eta_in=eta_in if self.inner_steps else None, eta_out=eta_out,
                          accepted=accepted)
        return OFMUState(theta, state.k + 1, draws, in_state, out_state, self.remember(ev, cache, pen.point)), row


def penalty_row(b: Any, pen: PenaltyPoint, *, rho: float, eta_in: float | None, eta_out: float,
                accepted: bool) -> dict[str, float]:
    """The trace row of an outer step on F_ρ, from its evaluation ``pen`` at x_k (``eta_in`` None: no inner loop)."""
    p = pen.point
    grad_F_norm = b.item(b.norm(pen.grad_F))
    row = {
        "loss_f": b.item(p.loss_f),
        "loss_r": b.item(p.loss_r),
        "phi": b.item(p.phi),
        "sim": b.item(p.cosine),
        "grad_phi_norm": b.item(b.norm(p.residual)),
        "F": pen.F,
        "grad_F_norm": grad_F_norm,
        "grad_f_norm": b.item(b.norm(p.g_f)),
        "grad_r_norm": b.item(b.norm(p.g_r)),
        "hvp_ratio": pen.hvp_ratio,
        "rho": rho,
        "eta_in": eta_in,
        "eta_out": eta_out,
        "line_search_ok": float(accepted),
        "error": grad_F_norm,
    }
    if eta_in is None:
        del row["eta_in"]
    return row


@SOLVERS.register("grad-penalty")
@dataclass(frozen=True, kw_only=True)
class GradPenalty(OFMU):
    """G-PBGD (Shen & Chen, ICML 2023): OFMU's penalty with β = 0, F_ρ = L_r + ρ‖P∇(σL_f)‖².

    Single loop by default (``inner_steps = 0``: θ_{k+1} = θ_k − η ∇F_ρ(θ_k)); set
    ``inner_steps > 0`` for the two-loop variant.
    """

    name = "grad-penalty"

    beta: float = 0.0
    sim: str = "none"
    inner_steps: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta != 0:
            raise ValueError(f"grad-penalty has beta = 0 by definition, got beta={self.beta!r}; use solver 'ofmu'")
