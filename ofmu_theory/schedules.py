"""Schedules: small frozen dataclasses callable on the outer iteration k (they print and serialise)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ofmu_theory.validation import check_positive


class Schedule:
    """A non-negative sequence s(k), k = 0, 1, 2, ..."""

    def __call__(self, k: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, object]:
        return {"kind": type(self).__name__, **asdict(self)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class ConstantSchedule(Schedule):
    """s(k) = value."""

    value: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"value must be a finite number >= 0, got value={self.value!r}")

    def __call__(self, k: int) -> float:
        return self.value

    def to_dict(self) -> dict[str, object]:
        # recorded as "Constant", the class's earlier name: run options and run caches key on it
        return {"kind": "Constant", "value": self.value}


@dataclass(frozen=True)
class Geometric(Schedule):
    """ρ_k = min(ρ_0 γ^k, cap): the paper's ρ_{k+1} = γρ_k, with an optional cap (reconstructed).

    Attributes:
        rho0: ρ_0 > 0.
        gamma: growth factor γ ≥ 1 (γ = 1: constant).
        cap: optional upper bound on ρ_k.
    """

    rho0: float
    gamma: float = 1.0
    cap: float | None = None

    def __post_init__(self) -> None:
        check_positive(rho=self.rho0)
        if not (math.isfinite(self.gamma) and self.gamma >= 1):
            raise ValueError(f"gamma must be a finite number >= 1, got gamma={self.gamma!r}")
        if self.cap is not None:
            check_positive(rho_cap=self.cap)
            if self.cap < self.rho0:
                raise ValueError(f"rho_cap must be >= rho, got rho_cap={self.cap}, rho={self.rho0}")

    def __call__(self, k: int) -> float:
        if math.log(self.rho0) + k * math.log(self.gamma) > 700.0:  # beyond float range: the cap or huge
            return self.cap if self.cap is not None else math.exp(700.0)
        value = self.rho0 * self.gamma**k
        return value if self.cap is None else min(value, self.cap)


@dataclass(frozen=True)
class LinearDecay(Schedule):
    """s(k) = start + (end − start)·min(k / steps, 1) after ``warmup`` linear warm-up steps
    (e.g. the ℓ1-sparse α_t decaying to 0, or Hugging Face's linear schedule with warm-up)."""

    start: float
    end: float = 0.0
    steps: int = 1
    warmup: int = 0

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < 0:
            raise ValueError(f"start and end must be >= 0, got start={self.start}, end={self.end}")
        if self.steps < 1 or self.warmup < 0:
            raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={self.steps}, warmup={self.warmup}")

    def __call__(self, k: int) -> float:
        if k < self.warmup:
            return self.start * (k + 1) / (self.warmup + 1)
        return self.start + (self.end - self.start) * min((k - self.warmup) / self.steps, 1.0)


@dataclass(frozen=True)
class Cosine(Schedule):
    """s(k) = end + (start − end)·(1 + cos(π·min(k, steps)/steps))/2, after ``warmup`` linear steps."""

    start: float
    steps: int
    end: float = 0.0
    warmup: int = 0

    def __post_init__(self) -> None:
        check_positive(start=self.start)
        if self.steps < 1 or self.warmup < 0:
            raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={self.steps}, warmup={self.warmup}")
        if self.end < 0:
            raise ValueError(f"end must be >= 0, got end={self.end}")

    def __call__(self, k: int) -> float:
        if k < self.warmup:
            return self.start * (k + 1) / (self.warmup + 1)
        t = min(k - self.warmup, self.steps) / self.steps
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * t))
