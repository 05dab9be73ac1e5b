"""Objectives of a tiny GPT-2 as functions of θ: values at θ_0, agreement with direct forward passes, the
reference model (frozen copy / LoRA adapters disabled), RMU activations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llm import objectives
from llm.lora import LoraOptions, adapter_names, apply_lora
from llm.losses import sequence_nll
from ofmu_theory.modules import ModuleParams
from tests.llm.conftest import tiny_gpt2


@pytest.fixture()
def rows(corpus, tokenizer, plain):
    items = corpus.split("forget10")
    return objectives.encode_rows(tokenizer, plain, [(i.question, i.answer) for i in items], name="forget",
                                  max_length=128)


@pytest.fixture()
def gpt(tokenizer):
    return tiny_gpt2(tokenizer, seed=4)


def test_nll_matches_the_model_loss(gpt, rows):
    params = ModuleParams.of(gpt)
    obj = objectives.nll(params, rows)
    batch = np.array([2, 0])
    inputs = rows.collate(batch)
    with torch.no_grad():
        expected = gpt(**inputs).loss
    assert float(obj.value(params.vector(), batch)) == pytest.approx(float(expected), rel=1e-5)
    value, grad = obj.value_and_grad(params.vector(), batch)
    assert len(grad) == len(params.names) and all(torch.isfinite(g).all() for g in grad)
    with pytest.raises(ValueError, match="row indices"):
        obj.value(params.vector(), np.array([99]))


def test_reference_objectives_at_theta0(gpt, rows):
    params = ModuleParams.of(gpt)
    ref = objectives.Reference.frozen_copy(gpt)
    assert ref.kind == "frozen copy of the starting model" and not any(p.requires_grad for p in ref.module.parameters())
    beta = 0.1
    npo = objectives.neg_npo(params, rows, ref, beta=beta)
    # s_θ = s_ref at θ_0: L_NPO = (2/β) log 2
    assert float(npo.value(params.vector(), None)) == pytest.approx(-2 / beta * math.log(2), rel=1e-5)
    kl = objectives.kl(params, rows, ref)
    assert float(kl.value(params.vector(), np.array([0, 1]))) == pytest.approx(0.0, abs=1e-6)
    block = "transformer.h.1"
    retain = objectives.rmu_retain(params, rows, ref, layer=block)
    assert float(retain.value(params.vector(), np.array([1, 3]))) == pytest.approx(0.0, abs=1e-10)
    dpo = objectives.neg_dpo(params, rows, rows, ref, beta=beta)
    assert float(dpo.value(params.vector(), None)) == pytest.approx(-2 / beta * math.log(2), rel=1e-5)
    with pytest.raises(ValueError, match="aligned"):
        objectives.neg_dpo(params, rows, objectives.TokenRows(name="x", rows=rows.rows[:2], pad_token_id=0), ref, beta=beta)


def test_npo_value_moves_with_theta(gpt, rows):
    """Away from θ_0 the NPO value follows the formula with s_ref from the frozen copy."""
    params = ModuleParams.of(gpt)
    ref = objectives.Reference.frozen_copy(gpt)
    obj = objectives.neg_npo(params, rows, ref, beta=0.5)
    theta = tuple(t + 0.01 * torch.randn(t.shape, generator=torch.Generator().manual_seed(i))
                  for i, t in enumerate(params.vector()))
    inputs = rows.collate(None)
    with torch.no_grad():
        s_theta = sequence_nll(params.forward_with(theta)(**inputs).logits, inputs["labels"])
        s_ref = sequence_nll(gpt(**inputs).logits, inputs["labels"])
    expected = 2 / 0.5 * torch.nn.functional.logsigmoid(0.5 * (s_theta - s_ref)).mean()
    assert float(obj.value(theta, None)) == pytest.approx(float(expected), rel=1e-5)


def test_lora_reference_is_the_base_model(gpt, rows):
    base_logits = gpt(**rows.collate(None)).logits.detach()
    wrapped = apply_lora(gpt, LoraOptions(r=2), seed=1)
    names = adapter_names(wrapped)
    params = ModuleParams.of(wrapped, names=names)
    ref = objectives.Reference.of(wrapped)
    assert ref.adapters_off and "adapters disabled" in ref.kind
    theta = tuple(t + 0.05 for t in params.vector())  # move every adapter: the model changes, the reference not
    inputs = rows.collate(None)
    with torch.no_grad():
        moved = params.forward_with(theta)(**inputs).logits
    assert not torch.allclose(moved, base_logits, atol=1e-4)
    torch.testing.assert_close(ref.logits(inputs), base_logits, rtol=1e-5, atol=1e-5)


def test_rmu_forget_objective_and_capture(gpt, rows):
    params = ModuleParams.of(gpt)
    control = torch.full((gpt.config.hidden_size,), 0.5)
    obj = objectives.neg_rmu(params, rows, layer="transformer.h.0", control=control)
    inputs = rows.collate(np.array([0, 1]))
    with torch.no_grad():
        hidden = gpt(**inputs, output_hidden_states=True).hidden_states[1]  # the output of block 0
    mask = objectives.answer_mask(inputs["labels"]).float()
    per_row = (((hidden - 0.5) ** 2).mean(-1) * mask).sum(-1) / mask.sum(-1)
    assert float(obj.value(params.vector(), np.array([0, 1]))) == pytest.approx(-float(per_row.mean()), rel=1e-5)
    _, grad = obj.value_and_grad(params.vector(), np.array([0]))
    later = [i for i, n in enumerate(params.names) if n.startswith("transformer.h.1") or n.startswith("transformer.ln_f")]
    assert later and all(float(grad[i].abs().max()) == 0.0 for i in later)  # blocks after ℓ do not matter


def test_token_rows_validation(tokenizer, rows):
    with pytest.raises(ValueError, match="the forget set is empty"):
        objectives.TokenRows(name="forget", rows=(), pad_token_id=0)
    with pytest.raises(ValueError, match="pad token"):
        objectives.TokenRows(name="forget", rows=rows.rows, pad_token_id=None)
