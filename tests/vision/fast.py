"""Tiny budgets for the vision tests (digits, small CNN of width 8): every method takes a few core steps."""

from __future__ import annotations

from typing import Any

from vision.train import TrainConfig

#: Original / Retrain recipe of the tests.
TINY_TRAIN = TrainConfig(width=8, epochs=4, lr=0.05, batch_size=64)

#: Per-method overrides (the bench's ``overrides``; Retrain's recipe only for the method itself).
FAST: dict[str, dict[str, Any]] = {
    "ft": {"epochs": 0.5}, "ga": {"epochs": 1.0}, "rl": {"epochs": 0.5}, "l1_sparse": {"epochs": 0.5},
    "salun": {"epochs": 0.5}, "scrub": {"epochs": 2, "max_epochs": 1}, "graddiff": {"epochs": 1.0},
    "blur": {"epochs": 1.0},
    "ofmu": {"max_steps": 4, "inner_steps": 2, "rho": 0.001, "eta_in": 0.01, "eta_out": 0.01, "batch_size": 128},
}

#: The same as ``--set method.key=value`` flags.
FAST_FLAGS: list[str] = [f"--set={m}.{k}={v}" for m, kv in FAST.items() for k, v in kv.items()]
