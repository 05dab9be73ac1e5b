"""OFMU (arXiv 2509.22483): forgetting as the inner (priority) level, retention + a gradient-norm penalty outside."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.methods.base import (
    METHODS,
    RETAIN_LOSSES,
    Method,
    UnlearnTask,
    check_choice,
    check_nonnegative,
    check_positive,
)
from llm.runner import Plan
from ofmu_theory.hvp import HVP_STRATEGIES
from ofmu_theory.similarity import SIM_CURVATURES, SIM_KINDS, SIM_PICKS
from ofmu_theory.solvers import OFMU as OFMUSolver

FORGET_LOSSES: tuple[str, ...] = ("nll", "npo")


@METHODS.register("ofmu")
@dataclass(frozen=True, kw_only=True)
class OFMU(Method):
    """OFMU: T AdamW ascent steps on Φ_β, then one AdamW descent step on F_ρ = L_r + ρ‖∇Φ_β‖²; ρ_{k+1} = γρ_k.

    L_f = NLL on D_f (the paper) or −L_NPO (``forget_loss="npo"``), maximised; L_r = NLL (or KL) on D_r.

    .. math::

        Φ_β = L_f − β\\,\\mathrm{Sim}(∇L_f, ∇L_r),\\qquad ∇F_ρ = ∇L_r + 2ρ∇²Φ_β∇Φ_β \\quad\\text{(Eqs. 7, 9)}

    Core: ``ofmu`` with ``beta, sim, rho, gamma, rho_cap, inner_steps`` = T, η_in = cosine from ``lr_in``,
    η_out = cosine from ``lr``, Adam (AdamW) transforms on both loops, ``hvp`` = ``"exact"`` (double
    backward through ∇Φ), ``"fd"`` (differences of gradients, first order only) or ``"fwd_rev"``.
    One outer iteration draws T + 1 batch pairs; ``epochs`` counts outer iterations as for every method.

    Attributes:
        forget_loss: ``"nll"`` or ``"npo"`` (with ``npo_beta``).
        beta, sim: the similarity term's weight and variant (``"signed"``, ``"squared"``, ``"none"``).
        rho, gamma, rho_cap: ρ_0, its growth factor and cap.
        inner_steps: T.
        lr_in: peak η_in (None: ``lr``).
        hvp, fd_scheme, fd_eps: how ∇²Φ·v is taken.
        sim_lag, sim_pick, sim_curvature: the core's cheaper estimators of the similarity term (defaults:
            the exact one; see :class:`ofmu_theory.solvers.OFMU` and docs/llm-performance.md).
        eval_point: where ∇F_ρ is evaluated (``"inner"``: θ̃_k, ``"outer"``: θ_k).
        retain_loss: ``"nll"`` or ``"kl"``.
    """

    name = "ofmu"
    bench_rank = 100
    test_settings = {"inner_steps": 1}
    EMBEDDED = {"lr": 1e-3, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0,
                "inner_steps": 1, "lr_in": 1e-3, "beta": 0.1, "rho": 1e-5, "forget_loss": "npo"}

    forget_loss: str = "nll"
    npo_beta: float = 0.1
    beta: float = 0.1
    sim: str = "signed"
    rho: float = 1.0
    gamma: float = 1.0
    rho_cap: float | None = None
    inner_steps: int = 5
    lr_in: float | None = None
    hvp: str = "exact"
    fd_scheme: str = "central"
    fd_eps: float | None = 1e-5
    eval_point: str = "inner"
    retain_loss: str = "nll"
    sim_lag: int = 1
    sim_pick: str = "both"
    sim_curvature: str = "full"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("forget_loss", self.forget_loss, FORGET_LOSSES)
        check_choice("sim", self.sim, SIM_KINDS)
        check_choice("hvp", self.hvp, HVP_STRATEGIES.names())
        check_choice("eval_point", self.eval_point, ("inner", "outer"))
        check_choice("retain_loss", self.retain_loss, RETAIN_LOSSES)
        check_choice("sim_pick", self.sim_pick, SIM_PICKS)
        check_choice("sim_curvature", self.sim_curvature, SIM_CURVATURES)
        if isinstance(self.sim_lag, bool) or not isinstance(self.sim_lag, int) or self.sim_lag < 1:
            raise ValueError(f"sim_lag must be an int >= 1, got sim_lag={self.sim_lag!r}")
        check_positive(npo_beta=self.npo_beta, rho=self.rho)
        check_nonnegative(beta=self.beta)
        if self.lr_in is not None:
            check_positive(lr_in=self.lr_in)
        if isinstance(self.inner_steps, bool) or not isinstance(self.inner_steps, int) or self.inner_steps < 0:
            raise ValueError(f"inner_steps must be an int >= 0, got inner_steps={self.inner_steps!r}")

    def needs_double_backward(self) -> bool:
        return self.hvp != "fd"

    def double_backward_reason(self) -> str:
        return f"OFMU hvp={self.hvp!r}"

    def plan(self, task: UnlearnTask) -> Plan:
        if self.forget_loss == "npo":
            lower = objectives.neg_npo(task.params, task.forget, task.reference, beta=self.npo_beta)
        else:
            lower = objectives.nll(task.params, task.forget)
        if self.retain_loss == "kl":
            upper = objectives.kl(task.params, task.retain, task.reference)
        else:
            upper = objectives.nll(task.params, task.retain)
        sampler = self.sampler(task)
        solver = OFMUSolver(
            beta=self.beta, sim=self.sim, rho=self.rho, gamma=self.gamma, rho_cap=self.rho_cap,
            inner_steps=self.inner_steps, eta_in=self.eta(sampler, lr=self.lr_in), eta_out=self.eta(sampler),
            transform_in=self.adamw(), transform_out=self.adamw(), hvp=self.hvp, fd_scheme=self.fd_scheme,
            fd_eps=self.fd_eps, eval_point=self.eval_point, max_steps=self.max_steps(sampler),
            sim_lag=self.sim_lag, sim_pick=self.sim_pick, sim_curvature=self.sim_curvature, sim_seed=task.seed,
        )
        return Plan(problem=task.problem(lower=lower, upper=upper, name="ofmu"), solver=solver, sampler=sampler,
                    params=task.params)
