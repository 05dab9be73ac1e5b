"""Solver results, modelled on scipy's OptimizeResult, with a per-iteration trace."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from ofmu_theory.backends import Vec


class Status(IntEnum):
    """Why a run ended."""

    CONVERGED = 0
    MAX_STEPS = 1
    DIVERGED = 2
    STOPPED = 3


MESSAGES: dict[Status, str] = {
    Status.CONVERGED: "converged: the stopping error fell below tol",
    Status.MAX_STEPS: "maximum number of steps reached",
    Status.DIVERGED: "diverged: a non-finite value or iterate appeared; the last finite iterate is returned",
    Status.STOPPED: "stopped by the callback",
}

# Columns every trace has (NaN where a solver does not compute the quantity).
TRACE_COLUMNS: tuple[str, ...] = (
    "k", "loss_f", "loss_r", "phi", "sim", "grad_phi_norm", "F", "grad_F_norm", "grad_f_norm",
    "grad_r_norm", "hvp_ratio", "rho", "eta_in", "eta_out", "error",
    "n_value", "n_grad", "n_hvp", "n_third", "wall_s",
)


@dataclass(frozen=True)
class Trace(Mapping[str, np.ndarray]):
    """Equal-length numpy columns, one row per outer iteration (claims and plots read these).

    Row k describes step k: quantities at its evaluation point (θ̃_k for OFMU), the ρ_k and step
    sizes it used, and cumulative oracle counts and wall time after it.
    """

    columns: Mapping[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[dict[str, float]]) -> Trace:
        names = list(TRACE_COLUMNS) + sorted({k for r in rows for k in r} - set(TRACE_COLUMNS))
        return cls({n: np.array([r.get(n, np.nan) for r in rows], dtype=np.float64) for n in names})

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"trace has no column {name!r}; columns: {', '.join(self.columns)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def to_dict(self) -> dict[str, list[float]]:
        return {k: v.tolist() for k, v in self.columns.items()}


@dataclass(frozen=True, kw_only=True)
class Result:
    """The outcome of ``Solver.run``.

    Attributes:
        theta: the final iterate (last finite one when diverged), in the problem's backend.
        success: True unless the run diverged.
        status, message: why the run ended (see :data:`MESSAGES`).
        nit: number of outer iterations completed.
        n_value, n_grad, n_hvp, n_third: oracle calls (see :class:`~ofmu_theory.oracle_types.CallCounts`).
        wall_s: wall-clock seconds.
        trace: the per-iteration trace.
        options: every choice the run made (solver, hyper-parameters, HVP strategy, Sim variant,
            evaluation point, step rules, ρ schedule, sampler, backend, problem).
        iterates: θ_0..θ_K as rows of a float64 array when requested, else None.
        state: the final solver state (pass it back as ``init_state`` to resume).
    """

    theta: Vec
    success: bool
    status: Status
    message: str
    nit: int
    n_value: int
    n_grad: int
    n_hvp: int
    n_third: int
    wall_s: float
    trace: Trace
    options: dict[str, Any]
    iterates: np.ndarray | None = None
    state: Any = None

    def summary(self) -> str:
        """A few human-readable lines."""
        last = {k: self.trace[k][-1] for k in ("loss_f", "loss_r", "grad_phi_norm", "F", "grad_F_norm", "sim")} if self.nit else {}
        lines = [
            f"solver {self.options.get('solver')} on {self.options.get('problem')} [{self.options.get('backend')}]",
            f"status {self.status.name}: {self.message}",
            f"iterations {self.nit}, gradient calls {self.n_grad}, HVPs {self.n_hvp}, third-order {self.n_third}, "
            f"values {self.n_value}, wall {self.wall_s:.3f} s",
        ]
        if last:
            lines.append("final " + ", ".join(f"{k}={v:.6g}" for k, v in last.items() if np.isfinite(v)))
        return "\n".join(lines)

    def to_dict(self, *, include_theta: bool = False, backend: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "success": self.success,
            "status": self.status.name,
            "message": self.message,
            "nit": self.nit,
            "n_value": self.n_value,
            "n_grad": self.n_grad,
            "n_hvp": self.n_hvp,
            "n_third": self.n_third,
            "wall_s": self.wall_s,
            "options": self.options,
            "trace": self.trace.to_dict(),
        }
        if include_theta and backend is not None:
            out["theta"] = backend.to_numpy(self.theta).tolist()
        return out
