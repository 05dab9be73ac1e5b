"""The TOFU question-answer record and the checks every split goes through.

A TOFU record (Maini et al. 2024; the public dataset ``locuslab/TOFU``) is a JSON object with
``question`` and ``answer``; the ``*_perturbed`` splits add ``paraphrased_answer``,
``paraphrased_question`` and ``perturbed_answer`` (a list of false answers in the same style:
5 for fictitious authors, 3 options for ``real_authors`` / ``world_facts``). We add an optional
``author_id`` for the generated corpus. Unknown keys (the public dataset carries a few extra
columns in some configs) are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REQUIRED_FIELDS: tuple[str, ...] = ("question", "answer")
PERTURBED_FIELDS: tuple[str, ...] = ("paraphrased_answer", "perturbed_answer", "paraphrased_question")
ALL_FIELDS: tuple[str, ...] = REQUIRED_FIELDS + PERTURBED_FIELDS + ("author_id",)
# Answer-bearing keys a metric may score against (OpenUnlearning's ``answer_key``).
ANSWER_KEYS: tuple[str, ...] = ("answer", "paraphrased_answer", "perturbed_answer")
QUESTION_KEYS: tuple[str, ...] = ("question", "paraphrased_question")


@dataclass(frozen=True, kw_only=True)
class QAItem:
    """One TOFU question-answer pair.

    Attributes:
        question: the question text.
        answer: the true answer.
        paraphrased_answer: the true answer reworded (perturbed splits; ``answer`` for
            real_authors / world_facts, as TOFU does).
        perturbed_answer: false answers in the paraphrased answer's style (5, or 3 options).
        paraphrased_question: the question reworded.
        author_id: index of the fictitious author the item is about, where relevant.
    """

    question: str
    answer: str
    paraphrased_answer: str | None = None
    perturbed_answer: tuple[str, ...] | None = None
    paraphrased_question: str | None = None
    author_id: int | None = None

    def field(self, key: str) -> str | tuple[str, ...]:
        """Return the question/answer field ``key``; a missing one is a ValueError naming it."""
        if key not in QUESTION_KEYS + ANSWER_KEYS:
            raise ValueError(f"key must be one of {QUESTION_KEYS + ANSWER_KEYS}, got {key=!r}")
        value = getattr(self, key)
        if value is None:
            raise ValueError(f"this item has no {key!r} (use a *_perturbed split): {self.question!r}")
        return value

    def to_record(self, fields: Iterable[str] = ALL_FIELDS) -> dict[str, Any]:
        """The item as a TOFU JSON record, in TOFU's key order; absent optional fields are left out."""
        record: dict[str, Any] = {}
        for name in fields:
            if name not in ALL_FIELDS:
                raise ValueError(f"fields must be among {ALL_FIELDS}, got {name!r}")
            value = getattr(self, name)
            if value is not None:
                record[name] = list(value) if isinstance(value, tuple) else value
        return record


def _field_error(index: int, split: str, field: str, problem: str) -> ValueError:
    return ValueError(f"record {index} of split {split!r}: field {field!r} {problem}")


def _check_text(value: Any, index: int, split: str, field: str) -> str:
    if not isinstance(value, str):
        raise _field_error(index, split, field, f"must be a str, got {type(value).__name__}")
    if not value.strip():
        raise _field_error(index, split, field, "must be a non-empty string")
    return value


def _check_options(value: Any, index: int, split: str, n_perturbed: int | None) -> tuple[str, ...]:
    field = "perturbed_answer"
    if not isinstance(value, (list, tuple)):
        raise _field_error(index, split, field, f"must be a list of str, got {type(value).__name__}")
    if not value:
        raise _field_error(index, split, field, "must hold at least one false answer")
    if n_perturbed is not None and len(value) != n_perturbed:
        raise _field_error(index, split, field, f"must hold {n_perturbed} answers, got {len(value)}")
    return tuple(_check_text(v, index, split, f"{field}[{j}]") for j, v in enumerate(value))


def parse_record(
    record: Any, *, index: int, split: str, require: Sequence[str] = REQUIRED_FIELDS,
    n_perturbed: int | None = None,
) -> QAItem:
    """Validate one TOFU record and return it as a :class:`QAItem`.

    Args:
        record: the JSON object.
        index: its position in the split (used in error messages).
        split: the split's name (used in error messages).
        require: fields that must be present (``question`` and ``answer`` always are).
        n_perturbed: the exact number of perturbed answers wanted, or None for any.

    Raises:
        ValueError: naming the record index and the field that is missing or mistyped.
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"record {index} of split {split!r} must be a JSON object, got {type(record).__name__}")
    unknown = [name for name in require if name not in ALL_FIELDS]
    if unknown:
        raise ValueError(f"require must name fields among {ALL_FIELDS}, got {unknown}")
    for name in tuple(REQUIRED_FIELDS) + tuple(require):
        if record.get(name) is None:
            raise _field_error(index, split, name, "is missing")
    values: dict[str, Any] = {}
    for name in ("question", "answer", "paraphrased_answer", "paraphrased_question"):
        if record.get(name) is not None:
            values[name] = _check_text(record[name], index, split, name)
    if record.get("perturbed_answer") is not None:
        values["perturbed_answer"] = _check_options(record["perturbed_answer"], index, split, n_perturbed)
    author = record.get("author_id")
    if author is not None:
        if isinstance(author, bool) or not isinstance(author, int) or author < 0:
            raise _field_error(index, split, "author_id", f"must be a non-negative int, got {author!r}")
        values["author_id"] = author
    return QAItem(**values)


def validate_records(
    records: Any, *, split: str = "split", require: Sequence[str] = REQUIRED_FIELDS,
    n_perturbed: int | None = None,
) -> list[QAItem]:
    """Validate a list of TOFU records; see :func:`parse_record` for the arguments.

    Raises:
        ValueError: if ``records`` is not a list, is empty, or any record is invalid.
    """
    if not isinstance(records, (list, tuple)):
        raise ValueError(f"split {split!r} must be a list of records, got {type(records).__name__}")
    if not records:
        raise ValueError(f"split {split!r} is empty")
    return [
        parse_record(r, index=i, split=split, require=require, n_perturbed=n_perturbed)
        for i, r in enumerate(records)
    ]


def check_disjoint(
    forget: Sequence[QAItem], retain: Sequence[QAItem], *, names: tuple[str, str] = ("forget", "retain")
) -> None:
    """Raise if a question text appears in both splits (a forget item leaking into retain).

    Raises:
        ValueError: listing up to five shared questions with their indices in both splits.
    """
    first = {item.question: i for i, item in enumerate(forget)}
    shared = [(first[item.question], j, item.question) for j, item in enumerate(retain) if item.question in first]
    if shared:
        shown = "; ".join(f"{names[0]}[{i}] == {names[1]}[{j}]: {q!r}" for i, j, q in shared[:5])
        raise ValueError(f"{len(shared)} question(s) appear in both {names[0]} and {names[1]}: {shown}")
