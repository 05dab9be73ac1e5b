"""Data parallel (2 processes, gloo on CPU) equals one process on the combined batch."""

from __future__ import annotations


import numpy as np
import torch

from ofmu_theory import SOLVERS, BilevelProblem, MiniBatch, TorchObjective
from ofmu_theory.distributed import mean_across_ranks, world
from tests.support import gloo_group, spawn_ranks

N_F, N_R, BATCH, STEPS = 24, 40, 3, 4


def _problem(reduce) -> BilevelProblem:
    g = torch.Generator().manual_seed(0)
    Xf, yf = torch.randn(N_F, 5, generator=g, dtype=torch.float64), torch.randn(N_F, generator=g, dtype=torch.float64)
    Xr, yr = torch.randn(N_R, 5, generator=g, dtype=torch.float64), torch.randn(N_R, generator=g, dtype=torch.float64)

    def forget(params, rows):  # maximised: a bounded, non-quadratic forget objective
        w = params[0]
        return -torch.log1p((Xf[rows] @ w - yf[rows]) ** 2).mean()

    def retain(params, rows):
        w = params[0]
        return 0.5 * ((torch.tanh(Xr[rows] @ w) - yr[rows]) ** 2).mean() + 0.01 * (w**2).sum()

    theta0 = (torch.linspace(-0.5, 0.5, 5, dtype=torch.float64),)
    return BilevelProblem(
        name="ddp", lower=TorchObjective(forget, n_rows=N_F, reduce=reduce),
        upper=TorchObjective(retain, n_rows=N_R, reduce=reduce), theta0=theta0,
    )


def _solver(hvp: str):
    return SOLVERS.get("ofmu")(beta=0.2, rho=0.5, inner_steps=2, eta_in=0.05, eta_out=0.05, max_steps=STEPS, hvp=hvp)


STRATEGIES = {
    "exact": 1e-12,
    "fwd_rev": 1e-12,
    # Nested central differences divide by h² ~ 4e-11: the reduction's different summation order
    # (~1e-16) becomes ~1e-8 in the iterates after a few steps.
    "fd": 1e-6,
}


def _worker(rank: int, size: int, port: int, out: str) -> None:
    with gloo_group(rank, size, port):
        r, w = world()
        sampler = MiniBatch(n_lower=N_F, n_upper=N_R, batch_lower=BATCH, batch_upper=BATCH, seed=7, rank=r, world_size=w)
        for hvp in STRATEGIES:
            res = _solver(hvp).run(_problem(mean_across_ranks), sampler=sampler)
            np.save(f"{out}-{hvp}-{rank}.npy", res.theta[0].numpy())


def test_two_ranks_match_one_process_on_the_combined_batch(tmp_path) -> None:
    """For each HVP strategy: every rank holds the same iterate, equal to one process's on the union batch."""
    out = str(tmp_path / "theta")
    spawn_ranks(_worker, 2, out)
    combined = MiniBatch(n_lower=N_F, n_upper=N_R, batch_lower=2 * BATCH, batch_upper=2 * BATCH, seed=7)
    for hvp, rtol in STRATEGIES.items():
        single = _solver(hvp).run(_problem(None), sampler=combined)
        rank0, rank1 = np.load(f"{out}-{hvp}-0.npy"), np.load(f"{out}-{hvp}-1.npy")
        np.testing.assert_array_equal(rank0, rank1, err_msg=hvp)
        np.testing.assert_allclose(rank0, single.theta[0].numpy(), rtol=rtol, atol=rtol, err_msg=hvp)
