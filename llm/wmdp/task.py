"""Text corpora as unlearning data: WMDP's forget and retain corpora are plain text, not QA pairs.

A text record becomes one row whose every token is scored (``labels = input_ids``, EOS appended), so the
existing methods run on it unchanged: the NLL, NPO and SimNPO forget losses are over the record's tokens,
RMU steers the chosen layer's activations at every token of a forget record and matches the reference
activations at every token of a retain record (the WMDP recipe, Li et al. 2024), and OFMU's two levels are the
forget and retain corpora. :func:`build_text_task` is :func:`llm.unlearn.build_task` with text rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from llm.methods import Method, UnlearnTask
from llm.objectives import TokenRows
from llm.tokenization import Encoded
from llm.unlearn import RunSettings, working_copy
from ofmu_theory.distributed import world


def encode_text(tokenizer: Any, text: str, *, max_length: int, overflow: str = "error") -> Encoded:
    """One text record as a fully scored row (tokens + EOS; ``overflow="truncate"`` keeps the first
    ``max_length - 1`` tokens and EOS, as :func:`llm.tokenization.encode_pair` does).

    Raises:
        ValueError: a tokenizer without EOS, or a record longer than ``max_length`` with ``overflow="error"``.
    """
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no eos_token; set one before encoding")
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
    if len(ids) > max_length:
        if overflow != "truncate":
            raise ValueError(f"text record {text[:60]!r} is {len(ids)} tokens, more than max_length={max_length}; "
                             "raise max_length or truncate (overflow='truncate', --truncate)")
        ids = ids[: max_length - 1] + [tokenizer.eos_token_id]
    return Encoded(input_ids=tuple(ids), labels=tuple(ids), prompt_len=0)


def text_rows(tokenizer: Any, texts: Sequence[str], *, name: str, max_length: int, overflow: str = "error") -> TokenRows:
    """:class:`TokenRows` of text records (every token scored)."""
    if not texts:
        raise ValueError(f"the {name} corpus is empty")
    rows = tuple(encode_text(tokenizer, t, max_length=max_length, overflow=overflow) for t in texts)
    return TokenRows(name=name, rows=rows, pad_token_id=tokenizer.pad_token_id)


def build_text_task(method: Method, *, model: nn.Module, tokenizer: Any, forget_texts: Sequence[str],
                    retain_texts: Sequence[str], settings: RunSettings) -> UnlearnTask:
    """The :class:`~llm.methods.UnlearnTask` of ``method`` on text corpora (``forget_items`` is empty: a method
    that needs QA items, IdkDPO, does not apply).

    Raises:
        ValueError: an empty corpus, a record in both corpora, or what :func:`llm.unlearn.working_copy` raises.
    """
    shared = set(forget_texts) & set(retain_texts)
    if shared:
        raise ValueError(f"{len(shared)} record(s) are in both the forget and the retain corpus, e.g. "
                         f"{next(iter(shared))[:60]!r}")
    encode = dict(max_length=settings.max_length, overflow=settings.overflow)
    forget = text_rows(tokenizer, forget_texts, name="forget", **encode)
    retain = text_rows(tokenizer, retain_texts, name="retain", **encode)
    work, params, runtime, make_reference = working_copy(method, model=model, tokenizer=tokenizer, settings=settings)
    rank, size = world()
    return UnlearnTask(model=work, params=params, tokenizer=tokenizer, make_reference=make_reference, forget_items=(),
                       forget=forget, retain=retain,
                       template=None, max_length=settings.max_length, seed=settings.seed, rank=rank, world_size=size,
                       runtime=runtime)
