"""Gradient projection (GRU-style): the forget gradient projected off the retain gradient on conflict."""

from __future__ import annotations

from dataclasses import dataclass

from ofmu_theory.backends import Backend, Vec
from ofmu_theory.solvers.base import SOLVERS
from ofmu_theory.solvers.combined import CombinedGradient, GradientPair
from ofmu_theory.solvers.scalarized import check_weights


@SOLVERS.register("projection")
@dataclass(frozen=True, kw_only=True)
class Projection(CombinedGradient):
    """θ_{k+1} = Π(θ_k − η(γ_f ĝ_d + λ g_r)), with g_d = −σ∇L_f (forgetting descent gradient) and

    .. math:: ĝ_d = g_d − \\frac{⟨g_d, g_r⟩}{‖g_r‖²} g_r \\ \\text{if}\\ ⟨g_d, g_r⟩ < 0, \\text{ else } g_d.

    ``forget_weight`` = γ_f, ``retain_weight`` = λ. The step error is ‖γ_f ĝ_d + λ g_r‖.
    """

    name = "projection"

    forget_weight: float = 1.0
    retain_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_weights(forget_weight=self.forget_weight, retain_weight=self.retain_weight)

    def combine(self, b: Backend, pair: GradientPair) -> tuple[Vec, dict[str, float]]:
        conflict = pair.inner < 0 and pair.gr2 > 0
        g_d = b.axpy(-pair.inner / pair.gr2, pair.g_r, pair.g_d) if conflict else pair.g_d
        return b.axpy(self.forget_weight, g_d, b.scale(self.retain_weight, pair.g_r)), {"conflict": float(conflict)}
