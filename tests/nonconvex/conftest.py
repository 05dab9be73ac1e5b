"""The non-convex families are tiny (≤ ~100 parameters): run them single-threaded.

With 2 torch/OpenBLAS threads on a loaded 2-core machine, spin-waiting made the torch Taylor
tests ~30× slower (29 s vs 1 s for one family); one thread is never slower at these sizes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_thread(_torch_threads: None) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    torch.set_num_threads(before)
