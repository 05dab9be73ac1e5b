"""Profiles: how much work ``ofmu verify`` does (``quick``: ≤ 3 min on 2 cores; ``full``: wider sweeps).

Every sweep size lives here, so a profile is the complete description of an experiment's
budget; the claims compute their grids from these numbers and record them in results.json.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ofmu_theory.registry import Registry


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Sweep sizes of one verification profile.

    Attributes:
        name: "quick" or "full".
        seeds: instances per family (seeds ``seed``, ``seed + 1``, ...).
        rho_range: C1's ρ sweep, (log10 ρ_min, log10 ρ_max, points per decade).
        k_max: horizon K of the rate sweeps (C2, C3).
        t_grid: inner-step counts T of C2 and C3 (geometric); the largest is "T large".
        batch_grid: mini-batch sizes of C3's noise sweep (``None`` = full batch).
        noise_draws: draws used to estimate the gradient-noise variance σ².
        eq35_steps: outer steps of C4's runs.
        inner_steps: inner steps T of C5's decorrelation runs.
        calibration_steps: horizon of C6's calibration runs.
        vpbgd_gammas: C6's penalty constants γ for V-PBGD.
        leaderboard_calls: oracle-call budget (grad + HVP + third order) of every solver in C7.
        leaderboard_eps: C7's accuracy ε.
        path_points: points of A1's path toward the lower-level solution set.
        search_calls: experiment runs one counterexample search may spend.
        search_per_claim: violated instances per claim that get a search (the others report themselves).
        search_fraction: the search runs the experiment with horizons scaled by this fraction.
        k_sweep_max: largest horizon of the K-sweeps with T = T(K) = K (C2, C3, B1); the floor
            sweeps against T run at ``k_max``.
        control_steps: horizon of the checker's controls (Nesterov's quadratic gets d = 2K + 1).
    """

    name: str
    seeds: int
    rho_range: tuple[int, int, int]
    k_max: int
    t_grid: tuple[int, ...]
    batch_grid: tuple[int, ...]
    noise_draws: int
    eq35_steps: int
    inner_steps: int
    calibration_steps: int
    vpbgd_gammas: tuple[float, ...]
    leaderboard_calls: int
    leaderboard_eps: float
    path_points: int
    search_calls: int
    search_per_claim: int
    search_fraction: float
    k_sweep_max: int = 128
    control_steps: int = 1024

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def horizon(self, k: int, *, search: bool) -> int:
        """A horizon k, scaled down for counterexample searches (at least 16)."""
        return max(16, int(round(k * self.search_fraction))) if search else k


PROFILES: Registry[Profile] = Registry("profile")

PROFILES.register("quick", summary="one instance per family, short sweeps: about 3 min on 2 cores (docs/verify-report)")(
    Profile(
        name="quick",
        seeds=1,
        rho_range=(-1, 5, 3),
        k_max=256,
        t_grid=(1, 2, 4, 8, 16, 32, 64),
        batch_grid=(1, 2, 3, 4, 6, 8),
        noise_draws=16,
        eq35_steps=150,
        inner_steps=40,
        calibration_steps=1024,
        vpbgd_gammas=(1.0, 3.0, 10.0, 30.0, 100.0),
        leaderboard_calls=3000,
        leaderboard_eps=1e-3,
        path_points=13,
        search_calls=6,
        search_per_claim=1,
        search_fraction=0.5,
        k_sweep_max=128,
        control_steps=1024,
    )
)

PROFILES.register("full", summary="more instances per family, longer horizons and wider sweeps")(
    Profile(
        name="full",
        seeds=3,
        rho_range=(-2, 6, 4),
        k_max=4096,
        t_grid=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        batch_grid=(1, 2, 4, 8, 16, 32),
        noise_draws=64,
        eq35_steps=600,
        inner_steps=200,
        calibration_steps=8192,
        vpbgd_gammas=(1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
        leaderboard_calls=30000,
        leaderboard_eps=1e-4,
        path_points=25,
        search_calls=40,
        search_per_claim=100,
        search_fraction=0.5,
        k_sweep_max=512,
        control_steps=4096,
    )
)
