"""Batched forward passes and greedy generation: the per-item numbers every TOFU metric is built from.

For one (question, answer) pair with scored (label) positions t = 1..T (answer tokens then EOS)
and next-token distribution p_t over the vocabulary, OpenUnlearning computes:

- ``avg_loss`` = (1/T) sum_t -log p_t(y_t), over ALL scored tokens including EOS
  (``evaluate_probability``); ``prob`` = exp(-avg_loss).
- token-wise values over the scored tokens EXCEPT the last one (EOS): ``tokenwise_logprobs`` /
  ``tokenwise_vocab_logprobs`` drop the final label. From these: the target log-probs
  log p_t(y_t) (Min-K%), the standardised log-probs z_t = (log p_t(y_t) - mu_t) / sigma_t with
  mu_t = sum_v p_t(v) log p_t(v) and sigma_t^2 = sum_v p_t(v) log^2 p_t(v) - mu_t^2 clamped at 1e-6
  (Min-K%++; we evaluate sigma_t^2 as sum_v p_t(v) (log p_t(v) - mu_t)^2, the same number without
  float32 cancellation), and argmax hits 1[argmax_v p_t(v) = y_t] (exact memorisation, extraction
  strength).

Log-softmax is taken in float32 whatever the model dtype (bf16 logits would lose precision).

``ou_compat=True`` reproduces two of OpenUnlearning's input quirks: the attention mask is
``input_ids != pad_id`` with pad = EOS when the tokenizer has no pad token (so an EOS inside a prompt is
not attended to), and generation stops on the model's generation-config EOS ids (Llama-3: several) with
the rest of the model's generation config in force, instead of on the tokenizer's EOS alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from llm.prompts import PromptTemplate
from llm.tokenization import IGNORE_INDEX, Encoded, collate, encode_pair, encode_prompt, full_ids, prompt_ids
from ofmu_theory.runinfo import progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class AnswerScores:
    """Per-item statistics of one (question, answer) pair under a model (see the module docstring).

    Attributes:
        avg_loss: mean NLL over all scored tokens, EOS included.
        token_logprobs: (T-1,) log p of each scored token except EOS.
        token_zscores: (T-1,) Min-K%++ standardised log-probs at the same positions.
        token_hits: (T-1,) whether the argmax prediction equals the label there.
        target_text: the scored tokens decoded without special tokens (ZLib's text).
    """

    avg_loss: float
    token_logprobs: np.ndarray
    token_zscores: np.ndarray
    token_hits: np.ndarray
    target_text: str

    @property
    def prob(self) -> float:
        """exp(-avg_loss)."""
        return float(np.exp(-self.avg_loss))


def batch_statistics(logits: torch.Tensor, labels: torch.Tensor) -> list[dict[str, Any]]:
    """Per-row statistics from logits (B, T, V) and labels (B, T), OpenUnlearning's conventions.

    Returns:
        One dict per row with ``avg_loss`` (float) and ``token_logprobs``, ``token_zscores``,
        ``token_hits`` (numpy arrays over the scored positions except the last).
    """
    logp = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)  # (B, T-1, V): predicts token t+1
    targets = labels[:, 1:]  # (B, T-1)
    mask = targets != IGNORE_INDEX
    tok_lp = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    n_scored = (labels != IGNORE_INDEX).sum(-1)  # (B,) counted on unshifted labels, as OpenUnlearning does
    avg_loss = -(tok_lp * mask).sum(-1) / n_scored
    probs = logp.exp()
    live = probs > 0  # 0 log 0 = 0 where a logit is -inf
    mu = torch.where(live, probs * logp, 0.0).sum(-1)  # (B, T-1)
    # sum_v p (log p)^2 - mu^2 in its centred form, which float32 evaluates without cancellation
    var = torch.where(live, probs * (logp - mu.unsqueeze(-1)).square(), 0.0).sum(-1)
    zscores = (tok_lp - mu) / var.clamp(min=1e-6).sqrt()
    hits = logp.argmax(-1) == targets
    rows = []
    for i in range(labels.shape[0]):
        scored = (labels[i] != IGNORE_INDEX).nonzero(as_tuple=True)[0][:-1]  # drop the EOS label
        if scored.numel() and scored[0].item() == 0:
            raise ValueError("the first input token carries a label; the prompt must be at least one token")
        pos = scored - 1  # logits at t-1 predict the label at t
        rows.append({
            "avg_loss": float(avg_loss[i]),
            "token_logprobs": tok_lp[i, pos].double().cpu().numpy(),
            "token_zscores": zscores[i, pos].double().cpu().numpy(),
            "token_hits": hits[i, pos].cpu().numpy(),
        })
    return rows


class ModelScorer:
    """Scores and generates with one model + tokenizer + prompt template, batched and cached.

    The model is put in eval mode for each call (and restored afterwards); nothing tracks gradients.
    Results are cached per (question, answer) text, so metrics sharing items share forward passes.

    Args:
        model: a causal LM (any device / dtype).
        tokenizer: its tokenizer (EOS and pad tokens required).
        template: the prompt template.
        batch_size: items per forward pass / generate call.
        max_length: longest sequence (see :func:`llm.tokenization.encode_pair`).
        overflow: ``"error"`` or ``"truncate"`` for over-long sequences.
        max_new_tokens: generation budget (OpenUnlearning / TOFU: 200).
        show_progress: show tqdm bars.
        ou_compat: OpenUnlearning's attention mask, pad = EOS fallback and generation stop ids (module
            docstring); the metrics read it too (empty answers, see :class:`llm.evaluate.TofuEvalConfig`).
    """

    def __init__(
        self, *, model: Any, tokenizer: Any, template: PromptTemplate, batch_size: int = 16, max_length: int = 512,
        overflow: Literal["error", "truncate"] = "error", max_new_tokens: int = 200, show_progress: bool = True,
        ou_compat: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size=}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens=}")
        if tokenizer.eos_token_id is None or (tokenizer.pad_token_id is None and not ou_compat):
            raise ValueError("tokenizer needs eos and pad tokens (see llm.models.set_pad_token)")
        self.model, self.tokenizer, self.template = model, tokenizer, template
        self.batch_size, self.max_length, self.overflow = batch_size, max_length, overflow
        self.max_new_tokens, self.show_progress, self.ou_compat = max_new_tokens, show_progress, ou_compat
        # OpenUnlearning's get_tokenizer sets pad = eos when the tokenizer has none
        self.pad_token_id: int = tokenizer.eos_token_id if tokenizer.pad_token_id is None else tokenizer.pad_token_id
        self._scores: dict[tuple[str, str], AnswerScores] = {}
        self._generations: dict[str, str] = {}

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live (batches are moved there)."""
        return next(self.model.parameters()).device

    def _batches(self, items: Sequence[Any], desc: str) -> list[Sequence[Any]]:
        chunks = [items[i: i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        return list(progress(chunks, desc=desc, total=len(chunks), enabled=self.show_progress))

    def score(self, questions: Sequence[str], answers: Sequence[str]) -> list[AnswerScores]:
        """Scores of each (question, answer) pair, in order."""
        if len(questions) != len(answers):
            raise ValueError(f"questions and answers differ in length: {len(questions)} != {len(answers)}")
        todo = list(dict.fromkeys(p for p in zip(questions, answers) if p not in self._scores))
        if todo:
            encoded = [encode_pair(self.tokenizer, self.template, q, a, max_length=self.max_length,
                                   overflow=self.overflow) for q, a in todo]
            was_training = self.model.training
            self.model.eval()
            try:
                with torch.no_grad():
                    for pairs in self._batches(list(zip(todo, encoded)), "scoring"):
                        self._score_batch(pairs)
            finally:
                self.model.train(was_training)
        return [self._scores[p] for p in zip(questions, answers)]

    def _score_batch(self, pairs: Sequence[tuple[tuple[str, str], Encoded]]) -> None:
        batch = collate([e for _, e in pairs], pad_token_id=self.pad_token_id, mask_pad_ids=self.ou_compat)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        for (key, enc), row in zip(pairs, batch_statistics(logits, batch["labels"])):
            scored = [t for t in enc.labels if t != IGNORE_INDEX]
            text = self.tokenizer.decode(scored, skip_special_tokens=True)
            self._scores[key] = AnswerScores(target_text=text, **row)

    def reference(self, question: str, answer: str) -> tuple[str, str]:
        """OpenUnlearning's ROUGE input and reference: the decoded prompt, and decode(prompt+answer) with
        the decoded prompt removed, stripped."""
        p_ids = prompt_ids(self.tokenizer, self.template, question)
        ids = full_ids(self.tokenizer, self.template, question, answer)
        prompt_text = self.tokenizer.decode(p_ids, skip_special_tokens=True)
        full_text = self.tokenizer.decode(ids, skip_special_tokens=True)
        return prompt_text, full_text.replace(prompt_text, "").strip()

    def generate(self, questions: Sequence[str]) -> list[str]:
        """Greedy answers (at most ``max_new_tokens``, cut at EOS, stripped), in order."""
        todo = list(dict.fromkeys(q for q in questions if q not in self._generations))
        if todo:
            was_training = self.model.training
            self.model.eval()
            try:
                with torch.no_grad():
                    for chunk in self._batches(todo, "generating"):
                        self._generate_batch(chunk)
            finally:
                self.model.train(was_training)
        return [self._generations[q] for q in questions]

    def _generate_batch(self, questions: Sequence[str]) -> None:
        from transformers import GenerationConfig  # noqa: PLC0415

        encoded = [encode_prompt(self.tokenizer, self.template, q, max_length=self.max_length,
                                 overflow=self.overflow) for q in questions]
        batch = collate(encoded, pad_token_id=self.pad_token_id, padding_side="left", mask_pad_ids=self.ou_compat)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        eos = self.tokenizer.eos_token_id
        if self.ou_compat:  # OpenUnlearning's call: the model's generation config (its stop ids) under these
            out = self.model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                      do_sample=False, top_p=None, temperature=None, use_cache=True,
                                      max_new_tokens=self.max_new_tokens, pad_token_id=eos)
        else:
            config = GenerationConfig(max_new_tokens=self.max_new_tokens, do_sample=False, eos_token_id=eos,
                                      pad_token_id=eos)  # OpenUnlearning pads generations with EOS
            out = self.model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                      generation_config=config)
        texts = self.tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        eos_text = self.tokenizer.decode([eos])
        for question, text in zip(questions, texts):
            if eos_text and eos_text in text:
                text = text.split(eos_text)[0]
            self._generations[question] = text.strip()
