"""Shared experiment machinery: OFMU two-loop runs and exact evaluations at recorded iterates.

The solvers' traces describe each step at its *evaluation point* (θ̃_k for OFMU); the claims
measure F_ρ and ‖∇F_ρ‖ at the iterates θ_k themselves, so runs record their iterates and
:func:`penalised_at` evaluates the exact full-batch oracles there (β as in the run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ofmu_theory.evaluator import Evaluator
from ofmu_theory.result import Result
from ofmu_theory.sampler import Sampler
from ofmu_theory.solvers import SOLVERS
from ofmu_theory.steps import Armijo, ConstantStep, StepRule
from proofs_checks.instances import FULL, InstanceSpec


@dataclass(frozen=True, kw_only=True)
class StepChoice:
    """The step rules of a two-loop run and, in words, where they came from."""

    eta_in: StepRule
    eta_out: StepRule
    how: str

    def to_dict(self) -> dict[str, Any]:
        return {"eta_in": self.eta_in.to_dict(), "eta_out": self.eta_out.to_dict(), "how": self.how}


def step_rules(spec: InstanceSpec, rho: float, beta: float = 0.0) -> StepChoice:
    """η_in = 1/L_lower and η_out = 1/L_F(ρ) where the constants give them, else Armijo."""
    c = spec.instance().constants()
    smooth_phi = c.phi_smoothness(beta)
    smooth_F = c.penalised_smoothness(rho, beta)
    eta_in: StepRule = ConstantStep(1.0 / smooth_phi) if smooth_phi else Armijo()
    eta_out: StepRule = ConstantStep(1.0 / smooth_F) if smooth_F else Armijo()
    how = (
        f"eta_in = {'1/L_lower' if smooth_phi else 'Armijo (L_Phi unknown)'}, "
        f"eta_out = {'1/L_F(rho)' if smooth_F else 'Armijo (L_F unknown)'}"
    )
    return StepChoice(eta_in=eta_in, eta_out=eta_out, how=how)


def run_ofmu(
    spec: InstanceSpec,
    *,
    rho: float,
    inner_steps: int,
    max_steps: int,
    steps: StepChoice,
    beta: float = 0.0,
    sim: str = "none",
    sampler: Sampler | None = None,
) -> Result:
    """One OFMU run (fixed ρ, the paper's evaluation point θ̃) with iterates recorded."""
    solver = SOLVERS.get("ofmu")(
        beta=beta, sim=sim if beta > 0 else "none", rho=rho, gamma=1.0, inner_steps=inner_steps,
        eta_in=steps.eta_in, eta_out=steps.eta_out, max_steps=max_steps,
    )  # fmt: skip
    return solver.run(spec.problem(), sampler=sampler, record_iterates=True)


def penalised_at(
    spec: InstanceSpec, iterates: np.ndarray, rho: float, *, beta: float = 0.0, sim: str = "none", grad: bool = False
) -> np.ndarray:
    """F_ρ (or ‖∇F_ρ‖² when ``grad``) at each row of ``iterates``, full batch, exact oracles."""
    ev = Evaluator(spec.problem(), beta=beta, sim=sim if beta > 0 else "none")
    out = np.empty(len(iterates))
    for i, theta in enumerate(iterates):
        if grad:
            g = np.asarray(ev.penalised(theta, rho, FULL).grad_F, dtype=np.float64)
            out[i] = float(g @ g)
        else:
            out[i] = ev.penalised_value(theta, rho, FULL)
    return out


def running_means(iterates: np.ndarray) -> np.ndarray:
    """θ̄_K = (1/K)Σ_{k=1..K} θ_k for K = 1..len−1 (row K−1); θ_0 is excluded."""
    tail = np.asarray(iterates[1:], dtype=np.float64)
    return np.cumsum(tail, axis=0) / np.arange(1, len(tail) + 1)[:, None]


def k_grid(k_max: int, num: int = 25) -> np.ndarray:
    """Distinct integers log-spaced in [1, k_max]."""
    return np.unique(np.round(np.geomspace(1, k_max, num)).astype(np.int64))


def anchored(n: np.ndarray, q: np.ndarray, exponent: float) -> np.ndarray:
    """The claimed rate C·n^(−exponent) with C fitted at the first point of the tail (for drawing)."""
    n = np.asarray(n, dtype=np.float64)
    first = int(np.flatnonzero(n >= np.sqrt(n.min() * n.max()) * (1 - 1e-12))[0])
    return q[first] * (n / n[first]) ** (-exponent)
