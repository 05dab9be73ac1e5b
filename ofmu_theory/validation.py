"""Argument checks shared by the core, llm/ and vision/: each raises a ValueError that names the argument."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_positive(**values: float) -> None:
    """ValueError naming the first argument that is not a finite number > 0."""
    for name, value in values.items():
        if not (_is_number(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")


def check_nonnegative(**values: float) -> None:
    """ValueError naming the first argument that is not a finite number >= 0."""
    for name, value in values.items():
        if not (_is_number(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {name}={value!r}")


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {name}={value!r}")
