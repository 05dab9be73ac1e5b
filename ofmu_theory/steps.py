"""Step-size rules: constant, 1/L from known constants, Armijo backtracking.

A rule sees a :class:`Line`: the value to minimise at the current point, the slope along the
search direction, a function evaluating the value at a trial step, and the smoothness of the
function when the problem's constants give it. Ascent steps (the inner loop on Φ) minimise −Φ.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, NamedTuple

from ofmu_theory.schedules import Schedule
from ofmu_theory.validation import check_positive


class Line(NamedTuple):
    """A one-dimensional view of the step: value(η) = f(θ + η d)."""

    f0: float
    slope: float  # ⟨∇f(θ), d⟩ (negative for a descent direction)
    value_at: Callable[[float], float]
    smoothness: float | None
    what: str  # "inner" or "outer", for error messages
    k: int = 0  # the outer iteration (for scheduled step sizes)


class StepChoice(NamedTuple):
    eta: float
    accepted: bool  # False when a line search gave up


class StepRule(ABC):
    #: whether the rule reads ``line.slope`` (a line search); the solver computes it only then (NaN otherwise)
    uses_slope: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, line: Line) -> StepChoice: ...

    def to_dict(self) -> dict[str, Any]:
        return {"kind": type(self).__name__, **asdict(self)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class ConstantStep(StepRule):
    """η_k = eta."""

    eta: float

    def __post_init__(self) -> None:
        check_positive(eta=self.eta)

    def __call__(self, line: Line) -> StepChoice:
        return StepChoice(self.eta, True)

    def to_dict(self) -> dict[str, Any]:
        # recorded as "Constant", the class's earlier name: run options, reports and run caches key on it
        return {"kind": "Constant", "eta": self.eta}


@dataclass(frozen=True)
class Scheduled(StepRule):
    """η_k = schedule(k) (e.g. a cosine or linear learning-rate decay over the outer iterations)."""

    schedule: Schedule

    def __call__(self, line: Line) -> StepChoice:
        eta = self.schedule(line.k)
        if not eta > 0:
            raise ValueError(f"scheduled step size must be > 0, got {eta!r} at k={line.k}")
        return StepChoice(eta, True)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "Scheduled", "schedule": self.schedule.to_dict()}


@dataclass(frozen=True)
class InverseSmoothness(StepRule):
    """η = scale/L, with L from the problem's constants (e.g. L_F(ρ) = L_r + 2ρL_f² for β = 0)."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        check_positive(scale=self.scale)

    def __call__(self, line: Line) -> StepChoice:
        if line.smoothness is None or not line.smoothness > 0:
            raise ValueError(
                f"step rule 1/L needs the smoothness of the {line.what} objective, which this problem's "
                "constants do not give (unknown for beta > 0); use a constant step or armijo"
            )
        return StepChoice(self.scale / line.smoothness, True)


@dataclass(frozen=True)
class Armijo(StepRule):
    """Backtracking: the first η = eta0·shrinkʲ with f(θ + ηd) ≤ f(θ) + c·η·⟨∇f, d⟩."""

    uses_slope: ClassVar[bool] = True

    eta0: float = 1.0
    shrink: float = 0.5
    c: float = 1e-4
    max_backtracks: int = 40

    def __post_init__(self) -> None:
        check_positive(eta0=self.eta0)
        if not 0 < self.shrink < 1:
            raise ValueError(f"shrink must be in (0, 1), got shrink={self.shrink!r}")
        if not 0 < self.c < 1:
            raise ValueError(f"c must be in (0, 1), got c={self.c!r}")
        if self.max_backtracks < 1:
            raise ValueError(f"max_backtracks must be >= 1, got {self.max_backtracks}")

    def __call__(self, line: Line) -> StepChoice:
        eta = self.eta0
        for _ in range(self.max_backtracks):
            value = line.value_at(eta)
            if math.isfinite(value) and value <= line.f0 + self.c * eta * line.slope:
                return StepChoice(eta, True)
            eta *= self.shrink
        return StepChoice(eta, False)


def as_step_rule(value: float | StepRule, *, name: str) -> StepRule:
    """A float becomes :class:`ConstantStep`; a rule is returned as is."""
    if isinstance(value, StepRule):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number or a StepRule, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")
    return ConstantStep(float(value))


def parse_step_rule(text: str) -> StepRule:
    """Parse a CLI step: "0.1", "1/L", "1/L*0.5", "armijo", "armijo:2.0"."""
    text = text.strip().lower()
    if text.startswith("1/l"):
        rest = text[3:].lstrip("*")
        return InverseSmoothness(float(rest) if rest else 1.0)
    if text.startswith("armijo"):
        rest = text[6:].lstrip(":")
        return Armijo(eta0=float(rest)) if rest else Armijo()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"cannot parse step {text!r}: use a number, '1/L', '1/L*s', 'armijo' or 'armijo:eta0'") from None
    return ConstantStep(value)  # its own check names a bad value (e.g. a step <= 0)
