"""Multiple-choice accuracy as lm-evaluation-harness defines it, checked against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llm.wmdp.evaluate import mc_accuracy, perplexity, request, score_rows
from llm.wmdp.schema import MCQuestion
from llm.wmdp.task import text_rows

QUESTIONS = [
    MCQuestion(question="What colour is kodox?", choices=("silver", "teal", "ochre", "amber red"), answer=0,
               subject="wmdp-fictional"),
    MCQuestion(question="Where is vel gathered?", choices=("Harrowmere", "the Vell Flats", "Dunmarrow", "Kestrel Fen"),
               answer=3, subject="wmdp-fictional"),
    MCQuestion(question="What soil does the marum bush grow in?", choices=("red clay", "peat", "grey chalk", "sand"),
               answer=1, subject="fictional_botany"),
]


def hand_loglikelihood(model, tokenizer, context: str, continuation: str) -> float:
    """Σ log p(continuation tokens | context) from one forward pass of the unpadded sequence."""
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([whole])).logits[0].double(), -1)
    return sum(float(logp[t - 1, whole[t]]) for t in range(len(ctx), len(whole)))


def test_score_rows_by_hand() -> None:
    # acc: argmax of [-3, -2, -4, -2] is 1 (the first of the tied maxima); acc_norm: [-3, -0.5, -4, -1] -> 1
    assert score_rows([-3.0, -2.0, -4.0, -2.0], [1, 4, 1, 2], gold=1) == (1.0, 1.0)
    assert score_rows([-3.0, -2.0, -4.0, -2.0], [1, 4, 1, 2], gold=3) == (0.0, 0.0)
    # length normalisation changes the answer: [-4, -6] -> 0; [-4/2, -6/6] = [-2, -1] -> 1
    assert score_rows([-4.0, -6.0], [2, 6], gold=0) == (1.0, 0.0)
    assert score_rows([-4.0, -6.0], [2, 6], gold=1) == (0.0, 1.0)


@pytest.mark.parametrize("mc_format", ["cloze", "mmlu"])
def test_mc_accuracy_matches_hand_computed_loglikelihoods(wide_model, tokenizer, mc_format: str) -> None:
    out = mc_accuracy(wide_model, tokenizer, QUESTIONS, mc_format=mc_format, batch_size=5)
    accs, norms = [], []
    for q, item in zip(QUESTIONS, out["per_item"], strict=True):
        req = request(q, mc_format)
        hand = [hand_loglikelihood(wide_model, tokenizer, req.context, c) for c in req.continuations]
        np.testing.assert_allclose(item["loglikelihoods"], hand, rtol=1e-5, atol=1e-5)  # fp32 model, padded batches
        lengths = [len(c) for c in q.choices] if mc_format == "cloze" else [1, 1, 1, 1]
        accs.append(float(int(np.argmax(hand)) == q.answer))
        norms.append(float(int(np.argmax(np.array(hand) / lengths)) == q.answer))
        assert (item["acc"], item["acc_norm"]) == (accs[-1], norms[-1])
    assert out["acc"] == pytest.approx(np.mean(accs)) and out["acc_norm"] == pytest.approx(np.mean(norms))
    assert out["per_subject"]["wmdp-fictional"]["n"] == 2
    assert out["per_subject"]["fictional_botany"]["acc"] == accs[2]
    if mc_format == "mmlu":
        assert out["acc"] == out["acc_norm"]  # one-letter choices: normalisation divides every ll by 1


def test_mmlu_prompt_is_the_harness_template() -> None:
    req = request(QUESTIONS[2], "mmlu")
    assert req.context == ("The following are multiple choice questions (with answers) about fictional botany.\n\n"
                           "What soil does the marum bush grow in?\nA. red clay\nB. peat\nC. grey chalk\nD. sand\n"
                           "Answer:")
    assert req.continuations == (" A", " B", " C", " D")


@pytest.mark.parametrize("gold", [0, 2])
def test_all_choices_equal_ties_to_the_first_choice(wide_model, tokenizer, gold: int) -> None:
    q = MCQuestion(question="What colour is kodox?", choices=("teal",) * 4, answer=gold, subject="s")
    out = mc_accuracy(wide_model, tokenizer, [q])
    lls = out["per_item"][0]["loglikelihoods"]
    assert lls == [lls[0]] * 4  # the same row four times: the same value
    expected = 1.0 if gold == 0 else 0.0  # np.argmax picks the first of equal values
    assert (out["acc"], out["acc_norm"]) == (expected, expected)


def test_bad_format_is_named() -> None:
    with pytest.raises(ValueError, match="mc_format must be one of"):
        request(QUESTIONS[0], "letters")


def test_perplexity_by_hand(wide_model, tokenizer) -> None:
    texts = ["Kodox is a silver substance.", "The marum bush grows in black peat."]
    rows = text_rows(tokenizer, texts, name="forget", max_length=64)
    total, count = 0.0, 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        with torch.no_grad():
            logp = torch.log_softmax(wide_model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
        total += sum(float(logp[t - 1, ids[t]]) for t in range(1, len(ids)))
        count += len(ids) - 1
    assert perplexity(wide_model, rows) == pytest.approx(math.exp(-total / count), rel=1e-5)
