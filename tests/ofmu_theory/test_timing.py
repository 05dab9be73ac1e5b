"""Oracle timing: the clock adds the time spent inside the oracles and counts the calls."""

from __future__ import annotations

import time

from ofmu_theory import SOLVERS
from ofmu_theory.timing import timed
from tests.ofmu_theory.problems import poly_problem


def test_oracle_time_is_counted_within_the_run() -> None:
    problem, clock = timed(poly_problem(0, 3, "numpy"))
    start = time.perf_counter()
    result = SOLVERS.get("grad-penalty")(rho=1.0, eta_out=0.01, max_steps=3).run(problem)
    elapsed = time.perf_counter() - start
    assert clock.calls >= result.n_grad > 0
    assert 0.0 < clock.seconds <= elapsed  # inside the oracles, so within the wall time around the run
