"""OFMU's hyper-parameters, declared and validated once.

:class:`OFMUConfig` is the one home of β, Sim, ρ_0, γ, the ρ cap, T, the HVP strategy, the evaluation point
and the cheaper estimators of the similarity term. The ``ofmu`` solver (:class:`~ofmu_theory.solvers.OFMU`)
is this configuration plus its loop (step sizes, transforms, K), and is built from one with
``OFMU.of(config, ...)``; the LLM and vision OFMU methods hold one (their defaults are presets of it, their
``--set rho=...`` reaches it by the flat name, :mod:`ofmu_theory.options`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from ofmu_theory.hvp import FD_SCHEMES, HVP_STRATEGIES
from ofmu_theory.schedules import Geometric
from ofmu_theory.similarity import SIM_CURVATURES, SIM_PICKS, check_sim
from ofmu_theory.solvers.base import HvpOptions
from ofmu_theory.validation import check_choice, check_count, check_nonnegative, check_positive


@dataclass(frozen=True, kw_only=True)
class OFMUConfig(HvpOptions):
    """OFMU's hyper-parameters in the paper's symbols (arXiv 2509.22483, Algorithm 1, reconstructed).

    Attributes:
        beta: β ≥ 0, the weight of the similarity term in Φ_β = σL_f − β·Sim(a, g_r).
        sim: the similarity variant ("signed": the paper's cosine S, "squared": S², "none").
        rho: ρ_0 > 0, the penalty weight in F_ρ = L_r + ρ‖∇Φ_β‖².
        gamma: γ ≥ 1, ρ_{k+1} = γρ_k.
        rho_cap: the (reconstructed) cap on ρ_k; None: none.
        inner_steps: T ≥ 0, the ascent steps on Φ_β per outer step.
        eval_point: where ∇F_ρ is taken ("inner": θ̃_k, the paper's reading; "outer": θ_k).
        hvp, fd_eps, fd_scheme: see :class:`HvpOptions`.
        sim_lag: m ≥ 1, ∇Sim recomputed at every m-th evaluation of ∇Φ_β and reused in between.
        sim_pick: "both" HVPs of ∇S per evaluation, or one drawn at "random" (weight 2).
        sim_curvature: "full" ∇²Φ_β, or "frozen" (∇²Φ_β·w ≈ σH_f w: no graph of ∇Φ_β kept).
    """

    beta: float = 0.1
    sim: str = "signed"
    rho: float = 1.0
    gamma: float = 1.0
    rho_cap: float | None = None
    inner_steps: int = 5
    eval_point: Literal["inner", "outer"] = "inner"
    sim_lag: int = 1
    sim_pick: str = "both"
    sim_curvature: str = "full"

    def __post_init__(self) -> None:
        check_nonnegative(beta=self.beta)
        check_sim(self.sim)
        Geometric(self.rho, self.gamma, self.rho_cap)  # validates rho, gamma, rho_cap
        check_count("inner_steps", self.inner_steps, least=0)
        check_choice("eval_point", self.eval_point, ("inner", "outer"))
        check_choice("hvp", self.hvp, HVP_STRATEGIES.names())
        check_choice("fd_scheme", self.fd_scheme, FD_SCHEMES)
        if self.fd_eps is not None:
            check_positive(fd_eps=self.fd_eps)
        check_count("sim_lag", self.sim_lag, least=1)
        check_choice("sim_pick", self.sim_pick, SIM_PICKS)
        check_choice("sim_curvature", self.sim_curvature, SIM_CURVATURES)

    def values(self) -> dict[str, Any]:
        """The configuration as keyword arguments (of ``OFMUConfig`` or of the ``ofmu`` solver)."""
        return {f.name: getattr(self, f.name) for f in fields(OFMUConfig)}
