"""Peak memory of a block of work: ``torch.cuda.max_memory_allocated`` on GPU, sampled RSS on CPU.

On CPU, tensors live outside Python's allocator (``tracemalloc`` does not see them) and
``getrusage().ru_maxrss`` is the process's lifetime peak (a delta is 0 once an earlier phase peaked
higher), so :class:`PeakMemory` samples the resident set size from ``/proc/self/statm`` in a
background thread (every ``interval`` seconds) and reports the peak above the level at entry, after
returning freed heap to the OS (``malloc_trim``) so that memory an earlier phase freed does not hide
this one's growth. Allocations shorter than the sampling interval can be missed. Where ``/proc`` is
absent it falls back to the ``ru_maxrss`` delta.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from types import TracebackType
from typing import Any

import torch

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _release_free_heap() -> None:
    """Return freed heap pages to the OS (glibc ``malloc_trim``) so the baseline RSS is not inflated by
    memory an earlier phase freed; a no-op where it is unavailable."""
    try:
        import ctypes  # noqa: PLC0415

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _maxrss_bytes() -> int:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


class PeakMemory:
    """Context manager measuring the peak memory above the level at entry, in MiB (``.peak_mib``).

    Args:
        device: ``"cuda"`` measures the CUDA allocator's peak; anything else samples the process RSS.
        interval: RSS sampling period in seconds.
    """

    def __init__(self, device: str | torch.device = "cpu", *, interval: float = 0.02) -> None:
        self.cuda = torch.device(device).type == "cuda"
        self.interval = interval
        self.peak_mib = float("nan")
        self.method = "cuda.max_memory_allocated" if self.cuda else "rss sampling"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._base = 0
        self._peak = 0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_bytes()
            if rss is not None and rss > self._peak:
                self._peak = rss

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            return self
        import gc  # noqa: PLC0415

        gc.collect()
        _release_free_heap()
        rss = _rss_bytes()
        if rss is None:
            self.method = "ru_maxrss delta"
            self._base = _maxrss_bytes()
            return self
        self._base = self._peak = rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self.peak_mib = (torch.cuda.max_memory_allocated() - self._base) / 2**20
            return
        if self._thread is None:
            self.peak_mib = max(0, _maxrss_bytes() - self._base) / 2**20
            return
        self._stop.set()
        self._thread.join()
        rss = _rss_bytes()
        if rss is not None:
            self._peak = max(self._peak, rss)
        self.peak_mib = max(0, self._peak - self._base) / 2**20

    def to_dict(self) -> dict[str, Any]:
        return {"peak_mib": self.peak_mib, "method": self.method}
