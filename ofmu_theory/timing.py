"""Oracle timing: how much of a run's wall time the core itself adds over the oracle calls it makes.

``timed(problem)`` returns a copy of the problem whose objectives accumulate the wall time spent
inside their oracles; ``overhead(result, clock)`` relates it to the run's wall time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from ofmu_theory.objectives import Objective
from ofmu_theory.problem import BilevelProblem


@dataclass
class OracleClock:
    """Seconds spent inside oracle calls (mutable accumulator)."""

    seconds: float = 0.0
    calls: int = 0


class TimedObjective(Objective):
    """Delegates every oracle to ``inner`` and adds its wall time to ``clock``."""

    def __init__(self, inner: Objective, clock: OracleClock) -> None:
        self.inner, self.clock = inner, clock
        self.backend, self.n_rows, self.has_third_order = inner.backend, inner.n_rows, inner.has_third_order
        self.reduce = getattr(inner, "reduce", None)

    def _time(self, name: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return getattr(self.inner, name)(*args, **kwargs)
        finally:
            self.clock.seconds += time.perf_counter() - start
            self.clock.calls += 1

    def value(self, theta, batch=None):
        return self._time("value", theta, batch)

    def value_and_grad(self, theta, batch=None, *, create_graph=False):
        return self._time("value_and_grad", theta, batch, create_graph=create_graph)

    def hvp(self, theta, v, batch=None, *, create_graph=False):
        return self._time("hvp", theta, v, batch, create_graph=create_graph)

    def hvp_fwd_rev(self, theta, v, batch=None):
        return self._time("hvp_fwd_rev", theta, v, batch)

    def d3(self, theta, u, v, batch=None):
        return self._time("d3", theta, u, v, batch)


def timed(problem: BilevelProblem) -> tuple[BilevelProblem, OracleClock]:
    """The same problem with timed objectives, and the clock they share."""
    clock = OracleClock()
    return replace(problem, lower=TimedObjective(problem.lower, clock), upper=TimedObjective(problem.upper, clock)), clock
