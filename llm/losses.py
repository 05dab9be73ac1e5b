"""Pure loss functions of logits, labels and activations, as OpenUnlearning computes them.

Symbols, for a batch of B sequences with labels y (prompt positions = ``IGNORE_INDEX``) and
next-token distributions p_θ:

- ``s_θ(y|x)`` = SUM over the answer tokens of −log p_θ(y_t | x, y_<t)   (:func:`sequence_nll`)
- ``NLL`` = the token-weighted MEAN over every answer token of the batch  (:func:`mean_nll`,
  Hugging Face's ``model(**inputs).loss``)
- ``|y|`` = number of answer tokens (EOS included)

and the losses OpenUnlearning minimises (``src/trainer/utils.py`` and ``src/trainer/unlearn/*.py``):

.. math::

    L_{NPO}    &= −\\tfrac{2}{β}\\,\\mathrm{mean}_i \\log σ\\big(β (s_θ − s_{ref})\\big)          \\\\
    L_{SimNPO} &= −\\tfrac{2}{β}\\,\\mathrm{mean}_i \\log σ\\big(β (s_θ/|y| − δ)\\big)            \\\\
    L_{DPO}    &= −\\tfrac{2}{β}\\,\\mathrm{mean}_i \\log σ\\big(β [(s_{ref}^w − s_θ^w) − (s_{ref}^l − s_θ^l)]\\big) \\\\
    KL         &= \\tfrac{1}{B·T}\\sum_{b,t} KL(p_{ref} ‖ p_θ)   \\quad\\text{(all B·T positions, ``batchmean`` of the flattened logits)} \\\\
    L_{act}(h, c) &= \\mathrm{mean}_b \\frac{1}{n_b}\\sum_{t ∈ answer_b} \\tfrac{1}{d}‖h_{b,t} − c_{b,t}‖²  \\quad\\text{(RMU)}

Everything here is a function of tensors only (no model, no optimiser), so it is tested against
hand-computed values and reused by every objective in :mod:`llm.objectives`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llm.tokenization import IGNORE_INDEX


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """``x`` upcast to float32 when it is a narrower float (bf16 / fp16 logits); float64 stays float64."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _shifted(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits at t predict the label at t+1: ((B, T−1, V), (B, T−1))."""
    if logits.ndim != 3 or labels.ndim != 2 or logits.shape[:2] != labels.shape:
        raise ValueError(f"need logits (B, T, V) and labels (B, T), got {tuple(logits.shape)} and {tuple(labels.shape)}")
    return logits[:, :-1, :], labels[:, 1:]


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-position −log p(label) (B, T−1), 0 where the label is ``IGNORE_INDEX`` (computed in at least float32)."""
    shift_logits, shift_labels = _shifted(logits, labels)
    # log_softmax + gather rather than F.cross_entropy: the same numbers, and differentiable to third order
    # (cross_entropy's nll_loss2d kernel fails in the third derivative OFMU's exact ∇²Φ·v takes)
    logp = F.log_softmax(_at_least_fp32(shift_logits), dim=-1)  # (B, T-1, V)
    mask = shift_labels != IGNORE_INDEX
    picked = logp.gather(-1, shift_labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return torch.where(mask, -picked, torch.zeros_like(picked))


def answer_lengths(labels: torch.Tensor) -> torch.Tensor:
    """|y| per row (B,): labels that are not ``IGNORE_INDEX`` (OpenUnlearning counts the unshifted labels)."""
    return (labels != IGNORE_INDEX).sum(-1)


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """s_θ(y|x) per row (B,): the SUM of token NLL over the answer tokens (``compute_batch_nll``)."""
    return token_nll(logits, labels).sum(-1)


def mean_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """NLL: the mean token cross-entropy over every answer token of the batch (``model(**inputs).loss``)."""
    n = (labels[:, 1:] != IGNORE_INDEX).sum()
    if int(n) == 0:
        raise ValueError("the batch has no answer token to score")
    return token_nll(logits, labels).sum() / n


def npo_loss(s_theta: torch.Tensor, s_ref: torch.Tensor, *, beta: float) -> torch.Tensor:
    """L_NPO = −(2/β) mean log σ(β(s_θ − s_ref)) (``compute_dpo_loss`` with lose = forget, no win)."""
    _check_beta(beta)
    return -2.0 / beta * F.logsigmoid(beta * (s_theta - s_ref)).mean()


def simnpo_loss(s_theta: torch.Tensor, lengths: torch.Tensor, *, beta: float, delta: float = 0.0) -> torch.Tensor:
    """L_SimNPO = −(2/β) mean log σ(β(s_θ/|y| − δ))."""
    _check_beta(beta)
    return -2.0 / beta * F.logsigmoid(beta * (s_theta / lengths - delta)).mean()


def dpo_loss(
    s_theta_win: torch.Tensor, s_ref_win: torch.Tensor, s_theta_lose: torch.Tensor, s_ref_lose: torch.Tensor,
    *, beta: float,
) -> torch.Tensor:
    """L_DPO = −(2/β) mean log σ(β[(s_ref^w − s_θ^w) − (s_ref^l − s_θ^l)]) (win preferred, lose rejected)."""
    _check_beta(beta)
    win_log_ratio = -(s_theta_win - s_ref_win)
    lose_log_ratio = -(s_theta_lose - s_ref_lose)
    return -2.0 / beta * F.logsigmoid(beta * (win_log_ratio - lose_log_ratio)).mean()


def kl_to_reference(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KL(p_ref ‖ p_θ) summed over the vocabulary and averaged over all B·T positions
    (``compute_kl_divergence``: ``kl_div(..., reduction="batchmean", log_target=True)`` on the flattened
    (B·T, V) log-probabilities; prompt and padding positions included, as there)."""
    if logits.shape != ref_logits.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and ref_logits {tuple(ref_logits.shape)} differ in shape")
    vocab = logits.shape[-1]
    current = F.log_softmax(_at_least_fp32(logits), dim=-1).reshape(-1, vocab)
    reference = F.log_softmax(_at_least_fp32(ref_logits), dim=-1).reshape(-1, vocab)
    return F.kl_div(current, reference, reduction="batchmean", log_target=True)


def activation_loss(h: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RMU's masked activation distance: mean over rows of (1/n_b)·Σ_{t∈mask} mean_d (h − target)².

    Args:
        h: activations (B, T, d).
        target: same shape (or broadcastable: the steering vector c·u of shape (1, 1, d)).
        mask: (B, T) booleans, the answer positions (labels != IGNORE_INDEX).
    """
    diff = (_at_least_fp32(h) - _at_least_fp32(target)).square().mean(-1)  # (B, T)
    m = mask.to(diff.dtype)
    n = m.sum(-1)  # (B,)
    if bool((n == 0).any()):
        raise ValueError("a row has no answer token in the activation mask")
    return ((diff * m).sum(-1) / n).mean()


def _check_beta(beta: float) -> None:
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got beta={beta!r}")
