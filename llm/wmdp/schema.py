"""WMDP's published layout, checked: multiple-choice rows, MMLU-format utility rows, text corpora.

* WMDP (``cais/wmdp``, configs ``wmdp-bio`` / ``wmdp-chem`` / ``wmdp-cyber``): rows
  ``{"question": str, "choices": [str, str, str, str], "answer": int}``, ``answer`` the index of the
  correct choice.
* MMLU (``cais/mmlu``): the same plus ``"subject": str`` (e.g. ``"high_school_biology"``).
* Corpora (``cais/wmdp-corpora``: ``bio-forget-corpus``, ``cyber-retain-corpus``, ...): records
  ``{"text": str}`` (other keys, e.g. ``title``, are allowed and ignored).

Every check names the file, the row (1-based) and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: WMDP and MMLU questions have four choices (chance 25 %).
N_CHOICES = 4


@dataclass(frozen=True, kw_only=True)
class MCQuestion:
    """One multiple-choice question.

    Attributes:
        question: the question text.
        choices: the four choices.
        answer: the index of the correct choice.
        subject: MMLU's subject, or the WMDP domain (the file's name) for WMDP rows.
    """

    question: str
    choices: tuple[str, ...]
    answer: int
    subject: str

    def to_record(self, *, with_subject: bool) -> dict[str, Any]:
        """The row in WMDP's layout (``with_subject``: MMLU's)."""
        row: dict[str, Any] = {"question": self.question, "choices": list(self.choices), "answer": self.answer}
        return {**row, "subject": self.subject} if with_subject else row


def _where(source: str, row: int) -> str:
    return f"{source}: row {row}"


def check_mc_row(record: Any, *, source: str, row: int, mmlu: bool, domain: str) -> MCQuestion:
    """A validated :class:`MCQuestion` from one raw row.

    Args:
        record: the parsed JSON value.
        source: the file (for messages); ``row``: its 1-based row number.
        mmlu: require ``subject`` (MMLU layout).
        domain: the subject of a WMDP row (its file's name).

    Raises:
        ValueError: a missing or mistyped key, not four choices, an answer index out of range.
    """
    where = _where(source, row)
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: expected an object with question, choices, answer, got {type(record).__name__}")
    keys = ("question", "choices", "answer", "subject") if mmlu else ("question", "choices", "answer")
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing} ({'MMLU' if mmlu else 'WMDP'} rows need {list(keys)})")
    question, choices, answer = record["question"], record["choices"], record["answer"]
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{where}: key 'question' must be a non-empty string, got {question!r}")
    if not isinstance(choices, Sequence) or isinstance(choices, str) or len(choices) != N_CHOICES:
        raise ValueError(f"{where}: key 'choices' must be a list of {N_CHOICES} strings, got {choices!r}")
    bad = [i for i, c in enumerate(choices) if not isinstance(c, str)]
    if bad:
        raise ValueError(f"{where}: key 'choices' must hold strings; choice {bad[0]} is {choices[bad[0]]!r}")
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < N_CHOICES:
        raise ValueError(f"{where}: key 'answer' must be an int index in [0, {N_CHOICES}), got {answer!r}")
    subject = record["subject"] if mmlu else domain
    if not isinstance(subject, str) or not subject:
        raise ValueError(f"{where}: key 'subject' must be a non-empty string, got {subject!r}")
    return MCQuestion(question=question, choices=tuple(choices), answer=int(answer), subject=subject)


def check_text_row(record: Any, *, source: str, row: int) -> str:
    """The ``text`` of one corpus record.

    Raises:
        ValueError: not an object, no ``text`` key, or an empty / non-string text.
    """
    where = _where(source, row)
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: expected an object with key 'text', got {type(record).__name__}")
    if "text" not in record:
        raise ValueError(f"{where}: missing key 'text' (corpus records are {{\"text\": ...}})")
    text = record["text"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: key 'text' must be a non-empty string, got {text!r}")
    return text
