"""Mini-batch sampling for the stochastic mode: which rows each oracle evaluation sees.

A sampler is a pure function of the draw index ``i`` (the solver state carries ``i``), so runs
are reproducible and resumable. :class:`MiniBatch` walks an endless stream made of seeded
permutations of the rows ("epochs"); under data parallelism each rank takes its own disjoint
slice of every global batch, so ranks never draw the same samples and the union of the ranks'
batches is exactly the batch a single process with ``world_size × batch`` rows would draw.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np


class Batches(NamedTuple):
    """Row indices for the lower (forget) and upper (retain) objectives; ``None`` = all rows."""

    lower: np.ndarray | None
    upper: np.ndarray | None


class Sampler(ABC):
    """Maps a draw index to the batches of one oracle evaluation."""

    @abstractmethod
    def draw(self, index: int) -> Batches: ...

    def to_dict(self) -> dict[str, object]:
        return {"kind": type(self).__name__}


@dataclass(frozen=True)
class FullBatch(Sampler):
    """Deterministic mode: every evaluation sees all rows."""

    def draw(self, index: int) -> Batches:
        return Batches(None, None)


@lru_cache(maxsize=64)
def _permutation(seed: int, side: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, side, epoch]).permutation(n)


def _stream(seed: int, side: int, n: int, start: int, length: int) -> np.ndarray:
    """Entries [start, start+length) of the concatenation of per-epoch permutations of range(n)."""
    out = np.empty(length, dtype=np.int64)
    pos, filled = start, 0
    while filled < length:
        epoch, offset = divmod(pos, n)
        take = min(n - offset, length - filled)
        out[filled : filled + take] = _permutation(seed, side, epoch, n)[offset : offset + take]
        pos, filled = pos + take, filled + take
    return out


@dataclass(frozen=True, kw_only=True)
class MiniBatch(Sampler):
    """Seeded epoch-wise mini-batches for both levels.

    Attributes:
        n_lower, n_upper: number of rows of the lower (forget) and upper (retain) data (0 allowed
            for a side with ``batch = None``, e.g. a data-free or unused lower objective).
        batch_lower, batch_upper: per-rank batch sizes (``None``: full batch on that side).
        seed: the sampling seed.
        rank, world_size: this process's rank and the number of data-parallel ranks.
    """

    n_lower: int
    n_upper: int
    batch_lower: int | None
    batch_upper: int | None
    seed: int = 0
    rank: int = 0
    world_size: int = 1

    def __post_init__(self) -> None:
        for side in ("lower", "upper"):
            n, batch = getattr(self, f"n_{side}"), getattr(self, f"batch_{side}")
            if batch is not None and batch < 1:
                raise ValueError(f"batch_{side} must be >= 1 or None, got batch_{side}={batch}")
            if batch is not None and n < 1:
                raise ValueError(f"n_{side} must be >= 1 when batch_{side} is set, got n_{side}={n}")
            if n < 0:
                raise ValueError(f"n_{side} must be >= 0, got n_{side}={n}")
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={self.rank}, world_size={self.world_size}")

    def _side(self, side: int, n: int, batch: int | None, index: int, rank: int | None) -> np.ndarray | None:
        if batch is None:
            return None
        global_batch = batch * self.world_size
        start = index * global_batch
        if rank is None:  # the combined batch of all ranks
            return _stream(self.seed, side, n, start, global_batch)
        return _stream(self.seed, side, n, start + rank * batch, batch)

    def draw(self, index: int) -> Batches:
        return Batches(
            self._side(0, self.n_lower, self.batch_lower, index, self.rank),
            self._side(1, self.n_upper, self.batch_upper, index, self.rank),
        )

    def draw_combined(self, index: int) -> Batches:
        """The union over all ranks of draw ``index`` (what one process would see)."""
        return Batches(
            self._side(0, self.n_lower, self.batch_lower, index, None),
            self._side(1, self.n_upper, self.batch_upper, index, None),
        )

    def steps_per_epoch(self) -> int:
        """Draws per pass over the lower (forget) data."""
        if self.batch_lower is None:
            return 1
        return max(1, -(-self.n_lower // (self.batch_lower * self.world_size)))

    def to_dict(self) -> dict[str, object]:
        return {"kind": "MiniBatch", **{k: getattr(self, k) for k in self.__dataclass_fields__}}
