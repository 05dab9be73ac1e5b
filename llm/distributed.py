"""Data parallelism for the LLM commands: a process group from torchrun's environment, rank-0-only writes.

Under ``torchrun --nproc_per_node=N ofmu llm unlearn ...`` every process runs the same command. The
algorithm side is the core's (``ofmu_theory.distributed``): each rank's objectives are wrapped with
``reduce=mean_across_ranks`` (:mod:`llm.objectives` does it when the world size is > 1), and each rank
builds ``MiniBatch(rank=, world_size=)``, so every rank draws its OWN disjoint forget and retain rows
(the union is one process's batch of ``world × batch`` rows; OpenUnlearning's issue 139 was every rank
drawing the same retain sample). Every value, gradient, Sim and HVP the core sees is the mean over ranks,
identical on every rank, so the iterates stay identical without broadcasting θ.

This module only handles the process plumbing: :func:`init_from_env` (backend ``nccl`` on CUDA,
``gloo`` on CPU), :func:`is_main` (only rank 0 writes files), :func:`barrier`, :func:`file_lock` (the
ranks build a missing prepared entry one at a time: the first builds it, the others find it cached), and
:func:`sum_across_ranks` (the token count that makes the NLL's token mean global, see
:func:`llm.objectives.nll`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from ofmu_theory.distributed import world

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """This process's place: rank, world size, local rank, backend (``"none"`` in a single process), and
    whether :func:`init_from_env` created the process group (``owned``: then :func:`shutdown` ends it)."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    owned: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"rank": self.rank, "world_size": self.world_size, "local_rank": self.local_rank,
                "backend": self.backend}


def env_world_size() -> int:
    """``$WORLD_SIZE`` (set by torchrun), 1 when unset.

    Raises:
        ValueError: a WORLD_SIZE that is not a positive integer.
    """
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        size = int(text)
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be a positive integer, got {text!r}") from None
    if size < 1:
        raise ValueError(f"WORLD_SIZE must be a positive integer, got {text!r}")
    return size


def backend_for(device: torch.device) -> str:
    """``nccl`` for CUDA devices, ``gloo`` otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_from_env(device: torch.device, *, always: bool = False) -> DistInfo:
    """Initialise the default process group from torchrun's environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``) when ``WORLD_SIZE > 1`` and none exists; a no-op otherwise.

    Args:
        device: this rank's device (``cuda:$LOCAL_RANK`` or CPU): decides the backend.
        always: also a group of one rank when torchrun set the environment (a sharded run needs a group
            whatever its size; without torchrun's variables a single process stays without one).
    """
    size = env_world_size()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        rank, size = world()
        return DistInfo(rank, size, local, dist.get_backend())
    launched = all(k in os.environ for k in ("RANK", "MASTER_ADDR", "MASTER_PORT"))
    if size == 1 and not (always and launched and dist.is_available()):
        return DistInfo(0, 1, 0, "none")
    if not dist.is_available():
        raise ValueError(f"WORLD_SIZE={size} but this torch build has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={size} but {missing} are not set: launch with torchrun")
    backend = backend_for(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, init_method="env://")
    rank, size = world()
    logger.info("data parallel: rank %d of %d (%s, %s)", rank, size, backend, device)
    return DistInfo(rank, size, local, backend, owned=True)


def shutdown(info: DistInfo) -> None:
    """Destroy the default process group if :func:`init_from_env` created it (``info.owned``)."""
    if info.owned and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_main() -> bool:
    """True on rank 0 (and in a single process): the only rank that writes files."""
    return world()[0] == 0


def barrier() -> None:
    """Wait for every rank (a no-op in a single process)."""
    if world()[1] > 1:
        dist.barrier()


def sum_across_ranks(x: torch.Tensor) -> torch.Tensor:
    """The sum over ranks of a tensor without gradient (``x`` itself in a single process)."""
    if world()[1] == 1:
        return x
    out = x.detach().clone()
    dist.all_reduce(out)
    return out


@contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive advisory lock (``fcntl.flock``) on ``path`` for the duration (created if missing).

    Used before the process group exists, so that N ranks building the same cached entry do it one at a
    time (the first builds, the rest find it complete). Local file systems only.
    """
    import fcntl  # noqa: PLC0415 - POSIX only

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
