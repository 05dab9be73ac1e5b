"""Shared test utilities: dtype-scaled closeness and Taylor tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.objectives import ArrayObjective, Objective


def default_rtol(dtype: np.dtype | type = np.float64) -> float:
    """rtol = 4·√eps of the dtype (scipy's convention)."""
    return 4.0 * float(np.sqrt(np.finfo(dtype).eps))


def assert_close(actual, expected, *, rtol: float | None = None, atol: float = 0.0, what: str = "") -> None:
    """np.testing.assert_allclose with a dtype-scaled default rtol and a readable message."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    rtol = default_rtol() if rtol is None else rtol
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def taylor_remainders(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    h: np.ndarray,
    df_h: np.ndarray,
    ts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Remainders r(t) = ‖f(x + t h) − f(x) − t·Df(x)[h]‖ on a geometric grid of t."""
    ts = np.geomspace(1e-1, 1e-4, 7) if ts is None else ts
    f0 = np.asarray(f(x), dtype=np.float64)
    rem = np.array([np.linalg.norm(np.asarray(f(x + t * h), dtype=np.float64) - f0 - t * np.asarray(df_h)) for t in ts])
    return ts, rem


def assert_taylor_order2(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    h: np.ndarray,
    df_h: np.ndarray,
    *,
    what: str = "",
) -> None:
    """Check the first-order Taylor remainder is O(t²): its log-log slope is ≈ 2.

    When the remainder is at round-off level for every t (f is affine along h, e.g. the
    gradient of a quadratic), the derivative is exact and the check passes only if the
    remainder is tiny relative to the terms it compares.
    """
    ts, rem = taylor_remainders(f, x, h, df_h)
    scale = 1.0 + np.linalg.norm(np.asarray(f(x), dtype=np.float64)) + np.linalg.norm(df_h)
    floor = 1e-9 * scale
    if np.all(rem < floor):
        return
    keep = rem > floor
    if keep.sum() < 3:
        raise AssertionError(f"{what}: too few remainders above round-off to fit an order: {rem}")
    slope = np.polyfit(np.log(ts[keep]), np.log(rem[keep]), 1)[0]
    if not 1.8 <= slope <= 2.2:
        raise AssertionError(f"{what}: Taylor remainder order {slope:.3f}, expected 2 (remainders {rem})")


# --- numpy views of a family's oracles (convex and non-convex family tests) ------------------------------


def sample(name: str, seed: int = 0, **params: Any) -> Family:
    """A seeded instance of the registered family ``name``."""
    return FAMILIES.get(name).sample(seed=seed, **params)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random unit vector of R^n."""
    v = rng.standard_normal(n)
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class Oracles:
    """value / grad / hvp / d3 of one objective, called with and returning flat float64 numpy arrays."""

    objective: Objective

    def _in(self, x: np.ndarray) -> Any:
        if self.objective.backend.name == "numpy":
            return np.asarray(x, dtype=np.float64)
        import torch

        return (torch.as_tensor(np.asarray(x, dtype=np.float64)),)

    def _out(self, y: Any) -> np.ndarray:
        return self.objective.backend.to_numpy(y) if isinstance(y, tuple) else np.asarray(y, dtype=np.float64)

    @property
    def has_d3(self) -> bool:
        return self.objective.has_third_order

    def value(self, theta: np.ndarray, batch: np.ndarray | None = None) -> float:
        return float(self.objective.value(self._in(theta), batch))

    def grad(self, theta: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        return self._out(self.objective.value_and_grad(self._in(theta), batch)[1])

    def hvp(self, theta: np.ndarray, v: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        return self._out(self.objective.hvp(self._in(theta), self._in(v), batch))

    def d3(self, theta: np.ndarray, u: np.ndarray, v: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        return self._out(self.objective.d3(self._in(theta), self._in(u), self._in(v), batch))

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """Dense symmetric Hessian from n HVPs."""
        h = np.stack([self.hvp(theta, e) for e in np.eye(theta.size)], axis=1)
        return 0.5 * (h + h.T)


def oracles(objective: ArrayObjective, backend: str = "numpy") -> Oracles:
    """The numpy view of ``objective`` evaluated in ``backend``."""
    return Oracles(objective.to(backend))


@contextlib.contextmanager
def gloo_group(rank: int, size: int, port: int):
    """One rank of a CPU process group for a spawned test worker, torn down in step.

    Every rank waits at a barrier before ``destroy_process_group``: a rank that tears its gloo pairs down
    while its peer still holds the connection can abort the peer's process (SIGABRT from gloo's
    transport thread), which fails the test for a reason that has nothing to do with the code under test.
    """
    import os

    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=size)
    torch.set_num_threads(1)
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()


def spawn_ranks(worker: Callable[..., None], size: int, *args: Any) -> None:
    """``mp.spawn(worker, (size, free_port(), *args))`` on ``size`` ranks, once more if a rank died by a signal.

    A rank killed by a signal (gloo's transport aborting during teardown on a loaded machine) says nothing
    about the code under test, so that one case is retried once on a fresh port; an exception raised in a
    worker (a failed assertion, an error in the solver) is never retried.
    """
    import warnings

    import torch.multiprocessing as mp

    for attempt in range(2):
        try:
            mp.spawn(worker, args=(size, free_port(), *args), nprocs=size, join=True)
            return
        except mp.ProcessExitedException as exc:
            if exc.exit_code >= 0 or attempt == 1:
                raise
            warnings.warn(f"rank {exc.error_index} died by {exc.signal_name}; spawning the ranks once more",
                          RuntimeWarning, stacklevel=2)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a two-process gloo group)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
