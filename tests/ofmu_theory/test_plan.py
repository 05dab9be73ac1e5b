"""run_chunked: a run in chunks, or stopped and resumed from a chunk, equals the uninterrupted run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ofmu_theory import SOLVERS, Adam, MiniBatch
from ofmu_theory.plan import Chunk, Plan, run_chunked
from tests.ofmu_theory.test_distributed import N_F, N_R, _problem

STEPS = 7


def _plan() -> Plan:
    solver = SOLVERS.get("ofmu")(beta=0.2, rho=0.5, inner_steps=2, eta_in=0.05, eta_out=0.05, max_steps=STEPS,
                                 transform_out=Adam())
    sampler = MiniBatch(n_lower=N_F, n_upper=N_R, batch_lower=3, batch_upper=4, seed=5)
    return Plan(problem=_problem(None), solver=solver, sampler=sampler)


def _same(a, b) -> None:
    torch.testing.assert_close(a.theta[0], b.theta[0], rtol=0, atol=0)
    assert (a.nit, a.n_grad, a.n_hvp, a.n_third) == (b.nit, b.n_grad, b.n_hvp, b.n_third)
    for name in ("loss_f", "loss_r", "grad_F_norm", "n_grad"):
        np.testing.assert_array_equal(a.trace[name], b.trace[name], err_msg=name)


def test_chunks_and_resume_equal_one_run() -> None:
    whole = run_chunked(_plan())
    chunks: list[Chunk] = []
    chunked = run_chunked(_plan(), every=3, on_chunk=chunks.append)
    _same(chunked, whole)
    assert [int(c.state.k) for c in chunks] == [3, 6]  # not after the last chunk
    assert chunks[0].trace.n_rows == 3 and chunks[1].counts["n_grad"] > chunks[0].counts["n_grad"]
    resumed = run_chunked(_plan(), every=3, resume=chunks[0])  # as if stopped after step 3
    _same(resumed, whole)
    assert resumed.options["max_steps"] == STEPS


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_bad_chunk_length(every) -> None:
    with pytest.raises(ValueError, match="every must be an int >= 1"):
        run_chunked(_plan(), every=every)


def test_an_interrupted_chunk_hands_its_last_finished_step_to_on_chunk() -> None:
    whole = run_chunked(_plan())
    chunks: list[Chunk] = []

    def interrupt_in_step_5(info) -> None:
        if info.k == 4:  # step 5 has finished: the interrupt arrives before step 6
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_chunked(_plan(), every=3, on_chunk=chunks.append, callback=interrupt_in_step_5)
    assert [int(c.state.k) for c in chunks] == [3, 5]  # the regular chunk, then the interrupted one's last step
    saved = chunks[-1]
    assert saved.trace.n_rows == 5 and saved.counts["n_grad"] > chunks[0].counts["n_grad"]
    np.testing.assert_array_equal(saved.trace["n_grad"], whole.trace["n_grad"][:5])
    _same(run_chunked(_plan(), every=3, resume=saved), whole)
