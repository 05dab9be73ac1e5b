"""Problem families: seeded random instances with known constants and exact references.

A family is a frozen dataclass subclassing :class:`Family`, registered in :data:`FAMILIES`
(convex/ and nonconvex/ register theirs). ``Family.sample(seed=..., **params)`` draws one
instance; the instance holds numpy data and knows

* its two objectives, written once for both backends (:class:`~ofmu_theory.objectives.ArrayObjective`),
* the lower level's sense and optional block (classical bilevel problems),
* its constants (smoothness, strong convexity/PL, bounds),
* its exact reference: the bilevel solution θ* (closed form, cvxpy, or grid search), and, where
  it has one, the closed-form minimiser θ_ρ of the penalised objective F_ρ,
* its regime in words, e.g. "concave lower level, strongly convex upper level".

``instance.problem("numpy")`` / ``instance.problem("torch")`` gives the
:class:`~ofmu_theory.problem.BilevelProblem` the solvers run on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ofmu_theory.constraints import ArrayConstraint
from ofmu_theory.objectives import ArrayObjective
from ofmu_theory.problem import BilevelProblem, Constants, Sense
from ofmu_theory.registry import Registry


@dataclass(frozen=True, kw_only=True)
class Family(ABC):
    """One seeded instance of a problem family.

    Class attributes:
        regime: the curvature regime in words (which level is concave/convex/PL/non-convex).
        convex: True for families in convex/ (Φ concave, upper level convex), False otherwise.
        stochastic: True when the objectives have data rows that mini-batches can sample.
        form: "unlearning" (one θ, the lower level acts on all of it) or "classical" (a classical
            bilevel problem: the lower level acts on a block y of θ = (x, y); ``block()`` is its mask).
        solution_unique: whether ``solution()`` is the only bilevel solution (False: one of a set,
            e.g. matrix factorisation's rotations, so ‖θ − θ*‖ is no distance to the solution set).

    Attributes:
        seed: the seed the instance was drawn with.
    """

    regime: ClassVar[str] = ""
    convex: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    sense: ClassVar[Sense] = "max"
    form: ClassVar[str] = "unlearning"
    solution_unique: ClassVar[bool] = True

    seed: int

    # --- construction ---------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def sample(cls, *, seed: int = 0, **params: Any) -> Family:
        """Draw an instance; ``params`` are the family's size/conditioning knobs (validated)."""

    # --- the problem ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        for name in FAMILIES.names():
            if FAMILIES.get(name) is type(self):
                return name
        return type(self).__name__

    @abstractmethod
    def objectives(self) -> tuple[ArrayObjective, ArrayObjective]:
        """(lower, upper) objectives."""

    @abstractmethod
    def theta0(self) -> np.ndarray:
        """The starting point θ_0."""

    def block(self) -> np.ndarray | None:
        """0/1 mask of the lower level's variables (``None``: all of θ)."""
        return None

    def constraint(self) -> ArrayConstraint | None:
        """The convex set Θ the iterates must stay in (``None``: unconstrained)."""
        return None

    @abstractmethod
    def constants(self) -> Constants:
        """The constants this family knows."""

    def params(self) -> dict[str, Any]:
        """The knobs that define the instance (for reports)."""
        return {"seed": self.seed}

    # --- exact references -----------------------------------------------------------------
    def solution(self) -> np.ndarray | None:
        """The bilevel solution θ* (``None`` when the family has no unique one)."""
        return None

    def penalised_solution(self, rho: float) -> np.ndarray | None:
        """The closed-form minimiser θ_ρ of F_ρ with β = 0, where the family has one."""
        return None

    # --- glue -----------------------------------------------------------------------------
    def problem(self, backend: str = "numpy", *, dtype: Any = None, device: Any = None) -> BilevelProblem:
        """This instance as a :class:`BilevelProblem` for ``backend`` ("numpy" or "torch")."""
        lower, upper = self.objectives()
        theta0, block = self.theta0(), self.block()
        if backend == "torch":
            import torch

            dtype = dtype or torch.float64
            theta0_b: Any = (torch.as_tensor(theta0, dtype=dtype, device=device),)
            block_b: Any = None if block is None else (torch.as_tensor(block, dtype=dtype, device=device),)
        elif backend == "numpy":
            theta0_b = np.asarray(theta0, dtype=dtype or np.float64)
            block_b = None if block is None else np.asarray(block, dtype=theta0_b.dtype)
        else:
            raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
        constraint = self.constraint()
        return BilevelProblem(
            name=self.name,
            constraint=None if constraint is None else constraint.to(backend),
            lower=lower.to(backend, dtype=dtype, device=device),
            upper=upper.to(backend, dtype=dtype, device=device),
            theta0=theta0_b,
            sense=self.sense,
            block=block_b,
            constants=self.constants(),
            description=self.regime,
        )


FAMILIES: Registry[type[Family]] = Registry("family")
