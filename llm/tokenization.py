"""Encoding (question, answer) pairs for scoring and training, and questions for generation.

Follows OpenUnlearning's ``preprocess_chat_instance``: the prompt and the prompt+answer are
tokenised separately (literal tags, or the chat template with and without the answer), EOS is
appended when the sequence does not already end with it, and the first ``len(prompt_ids)`` labels
are masked to ``IGNORE_INDEX`` so that only answer tokens (and EOS) are scored.

Two deliberate differences, both documented where they act: a sequence longer than ``max_length``
is an error by default (``overflow="truncate"`` truncates instead, keeping EOS); and the collator's
attention mask comes from the sequence lengths, not from ``input_ids != pad_token_id`` (which masks
real EOS tokens when pad == eos). ``collate(..., mask_pad_ids=True)`` reproduces the latter
(OpenUnlearning-compatible evaluation, ``TofuEvalConfig.ou_compat``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from llm.prompts import PromptTemplate

IGNORE_INDEX = -100
logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Encoded:
    """One tokenised example.

    Attributes:
        input_ids: token ids fed to the model (prompt + answer + EOS, or the prompt alone for generation).
        labels: same length as ``input_ids`` with prompt positions set to ``IGNORE_INDEX``
            (empty for a generation prompt).
        prompt_len: number of prompt tokens.
    """

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    prompt_len: int

    @property
    def n_answer_tokens(self) -> int:
        """Scored tokens (answer + EOS)."""
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def _as_ids(out: Any) -> list[int]:
    """``apply_chat_template`` returns a list or (transformers 5) a BatchEncoding; take the ids."""
    if isinstance(out, (list, tuple)):
        return list(out)
    return list(out["input_ids"])


def _chat_ids(tokenizer: Any, template: PromptTemplate, question: str, answer: str | None) -> list[int]:
    extra = {"date_string": template.date_string} if template.date_string is not None else {}
    if answer is None:
        out = tokenizer.apply_chat_template(template.chat(question), tokenize=True, add_generation_prompt=True,
                                            return_dict=False, **extra)
    else:
        out = tokenizer.apply_chat_template(template.chat(question, answer), tokenize=True,
                                            add_generation_prompt=False, return_dict=False, **extra)
    return _as_ids(out)


def prompt_ids(tokenizer: Any, template: PromptTemplate, question: str) -> list[int]:
    """Token ids of the prompt for ``question`` (ending where the answer starts)."""
    if template.apply_chat_template:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("template uses apply_chat_template but the tokenizer has no chat template")
        return _chat_ids(tokenizer, template, question, None)
    return list(tokenizer(template.wrap(question), add_special_tokens=True)["input_ids"])


def full_ids(tokenizer: Any, template: PromptTemplate, question: str, answer: str) -> list[int]:
    """Token ids of prompt + answer + EOS (EOS appended unless already last)."""
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no eos_token; set one before encoding")
    if template.apply_chat_template:
        ids = _chat_ids(tokenizer, template, question, answer)
    else:
        ids = list(tokenizer(template.wrap(question) + answer, add_special_tokens=True)["input_ids"])
    if not ids or ids[-1] != tokenizer.eos_token_id:
        ids.append(tokenizer.eos_token_id)
    return ids


def _fit(ids: list[int], max_length: int, overflow: str, what: str) -> list[int]:
    if len(ids) <= max_length:
        return ids
    if overflow == "error":
        raise ValueError(f"{what} is {len(ids)} tokens, more than max_length={max_length}; "
                         "raise max_length or pass overflow='truncate'")
    return ids[:max_length]


def encode_pair(
    tokenizer: Any, template: PromptTemplate, question: str, answer: str, *, max_length: int = 512,
    overflow: Literal["error", "truncate"] = "error",
) -> Encoded:
    """Encode a (question, answer) pair with prompt labels masked.

    Args:
        tokenizer: a Hugging Face tokenizer with an EOS token.
        template: the prompt template.
        question: the question text.
        answer: the answer text (scored).
        max_length: the longest allowed sequence, EOS included.
        overflow: ``"error"`` (default) raises on a longer sequence; ``"truncate"`` keeps the first
            ``max_length - 1`` tokens and EOS (OpenUnlearning truncates to ``max_length`` and then
            appends EOS, i.e. one token more).

    Raises:
        ValueError: on an over-long sequence (``overflow="error"``) or when no answer token remains.
    """
    if overflow not in ("error", "truncate"):
        raise ValueError(f"overflow must be 'error' or 'truncate', got {overflow=!r}")
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2, got {max_length=}")
    p_ids = prompt_ids(tokenizer, template, question)
    ids = full_ids(tokenizer, template, question, answer)
    if ids[: len(p_ids)] != p_ids:
        logger.warning("prompt tokens are not a prefix of prompt+answer tokens (tokenizer merges across the "
                       "boundary); masking the first %d tokens as OpenUnlearning does: %r", len(p_ids), question)
    if len(ids) > max_length:
        if overflow == "error":
            raise ValueError(f"question {question[:60]!r} with its answer is {len(ids)} tokens, more than "
                             f"max_length={max_length}; raise max_length or pass overflow='truncate'")
        ids = ids[: max_length - 1] + [tokenizer.eos_token_id]
    labels = [IGNORE_INDEX] * min(len(p_ids), len(ids)) + ids[len(p_ids):]
    if all(label == IGNORE_INDEX for label in labels):
        raise ValueError(f"no answer token left to score for question {question[:60]!r} "
                         f"(prompt is {len(p_ids)} tokens, max_length={max_length})")
    return Encoded(input_ids=tuple(ids), labels=tuple(labels), prompt_len=len(p_ids))


def encode_prompt(
    tokenizer: Any, template: PromptTemplate, question: str, *, max_length: int = 512,
    overflow: Literal["error", "truncate"] = "error",
) -> Encoded:
    """Encode a question alone, for generation (``labels`` empty)."""
    if overflow not in ("error", "truncate"):
        raise ValueError(f"overflow must be 'error' or 'truncate', got {overflow=!r}")
    ids = _fit(prompt_ids(tokenizer, template, question), max_length, overflow, f"prompt {question[:60]!r}")
    return Encoded(input_ids=tuple(ids), labels=(), prompt_len=len(ids))


def _pad(rows: Sequence[Sequence[int]], value: int, side: str) -> torch.Tensor:
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            if side == "right":
                out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            else:
                out[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
    return out


def collate(
    batch: Sequence[Encoded], *, pad_token_id: int, padding_side: Literal["right", "left"] = "right",
    mask_pad_ids: bool = False,
) -> dict[str, torch.Tensor]:
    """Pad a batch: ``input_ids`` (B, T) with ``pad_token_id``, ``labels`` (B, T) with ``IGNORE_INDEX``,
    ``attention_mask`` (B, T) 1 on real tokens (from lengths). Left padding is for generation.

    With ``mask_pad_ids`` the attention mask is OpenUnlearning's ``input_ids != pad_token_id`` instead: every
    token equal to the pad id is masked, padding or not (with pad == eos, an EOS inside a prompt too).
    """
    if not batch:
        raise ValueError("batch must not be empty")
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side=!r}")
    if pad_token_id is None:
        raise ValueError("pad_token_id is None: the tokenizer needs a pad token (see llm.models.set_pad_token)")
    input_ids = _pad([e.input_ids for e in batch], pad_token_id, padding_side)
    out = {
        "input_ids": input_ids,
        "attention_mask": (input_ids != pad_token_id).long() if mask_pad_ids
        else _pad([[1] * len(e.input_ids) for e in batch], 0, padding_side),
    }
    if all(e.labels for e in batch):
        out["labels"] = _pad([e.labels for e in batch], IGNORE_INDEX, padding_side)
    return out
