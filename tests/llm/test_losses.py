"""The pure losses against hand-written, one-row-at-a-time numpy versions of OpenUnlearning's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llm.losses import (
    activation_loss,
    answer_lengths,
    dpo_loss,
    kl_to_reference,
    mean_nll,
    npo_loss,
    sequence_nll,
    simnpo_loss,
)
from llm.tokenization import IGNORE_INDEX
from tests.llm.reference import log_softmax


def _batch(seed: int = 0, B: int = 3, T: int = 6, V: int = 7):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g, dtype=torch.float64)
    labels = torch.randint(0, V, (B, T), generator=g)
    labels[:, :2] = IGNORE_INDEX  # a two-token prompt
    labels[1, 5] = IGNORE_INDEX  # row 1 is shorter (padding)
    return logits, labels


def _row_nlls(logits: torch.Tensor, labels: torch.Tensor) -> list[list[float]]:
    """Token NLLs of every row, numpy, loop over positions: logits at t predict labels[t + 1]."""
    lp = log_softmax(logits.numpy())
    out = []
    for b in range(labels.shape[0]):
        out.append([-lp[b, t, labels[b, t + 1]] for t in range(labels.shape[1] - 1) if labels[b, t + 1] != IGNORE_INDEX])
    return out


def test_sequence_and_mean_nll():
    logits, labels = _batch()
    rows = _row_nlls(logits, labels)
    np.testing.assert_allclose(sequence_nll(logits, labels).numpy(), [sum(r) for r in rows], rtol=1e-6)
    flat = [x for r in rows for x in r]
    assert float(mean_nll(logits, labels)) == pytest.approx(np.mean(flat), rel=1e-6)
    assert answer_lengths(labels).tolist() == [4, 3, 4]
    with pytest.raises(ValueError, match="no answer token"):
        mean_nll(logits, torch.full_like(labels, IGNORE_INDEX))


def test_mean_nll_is_huggingface_loss():
    """The NLL objective is ``model(**inputs).loss`` (the token-weighted mean)."""
    from transformers.loss.loss_utils import ForCausalLMLoss

    logits, labels = _batch(seed=1)
    hf = ForCausalLMLoss(logits.float(), labels, vocab_size=logits.shape[-1])
    assert float(mean_nll(logits, labels)) == pytest.approx(float(hf), rel=1e-5)


def _logsigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x > 0 else x - math.log1p(math.exp(x))


def test_npo_simnpo_dpo_formulas():
    s_theta = torch.tensor([3.0, 7.5, 1.2], dtype=torch.float64)
    s_ref = torch.tensor([2.0, 9.0, 1.2], dtype=torch.float64)
    lengths = torch.tensor([4, 5, 2])
    beta = 0.1
    # OpenUnlearning: compute_dpo_loss(win=None, lose=forget) -> -2/β logσ(β(0 - (-(s_θ - s_ref))))
    expected = -2 / beta * np.mean([_logsigmoid(beta * (a - b)) for a, b in zip(s_theta.tolist(), s_ref.tolist())])
    assert float(npo_loss(s_theta, s_ref, beta=beta)) == pytest.approx(expected, rel=1e-12)
    assert float(npo_loss(s_ref, s_ref, beta=beta)) == pytest.approx(2 / beta * math.log(2), rel=1e-12)
    b, d = 4.5, 0.3
    expected = -2 / b * np.mean([_logsigmoid(b * (s / n - d)) for s, n in zip(s_theta.tolist(), lengths.tolist())])
    assert float(simnpo_loss(s_theta, lengths, beta=b, delta=d)) == pytest.approx(expected, rel=1e-12)
    w_theta, w_ref = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.5, 2.5, 2.0])
    expected = -2 / beta * np.mean([
        _logsigmoid(beta * ((wr - wt) - (lr - lt)))
        for wt, wr, lt, lr in zip(w_theta.tolist(), w_ref.tolist(), s_theta.tolist(), s_ref.tolist())])
    assert float(dpo_loss(w_theta, w_ref, s_theta, s_ref, beta=beta)) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="beta must be > 0"):
        npo_loss(s_theta, s_ref, beta=0.0)


def test_kl_is_batchmean_over_all_positions():
    logits, _ = _batch(seed=2)
    ref = logits + 0.3 * torch.randn(logits.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    p_ref = np.exp(log_softmax(ref.numpy()))
    lq, lp = log_softmax(logits.numpy()), log_softmax(ref.numpy())
    expected = (p_ref * (lp - lq)).sum() / (logits.shape[0] * logits.shape[1])
    assert float(kl_to_reference(logits, ref)) == pytest.approx(expected, rel=1e-5)
    assert float(kl_to_reference(logits, logits)) == pytest.approx(0.0, abs=1e-6)


def test_activation_loss_masks_and_averages_per_row():
    g = torch.Generator().manual_seed(3)
    h = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    target = torch.randn(1, 1, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([[0, 1, 1, 1, 0], [0, 0, 1, 0, 0]], dtype=torch.bool)
    rows = []
    for b in range(2):
        sq = [((h[b, t] - target[0, 0]) ** 2).mean().item() for t in range(5) if mask[b, t]]
        rows.append(sum(sq) / len(sq))
    assert float(activation_loss(h, target, mask)) == pytest.approx(np.mean(rows), rel=1e-6)
    with pytest.raises(ValueError, match="no answer token"):
        activation_loss(h, target, torch.zeros_like(mask))
