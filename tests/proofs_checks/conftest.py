"""Fixtures of the claim tests: a tiny profile."""

from __future__ import annotations

import pytest

from proofs_checks.profiles import Profile

TINY = Profile(
    name="tiny",
    seeds=1,
    rho_range=(-1, 5, 2),
    k_max=128,
    t_grid=(1, 2, 4, 8, 16, 32, 64),
    batch_grid=(1, 2, 4, 8),
    noise_draws=4,
    eq35_steps=40,
    inner_steps=20,
    calibration_steps=256,
    vpbgd_gammas=(1.0, 3.0, 10.0, 30.0),
    leaderboard_calls=1000,
    leaderboard_eps=1e-2,
    path_points=9,
    search_calls=3,
    search_per_claim=1,
    search_fraction=0.5,
    k_sweep_max=32,
    control_steps=256,
)
"""Smaller sweeps than "quick" (family sizes fall back to the quick presets)."""


@pytest.fixture(scope="session")
def tiny() -> Profile:
    return TINY
