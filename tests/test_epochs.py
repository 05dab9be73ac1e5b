"""Epochs → outer iterations and the step-size schedules over them (ofmu_theory/epochs.py), used by llm/ and vision/."""

from __future__ import annotations

import math

import pytest

from ofmu_theory.epochs import batches_per_epoch, lr_schedule, steps_for, warmup_steps
from ofmu_theory.schedules import ConstantSchedule, Cosine
from ofmu_theory.steps import Scheduled


def test_epochs_to_steps() -> None:
    assert batches_per_epoch(10, 3) == 4 and batches_per_epoch(9, 3) == 3
    assert steps_for(2.5, 4) == 10 and steps_for(0.01, 4) == 1  # at least one step
    assert warmup_steps(1.0, 4, 10) == 4 and warmup_steps(5.0, 4, 10) == 9  # η_k > 0 for every step taken
    with pytest.raises(ValueError, match="epochs must be a finite number > 0"):
        steps_for(0.0, 4)
    with pytest.raises(ValueError, match="n_rows and batch_size must be >= 1"):
        batches_per_epoch(0, 3)


def test_schedules() -> None:
    assert lr_schedule(0.1, steps=7, schedule="constant") == Scheduled(ConstantSchedule(0.1))
    assert lr_schedule(0.1, steps=7) == Scheduled(Cosine(start=0.1, steps=7))
    warm = lr_schedule(0.1, steps=10, warmup=4)
    assert warm == Scheduled(Cosine(start=0.1, steps=6, warmup=4))
    etas = [warm.schedule(k) for k in range(10)]
    assert etas[:4] == pytest.approx([0.02, 0.04, 0.06, 0.08]) and etas[4] == pytest.approx(0.1)
    assert all(e > 0 for e in etas) and math.isclose(warm.schedule(10), 0.0, abs_tol=1e-15)
    with pytest.raises(ValueError, match="schedule must be one of"):
        lr_schedule(0.1, steps=7, schedule="linear")
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        lr_schedule(0.0, steps=7)
    with pytest.raises(ValueError, match="warm-up needs schedule='cosine'"):
        lr_schedule(0.1, steps=7, schedule="constant", warmup=2)
