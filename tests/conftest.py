"""Test configuration: deterministic hypothesis profiles and shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("OFMU_PROGRESS", "0")


@pytest.fixture(params=["numpy", "torch"], scope="session")
def backend_name(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both backends."""
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> Iterator[None]:
    """One torch/BLAS thread per test process: the tests' tensors are tiny, and on a shared or
    loaded 2-core machine multi-threaded spin-waiting made tiny autograd calls ~100× slower."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
