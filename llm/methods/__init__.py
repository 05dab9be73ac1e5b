"""Unlearning methods, registered by name (``METHODS.get("npo")``): each maps a task to a core run.

=============  ==============================  ==========================================
method         core solver                     lower (maximised) / upper (minimised)
=============  ==============================  ==========================================
grad_ascent    scalarized (γ_f = 1, λ = 0)     NLL_f / —
grad_diff      scalarized (γ, α)               NLL_f / NLL_r or KL_r
npo            scalarized (γ, α)               −L_NPO / NLL_r or KL_r
simnpo         scalarized (γ, α)               −L_SimNPO / NLL_r or KL_r
idkdpo         scalarized (γ, α)               −L_DPO(IdK ≻ answer) / NLL_r or KL_r
rmu            scalarized (γ, α)               −L_act(h_ℓ, c·u) / L_act(h_ℓ, h_ℓ^ref)
blur           blur (γ)                        NLL_f / NLL_r
ofmu           ofmu (β, ρ, γ, T, η_in, η_out)  NLL_f or −L_NPO / NLL_r or KL_r
=============  ==============================  ==========================================
"""

from llm.methods.base import METHODS, PRESETS, Method, UnlearnTask, WithRetain, bench_order
from llm.methods import blur, grad_ascent, grad_diff, idkdpo, npo, ofmu, rmu, simnpo  # noqa: F401
from llm.methods.blur import Blur
from llm.methods.grad_ascent import GradAscent
from llm.methods.grad_diff import GradDiff
from llm.methods.idkdpo import IdkDPO
from llm.methods.npo import NPO
from llm.methods.ofmu import OFMU
from llm.methods.rmu import RMU
from llm.methods.simnpo import SimNPO

__all__ = [
    "METHODS", "NPO", "OFMU", "PRESETS", "RMU", "Blur", "GradAscent", "GradDiff", "IdkDPO", "Method", "SimNPO",
    "UnlearnTask", "WithRetain", "bench_order",
]
