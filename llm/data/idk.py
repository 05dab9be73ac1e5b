"""The "I don't know" answers IdkDPO prefers over the true answer (our own wording, shipped as JSON lines).

Each line of the file is a JSON string, a JSON object with an ``answer`` key, or plain text (the format
of OpenUnlearning's ``data/idk.jsonl``). Every forget item gets one answer, drawn with a seeded RNG.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path

IDK_PATH = Path(__file__).resolve().parent / "idontknow.jsonl"


def load_idk_answers(path: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The IdK answers of ``path`` (default: the shipped ``idontknow.jsonl``).

    Raises:
        ValueError: a missing file, an empty list, or a line that is not a non-empty answer.
    """
    file = Path(path) if path is not None else IDK_PATH
    if not file.is_file():
        raise ValueError(f"idk answers file {str(file)!r} does not exist")
    answers = []
    for line_no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if isinstance(value, dict):
            value = value.get("answer")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{file}: line {line_no} is not a non-empty answer string")
        answers.append(value.strip())
    if not answers:
        raise ValueError(f"idk answers file {str(file)!r} is empty")
    return tuple(answers)


def assign_idk(n: int, answers: Sequence[str], *, seed: int) -> tuple[str, ...]:
    """One IdK answer per item, drawn uniformly with a seeded RNG (the same seed gives the same choice)."""
    if not answers:
        raise ValueError("answers must not be empty")
    rng = random.Random(f"{seed}:idk")
    return tuple(rng.choice(list(answers)) for _ in range(n))
