"""Solvers on the shared core, registered by name (``SOLVERS.get("ofmu")``)."""

from ofmu_theory.solvers.base import SOLVERS, Loop, Solver, StepInfo
from ofmu_theory.solvers import alternating, blur, ofmu, projection, scalarized, value_penalty  # noqa: F401
from ofmu_theory.solvers.alternating import Alternating
from ofmu_theory.solvers.blur import Blur
from ofmu_theory.solvers.ofmu import OFMU, GradPenalty
from ofmu_theory.solvers.projection import Projection
from ofmu_theory.solvers.scalarized import Scalarized
from ofmu_theory.solvers.value_penalty import ValuePenalty

__all__ = [
    "SOLVERS", "Alternating", "Blur", "GradPenalty", "Loop", "OFMU", "Projection", "Scalarized", "Solver", "StepInfo",
    "ValuePenalty",
]
