"""ROUGE of greedy generations against the answer (OpenUnlearning's ``rouge`` / ``eval_text_similarity``).

For each item the model generates greedily from the prompt (at most ``max_new_tokens``, 200 in
TOFU), the text is cut at EOS and stripped; the reference is the decoded answer. Scores come from
``rouge_score.RougeScorer(["rouge1", "rougeL"], use_stemmer=True).score(reference, generation)``:
per item ``rouge1_recall``, ``rougeL_f1``, ``rougeL_recall`` (plus the input, reference and
generation texts); the aggregate is the mean of ``rouge_type`` (TOFU reports ``rougeL_recall``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from llm.data.schema import QAItem
from llm.metrics.base import MetricResult, metric
from llm.metrics.scoring import ModelScorer

ROUGE_TYPES: tuple[str, ...] = ("rouge1_recall", "rougeL_f1", "rougeL_recall")


def _scorer() -> Any:
    try:
        from rouge_score import rouge_scorer  # noqa: PLC0415 - optional 'llm' extra
    except ImportError:
        raise ValueError("ROUGE needs the rouge-score package: pip install rouge-score") from None
    logging.getLogger("absl").setLevel(logging.WARNING)
    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)


def rouge_scores(generations: Sequence[str], references: Sequence[str]) -> list[dict[str, float]]:
    """Per pair ``{"rouge1_recall", "rougeL_f1", "rougeL_recall"}`` of ``score(reference, generation)``."""
    if len(generations) != len(references):
        raise ValueError(f"generations and references differ in length: {len(generations)} != {len(references)}")
    scorer = _scorer()
    out = []
    for gen, ref in zip(generations, references):
        s = scorer.score(ref, gen)
        out.append({"rouge1_recall": s["rouge1"].recall, "rougeL_f1": s["rougeL"].fmeasure,
                    "rougeL_recall": s["rougeL"].recall})
    return out


@metric("rouge", needs=("scorer", "items"))
def rouge(
    *, scorer: ModelScorer, items: Sequence[QAItem], answer_key: str = "answer", question_key: str = "question",
    rouge_type: str = "rougeL_recall",
) -> MetricResult:
    """ROUGE of greedy answers to ``question_key`` against ``answer_key``; aggregate = mean ``rouge_type``."""
    if rouge_type not in ROUGE_TYPES:
        raise ValueError(f"rouge_type must be one of {ROUGE_TYPES}, got {rouge_type=!r}")
    if not items:
        raise ValueError("items must not be empty")
    questions = [item.field(question_key) for item in items]
    answers = [item.field(answer_key) for item in items]
    if any(not isinstance(a, str) for a in answers):
        raise ValueError(f"answer_key must name a single answer, got {answer_key!r}")
    inputs, references = zip(*(scorer.reference(q, a) for q, a in zip(questions, answers)))
    generations = scorer.generate(questions)
    scores = rouge_scores(generations, references)
    by_index = {i: {**s, "input": inp, "ground_truth": ref, "generation": gen}
                for i, (inp, ref, gen, s) in enumerate(zip(inputs, references, generations, scores))}
    values = np.array([v[rouge_type] for v in by_index.values()])
    return MetricResult(agg_value=float(np.mean(values)), value_by_index=by_index)
