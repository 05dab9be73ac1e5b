"""Epochs → outer iterations, and the step sizes over them: the one translation both domains use.

An epoch is one pass over a data set in batches (the LLM methods: D_f per rank,
:meth:`~ofmu_theory.sampler.MiniBatch.steps_per_epoch`; the vision methods: the set each one names,
:func:`batches_per_epoch`), so K = max(1, round(epochs × steps per epoch)) (:func:`steps_for`). η_k is the peak
η held constant, or cosine-decayed to 0 over the K steps after an optional linear warm-up (:func:`lr_schedule`).
"""

from __future__ import annotations

import math

from ofmu_theory.schedules import ConstantSchedule, Cosine
from ofmu_theory.steps import Scheduled, StepRule
from ofmu_theory.validation import check_choice, check_positive

#: The step-size schedules :func:`lr_schedule` offers.
SCHEDULES: tuple[str, ...] = ("cosine", "constant")


def batches_per_epoch(n_rows: int, batch_size: int) -> int:
    """⌈n_rows / batch_size⌉: the batches of one pass over ``n_rows`` rows.

    Raises:
        ValueError: ``n_rows`` or ``batch_size`` below 1.
    """
    if n_rows < 1 or batch_size < 1:
        raise ValueError(f"n_rows and batch_size must be >= 1, got {n_rows=}, {batch_size=}")
    return math.ceil(n_rows / batch_size)


def steps_for(epochs: float, steps_per_epoch: int) -> int:
    """K = round(epochs × steps_per_epoch), at least 1 (``epochs`` may be fractional).

    Raises:
        ValueError: ``epochs`` not a finite number > 0.
    """
    check_positive(epochs=epochs)
    return max(1, round(epochs * steps_per_epoch))


def warmup_steps(warmup_epochs: float, steps_per_epoch: int, steps: int) -> int:
    """round(warmup_epochs × steps_per_epoch), capped at ``steps`` − 1 (η_k > 0 for every step taken)."""
    return min(round(warmup_epochs * steps_per_epoch), steps - 1)


def lr_schedule(lr: float, *, steps: int, schedule: str = "cosine", warmup: int = 0) -> StepRule:
    """η_k over ``steps`` outer iterations: ``"constant"`` ``lr``, or ``"cosine"`` from ``lr`` to 0 (torch's
    CosineAnnealingLR) over the ``steps − warmup`` steps after ``warmup`` linear warm-up steps.

    Raises:
        ValueError: an unknown ``schedule``, ``lr`` not a finite number > 0, or a warm-up with ``"constant"``.
    """
    check_choice("schedule", schedule, SCHEDULES)
    check_positive(lr=lr)
    if schedule == "constant":
        if warmup:
            raise ValueError(f"a warm-up needs schedule='cosine', got schedule='constant' with warmup={warmup}")
        return Scheduled(ConstantSchedule(lr))
    # Cosine reaches 0 at its step count; the last step taken comes before it (> 0 for steps >= 1).
    return Scheduled(Cosine(start=lr, steps=max(1, steps - warmup), warmup=warmup))
