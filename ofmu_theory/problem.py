"""The problem contract: a lower (forget) and an upper (retain) objective over one vector θ.

Unlearning (the OFMU paper): the lower level is the forget loss L_f, MAXIMISED; the upper level
is the retain loss L_r, minimised; both act on all of θ. Classical bilevel problems
``min_{x,y} f(x, y) s.t. y ∈ argmin_y g(x, y)`` fit the same contract: θ = (x, y), the lower
level g is MINIMISED over the declared ``block`` (a 0/1 mask selecting y), the upper level is f.

Internally the core always *ascends* the lower level: with σ = +1 ("max") or σ = −1 ("min"),
the ascent objective is σ·L_lower, so Φ_β = σ·L_lower − β·Sim(σ∇L_lower, ∇L_upper).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ofmu_theory.backends import Backend, Vec
from ofmu_theory.constraints import Constraint
from ofmu_theory.objectives import Objective

Sense = Literal["max", "min"]


@dataclass(frozen=True, kw_only=True)
class Constants:
    """Constants a family knows (``None`` when unknown). Subscripts name the level.

    Attributes:
        L_lower: smoothness (gradient Lipschitz constant) of the lower objective.
        L_upper: smoothness of the upper objective L_r.
        mu_lower: strong concavity / PL constant of the lower level in its own sense.
        mu_upper: strong convexity / PL constant of the upper objective.
        G_upper: bound on ‖∇L_r‖ on the region the solvers visit (G_r in Eq. 35).
        H_phi: bound on ‖∇²Φ‖ (H in Eq. 35); equals L_lower when β = 0.
        M_lower: Lipschitz constant of ∇²L_lower (0 for quadratics).
        G_phi: bound on ‖∇Φ‖ on the region the solvers visit.
    """

    L_lower: float | None = None
    L_upper: float | None = None
    mu_lower: float | None = None
    mu_upper: float | None = None
    G_upper: float | None = None
    H_phi: float | None = None
    M_lower: float | None = None
    G_phi: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if value is not None and not (np.isfinite(value) and value >= 0):
                raise ValueError(f"constant {name} must be a finite number >= 0 or None, got {value!r}")

    def to_dict(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def phi_smoothness(self, beta: float) -> float | None:
        """Smoothness L_Φ of Φ_β: L_lower when β = 0, unknown otherwise (the cosine term)."""
        return self.L_lower if beta == 0 else None

    def penalised_smoothness(self, rho: float, beta: float) -> float | None:
        """Smoothness of F_ρ = L_r + ρ‖P∇Φ‖²: L_r + 2ρ(H_Φ² + M_Φ·G_Φ), when known.

        ∇²F_ρ = ∇²L_r + 2ρ(∇²Φ P ∇²Φ + D³Φ[P∇Φ]); the third-order term vanishes on quadratics.
        Known only for β = 0 (then H_Φ = L_lower, M_Φ = M_lower).
        """
        if beta != 0 or self.L_upper is None or self.L_lower is None or self.M_lower is None:
            return None
        third = 0.0
        if self.M_lower > 0:
            if self.G_phi is None:
                return None
            third = self.M_lower * self.G_phi
        return self.L_upper + 2.0 * rho * (self.L_lower**2 + third)


@dataclass(frozen=True, kw_only=True)
class BilevelProblem:
    """A bilevel (or unlearning) problem for one backend.

    Attributes:
        name: a label used in results and reports.
        lower: the lower-level (forget) objective.
        upper: the upper-level (retain) objective.
        theta0: the starting point θ_0 (the "original model").
        sense: "max" when the lower level is maximised (unlearning), "min" for classical bilevel.
        block: optional 0/1 mask of the lower level's variables (``None``: all of θ).
        constraint: optional convex set Θ; steps are projected onto it and the lower-level
            residual is the gradient mapping (see :mod:`ofmu_theory.constraints`).
        constants: what the family knows about its smoothness and curvature.
        description: one line on the regime (e.g. "concave lower level, strongly convex upper").
    """

    name: str
    lower: Objective
    upper: Objective
    theta0: Vec
    sense: Sense = "max"
    block: Vec | None = None
    constraint: Constraint | None = None
    constants: Constants = field(default_factory=Constants)
    description: str = ""

    def __post_init__(self) -> None:
        if self.sense not in ("max", "min"):
            raise ValueError(f"sense must be 'max' or 'min', got {self.sense!r}")
        if self.lower.backend is not self.upper.backend:
            raise ValueError(
                f"lower and upper objectives use different backends "
                f"({self.lower.backend.name} vs {self.upper.backend.name})"
            )
        backend = self.backend
        object.__setattr__(self, "theta0", backend.validate(self.theta0, name="theta0"))
        if self.block is not None:
            block = backend.validate(self.block, name="block")
            self.check_like(block, name="block")
            flat = backend.to_numpy(block)
            if not np.all((flat == 0) | (flat == 1)) or not flat.any():
                raise ValueError("block must be a 0/1 mask with at least one 1 (the lower level's variables)")
            object.__setattr__(self, "block", block)
        if self.constraint is not None and self.constraint.backend is not backend:
            raise ValueError(f"constraint uses the {self.constraint.backend.name} backend, problem uses {backend.name}")

    @property
    def backend(self) -> Backend:
        return self.lower.backend

    @property
    def sigma(self) -> float:
        """σ = +1 when the lower level is maximised, −1 when minimised."""
        return 1.0 if self.sense == "max" else -1.0

    @property
    def dim(self) -> int:
        return self.backend.numel(self.theta0)

    def check_like(self, x: Vec, *, name: str) -> Vec:
        """Validate that ``x`` has θ_0's structure (type, number of tensors, shapes)."""
        x = self.backend.validate(x, name=name)
        ref = self.theta0
        if self.backend.name == "numpy":
            if x.shape != ref.shape:
                raise ValueError(f"{name} has shape {x.shape}, expected {ref.shape} (the shape of theta0)")
            return x
        if len(x) != len(ref) or any(a.shape != b.shape for a, b in zip(x, ref)):
            raise ValueError(
                f"{name} has tensor shapes {[tuple(t.shape) for t in x]}, "
                f"expected {[tuple(t.shape) for t in ref]} (the shapes of theta0)"
            )
        return x

    def with_theta0(self, theta0: Vec) -> BilevelProblem:
        """The same problem started from another point."""
        return replace(self, theta0=self.check_like(theta0, name="theta0"))
