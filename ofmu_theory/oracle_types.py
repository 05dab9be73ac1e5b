"""What the evaluator and the HVP strategies hand each other: the oracle-call counts and one Φ_β point.

They live below both :mod:`ofmu_theory.evaluator` and :mod:`ofmu_theory.hvp` so that neither imports the
other's module for them (the evaluator builds a strategy; a strategy sees the evaluator only through
:class:`ofmu_theory.hvp.Oracles`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ofmu_theory.backends import Scalar, Vec


@dataclass
class CallCounts:
    """Cumulative oracle calls (an accounting object, added to by the evaluator and its HVP strategy)."""

    value: int = 0
    grad: int = 0
    hvp: int = 0
    third: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"n_value": self.value, "n_grad": self.grad, "n_hvp": self.hvp, "n_third": self.third}


class PhiPoint(NamedTuple):
    """Everything known at one evaluation of Φ_β (values are backend scalars)."""

    theta: Vec
    loss_f: Scalar
    loss_r: Scalar | None
    g_f: Vec
    g_r: Vec | None
    cosine: Scalar | None  # signed cosine of (a, g_r), for traces; None when g_r was not needed
    phi: Scalar
    grad_phi: Vec  # full ∇Φ_β (carries an autograd graph when built with create_graph)
    residual: Vec  # R(θ): P∇Φ_β, or the gradient mapping under a constraint (detached)
    graph: bool
    grad_sim: Vec | None = None  # the ∇Sim = c·∇S used in ∇Φ_β, when asked for (``keep_sim``)
    coin: int | None = None  # the randomised estimator's pick (0: H_a p, 1: H_r q; None: both)
    lagged: bool = False  # grad_sim was reused from an earlier evaluation (SimCache)
