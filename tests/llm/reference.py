"""Independent re-implementations used as test oracles: plain numpy from the formulas, one item at a time."""

from __future__ import annotations

import numpy as np
import torch


def log_softmax(logits: np.ndarray) -> np.ndarray:
    m = logits.max(-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))


def item_stats(model, tokenizer, template, question: str, answer: str) -> dict:
    """avg_loss over answer + EOS; token log-probs, z-scores and argmax hits over the answer (EOS excluded)."""
    prompt = tokenizer(template.wrap(question))["input_ids"]
    ids = prompt + tokenizer(answer)["input_ids"] + [tokenizer.eos_token_id]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double().numpy()
    logp = log_softmax(logits)
    steps = range(len(prompt) - 1, len(ids) - 1)  # logits at t predict ids[t + 1]
    lp = np.array([logp[t, ids[t + 1]] for t in steps])
    token = list(steps)[:-1]
    p = np.exp(logp[token])
    mu = (p * logp[token]).sum(-1)
    var = (p * logp[token] ** 2).sum(-1) - mu**2
    return {
        "avg_loss": -lp.mean(),
        "token_logprobs": lp[:-1],
        "token_zscores": (lp[:-1] - mu) / np.sqrt(np.maximum(var, 1e-6)),
        "token_hits": np.array([logp[t].argmax() == ids[t + 1] for t in token]),
    }


def greedy(model, tokenizer, template, question: str, max_new_tokens: int) -> str:
    """Greedy decoding one token at a time, stopped at EOS."""
    ids = tokenizer(template.wrap(question))["input_ids"]
    out = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            nxt = int(model(torch.tensor([ids + out])).logits[0, -1].argmax())
            if nxt == tokenizer.eos_token_id:
                break
            out.append(nxt)
    return tokenizer.decode(out, skip_special_tokens=True).strip()


def auc_mann_whitney(negatives, positives) -> float:
    """P(score of a positive > score of a negative) + 0.5 P(tie)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]
