"""ofmu_theory: one backend-agnostic core of bi-level penalty solvers (OFMU and its neighbours).

Public API::

    from ofmu_theory import SOLVERS, BilevelProblem, TorchObjective, MiniBatch
    result = SOLVERS.get("ofmu")(beta=0.1, rho=10.0, max_steps=200).run(problem)
"""

from ofmu_theory.backends import BACKENDS, get_backend
from ofmu_theory.constraints import ArrayConstraint, Box, L1Ball
from ofmu_theory.evaluator import Evaluator
from ofmu_theory.oracle_types import CallCounts
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.hvp import HVP_STRATEGIES
from ofmu_theory.objectives import ArrayObjective, NumpyObjective, Objective, TorchObjective
from ofmu_theory.problem import BilevelProblem, Constants
from ofmu_theory.result import Result, Status, Trace
from ofmu_theory.sampler import Batches, FullBatch, MiniBatch
from ofmu_theory.schedules import ConstantSchedule, Cosine, Geometric, LinearDecay
from ofmu_theory.solvers import SOLVERS, Solver, StepInfo
from ofmu_theory.steps import Armijo, ConstantStep, InverseSmoothness, Scheduled
from ofmu_theory.transforms import Adam, Momentum, Sgd

__all__ = [
    "BACKENDS", "FAMILIES", "HVP_STRATEGIES", "SOLVERS", "Adam", "Armijo", "ArrayConstraint", "ArrayObjective",
    "Batches", "BilevelProblem", "Box", "CallCounts", "ConstantSchedule", "ConstantStep", "Cosine", "Momentum",
    "Scheduled", "Constants", "Evaluator", "Family", "FullBatch",
    "Geometric", "InverseSmoothness", "L1Ball", "LinearDecay", "MiniBatch", "NumpyObjective", "Objective",
    "Result", "Sgd", "Solver", "Status", "StepInfo", "TorchObjective", "Trace", "get_backend",
]
