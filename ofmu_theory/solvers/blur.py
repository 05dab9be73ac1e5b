"""BLUR (Reisizadeh et al. 2025): the forget gradient corrected toward the retain gradient."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.backends import Backend, Vec
from ofmu_theory.solvers.base import SOLVERS
from ofmu_theory.solvers.combined import CombinedGradient, GradientPair


@SOLVERS.register("blur")
@dataclass(frozen=True, kw_only=True)
class Blur(CombinedGradient):
    """θ_{k+1} = Π(θ_k − η g),  g = g_r + (γ − ⟨g_r, g_d⟩/‖g_d‖²) g_d.

    g_d = −σ∇L_f is the gradient of the loss minimised for forgetting (−NLL on D_f), g_r = ∇L_r,
    ``gamma`` = γ (BLUR's forget weight; γ = 1 by default). With g_d = 0, g = g_r.
    The update is not the gradient of one function, so only constant steps apply.
    The step error is ‖g‖.
    """

    name = "blur"

    gamma: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gamma < 0:
            raise ValueError(f"gamma must be >= 0, got gamma={self.gamma!r}")

    def combine(self, b: Backend, pair: GradientPair) -> tuple[Vec, dict[str, float]]:
        if pair.gd2 == 0.0:
            return pair.g_r, {}
        return b.axpy(self.gamma - pair.inner / pair.gd2, pair.g_d, pair.g_r), {}
