"""Tiny budgets for the vision tests (digits, small CNN of width 8): every method takes a few core steps."""

from __future__ import annotations

from typing import Any

from vision.methods import METHODS, bench_order
from vision.train import TrainConfig

#: Original / Retrain recipe of the tests.
TINY_TRAIN = TrainConfig(width=8, epochs=4, lr=0.05, batch_size=64)

#: Per-method overrides (the bench's ``overrides``): each method's declared ``test_settings``, Retrain's
#: (its recipe) apart, which the bench does not take.
FAST: dict[str, dict[str, Any]] = {
    name: dict(METHODS.get(name).test_settings) for name in bench_order() if name != "retrain"
}

#: The same as ``--set method.key=value`` flags.
FAST_FLAGS: list[str] = [f"--set={m}.{k}={v}" for m, kv in FAST.items() for k, v in kv.items()]
