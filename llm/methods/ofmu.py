"""OFMU (arXiv 2509.22483): forgetting as the inner (priority) level, retention + a gradient-norm penalty outside."""

from __future__ import annotations

from dataclasses import dataclass

from llm import objectives
from llm.methods.base import METHODS, RETAIN_LOSSES, Method, UnlearnTask, check_choice, check_positive
from llm.runner import Plan
from ofmu_theory.options import nested
from ofmu_theory.solvers import OFMU as OFMUSolver
from ofmu_theory.solvers.ofmu_config import OFMUConfig

FORGET_LOSSES: tuple[str, ...] = ("nll", "npo")


#: The LLM methods' preset of OFMU's configuration: the core's defaults with a float32-sized finite-difference
#: step (docs/llm-performance.md); ``Method.EMBEDDED`` below overrides some of it for the embedded GPT-2.
LLM_OFMU = OFMUConfig(fd_eps=1e-5)


@METHODS.register("ofmu")
@dataclass(frozen=True, kw_only=True)
class OFMU(Method):
    """OFMU: T AdamW ascent steps on Φ_β, then one AdamW descent step on F_ρ = L_r + ρ‖∇Φ_β‖²; ρ_{k+1} = γρ_k.

    L_f = NLL on D_f (the paper) or −L_NPO (``forget_loss="npo"``), maximised; L_r = NLL (or KL) on D_r.

    .. math::

        Φ_β = L_f − β\\,\\mathrm{Sim}(∇L_f, ∇L_r),\\qquad ∇F_ρ = ∇L_r + 2ρ∇²Φ_β∇Φ_β \\quad\\text{(Eqs. 7, 9)}

    Core: the ``ofmu`` solver built from ``solver`` (β, Sim, ρ_0, γ, the ρ cap, T, the HVP strategy, the
    evaluation point, the similarity estimators: :class:`~ofmu_theory.solvers.ofmu_config.OFMUConfig`, set by
    their flat names, ``--set rho=...``), η_in = cosine from ``lr_in``, η_out = cosine from ``lr``, Adam (AdamW)
    transforms on both loops. One outer iteration draws T + 1 batch pairs; ``epochs`` counts outer iterations
    as for every method.

    Attributes:
        forget_loss: ``"nll"`` or ``"npo"`` (with ``npo_beta``).
        lr_in: peak η_in (None: ``lr``).
        retain_loss: ``"nll"`` or ``"kl"``.
        solver: OFMU's configuration (default: :data:`LLM_OFMU`).
    """

    name = "ofmu"
    bench_rank = 100
    test_settings = {"inner_steps": 1}
    EMBEDDED = {"lr": 1e-3, "epochs": 5.0, "batch_size": 8, "retain_batch_size": 32, "warmup_epochs": 1.0,
                "inner_steps": 1, "lr_in": 1e-3, "beta": 0.1, "rho": 1e-5, "forget_loss": "npo"}

    forget_loss: str = "nll"
    npo_beta: float = 0.1
    lr_in: float | None = None
    retain_loss: str = "nll"
    solver: OFMUConfig = nested(LLM_OFMU)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("forget_loss", self.forget_loss, FORGET_LOSSES)
        check_choice("retain_loss", self.retain_loss, RETAIN_LOSSES)
        check_positive(npo_beta=self.npo_beta)
        if self.lr_in is not None:
            check_positive(lr_in=self.lr_in)

    def needs_double_backward(self) -> bool:
        return self.solver.hvp != "fd"

    def double_backward_reason(self) -> str:
        return f"OFMU hvp={self.solver.hvp!r}"

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
        solver = OFMUSolver.of(
            self.solver, eta_in=self.eta(sampler, lr=self.lr_in), eta_out=self.eta(sampler),
            transform_in=self.adamw(), transform_out=self.adamw(), max_steps=self.max_steps(sampler),
            sim_seed=task.seed,
        )
        return Plan(problem=task.problem(lower=lower, upper=upper, name="ofmu"), solver=solver, sampler=sampler,
                    params=task.params)
