"""Every TOFU metric against values computed independently from its formula."""

from __future__ import annotations

import json
import math
import zlib

import numpy as np
import pytest
import torch
from scipy import stats

from llm.data import QAItem
from llm.evaluate import log_entry, read_eval_log
from llm.metrics import (
    METRICS,
    MetricResult,
    ModelScorer,
    aggregate_truth_ratio,
    batch_statistics,
    exact_memorization,
    exact_memorization_score,
    extraction_strength,
    extraction_strength_score,
    forget_quality,
    hm_aggregate,
    mia_auc,
    mia_loss,
    mia_min_k,
    mia_min_k_plus_plus,
    mia_zlib,
    min_k_plus_plus_score,
    min_k_score,
    privleak,
    probability,
    probability_w_options,
    rouge,
    rouge_scores,
    truth_ratio,
)

from tests.llm import reference as ref

RTOL = 1e-5  # float32 forward passes against a float64 oracle


@pytest.fixture(scope="module")
def items(corpus):
    return list(corpus.split("forget10_perturbed"))[:5]


@pytest.fixture(scope="module")
def scorer(model, tokenizer):
    from llm.prompts import PROMPTS

    return ModelScorer(model=model, tokenizer=tokenizer, template=PROMPTS.get("plain"), batch_size=3,
                       show_progress=False)


def test_scores_match_oracle_and_ignore_padding(scorer, model, tokenizer, plain, items):
    questions = [it.question for it in items] + [items[0].question]
    answers = [it.answer for it in items] + [items[1].perturbed_answer[0]]
    for got, q, a in zip(scorer.score(questions, answers), questions, answers):
        want = ref.item_stats(model, tokenizer, plain, q, a)
        assert got.avg_loss == pytest.approx(want["avg_loss"], rel=RTOL)
        np.testing.assert_allclose(got.token_logprobs, want["token_logprobs"], rtol=RTOL, atol=1e-6)
        np.testing.assert_allclose(got.token_zscores, want["token_zscores"], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(got.token_hits, want["token_hits"])
        assert got.target_text == a and got.prob == pytest.approx(math.exp(-want["avg_loss"]), rel=RTOL)


def test_batch_statistics_hand_made():
    p1, p2 = np.log([0.5, 0.25, 0.25]), np.log([0.25, 0.25, 0.5])
    logits = torch.tensor(np.array([[p1, p1, p2, p2]]), dtype=torch.float64)  # (1, 4, 3)
    labels = torch.tensor([[-100, 0, 1, 2]])  # scored: 0, 1 and the last ("EOS") label 2
    row = batch_statistics(logits, labels)[0]
    assert row["avg_loss"] == pytest.approx(-(math.log(0.5) + math.log(0.25) + math.log(0.5)) / 3)
    np.testing.assert_allclose(row["token_logprobs"], [math.log(0.5), math.log(0.25)])
    np.testing.assert_allclose(row["token_zscores"], [1.0, -1.0], atol=1e-6)  # mu = -1.0397, sigma = 0.3466
    assert row["token_hits"].tolist() == [True, False]


def test_probability_and_truth_ratio(scorer, model, tokenizer, plain, items):
    oracle = {(q, a): ref.item_stats(model, tokenizer, plain, q, a)["avg_loss"]
              for it in items for q in [it.question] for a in (it.answer, it.paraphrased_answer, *it.perturbed_answer)}
    correct = probability(scorer=scorer, items=items, answer_key="paraphrased_answer")
    wrong = probability(scorer=scorer, items=items, answer_key="perturbed_answer")
    plain_prob = probability(scorer=scorer, items=items)
    want_prob = [math.exp(-oracle[(it.question, it.answer)]) for it in items]
    assert plain_prob.agg_value == pytest.approx(np.mean(want_prob), rel=RTOL)
    assert wrong.value_by_index[2]["avg_loss"] == pytest.approx(
        [oracle[(items[2].question, w)] for w in items[2].perturbed_answer], rel=RTOL)
    r = np.array([math.exp(-np.mean([oracle[(it.question, w)] for w in it.perturbed_answer]))
                  / (math.exp(-oracle[(it.question, it.paraphrased_answer)]) + 1e-10) for it in items])
    forget = truth_ratio(correct=correct, wrong=wrong, aggregator="closer_to_1_better")
    retain = truth_ratio(correct=correct, wrong=wrong, aggregator="true_better")
    np.testing.assert_allclose(forget.values("score"), r, rtol=1e-4)
    assert forget.agg_value == pytest.approx(np.mean([min(x, 1 / x) for x in r]), rel=1e-4)
    assert retain.agg_value == pytest.approx(np.mean([max(0.0, 1 - x) for x in r]), rel=1e-4, abs=1e-12)


def _result(stat, values):
    return MetricResult(agg_value=0.0, value_by_index={i: {stat: v} for i, v in enumerate(values)})


def test_truth_ratio_and_options_on_known_numbers():
    correct = MetricResult(agg_value=0, value_by_index={0: {"prob": 0.5, "avg_loss": 1.0}, 1: {"prob": 0.1, "avg_loss": 2.0}})
    wrong = MetricResult(agg_value=0, value_by_index={0: {"prob": [0.1, 0.2, 0.3], "avg_loss": [2.0, 3.0, 4.0]},
                                                      1: {"prob": [0.05, 0.05, 0.1], "avg_loss": [1.0, 1.0, 1.0]}})
    r = np.array([math.exp(-3.0) / math.exp(-1.0), math.exp(-1.0) / math.exp(-2.0)])  # = e^-2, e
    tr = truth_ratio(correct=correct, wrong=wrong, aggregator="closer_to_1_better")
    assert tr.agg_value == pytest.approx((math.exp(-2) + 1 / math.e) / 2, rel=1e-8)
    assert truth_ratio(correct=correct, wrong=wrong, aggregator="true_better").agg_value == pytest.approx(
        (1 - math.exp(-2)) / 2)
    np.testing.assert_allclose(tr.values("score"), r, rtol=1e-8)
    opts = probability_w_options(correct=correct, wrong=wrong)
    np.testing.assert_allclose(opts.values("prob"), [0.5 / 1.1, 0.1 / 0.3], rtol=1e-8)
    with pytest.raises(ValueError, match="aggregator must be one of"):
        aggregate_truth_ratio(r, "mean")


def test_rouge_scores_hand_made():
    got = rouge_scores(["the cat on a mat", "run dog"], ["The cat sat on the mat.", "Running dogs"])
    ref_tokens, gen_tokens = "the cat sat on the mat".split(), "the cat on a mat".split()
    assert got[0]["rougeL_recall"] == pytest.approx(ref.lcs(ref_tokens, gen_tokens) / len(ref_tokens))  # 4/6
    assert got[0]["rouge1_recall"] == pytest.approx(4 / 6)
    precision, recall = 4 / 5, 4 / 6
    assert got[0]["rougeL_f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert got[1]["rougeL_recall"] == 1.0  # the Porter stemmer is on


def test_rouge_metric_generates_greedily(wide_model, tokenizer, plain, items):
    batched = ModelScorer(model=wide_model, tokenizer=tokenizer, template=plain, batch_size=4, max_new_tokens=12,
                          show_progress=False)
    result = rouge(scorer=batched, items=items)
    single = ModelScorer(model=wide_model, tokenizer=tokenizer, template=plain, batch_size=1, max_new_tokens=12,
                         show_progress=False)
    generations = [v["generation"] for v in result.value_by_index.values()]
    assert generations == single.generate([it.question for it in items])  # left padding changes nothing
    assert generations == [ref.greedy(wide_model, tokenizer, plain, it.question, 12) for it in items]
    assert any(generations)
    for entry, it in zip(result.value_by_index.values(), items):
        assert entry["ground_truth"] == it.answer and entry["input"] == plain.wrap(it.question)
        assert entry["rougeL_recall"] == rouge_scores([entry["generation"]], [it.answer])[0]["rougeL_recall"]
    assert result.agg_value == pytest.approx(np.mean([v["rougeL_recall"] for v in result.value_by_index.values()]))


def test_exact_memorization_and_extraction_strength_hand_made():
    assert exact_memorization_score(np.array([1, 1, 0, 1, 1])) == pytest.approx(0.8)
    assert extraction_strength_score(np.array([1, 1, 0, 1, 1])) == pytest.approx(1 - 3 / 5)
    assert extraction_strength_score(np.array([0, 1, 1])) == pytest.approx(1 - 1 / 3)
    assert extraction_strength_score(np.ones(4)) == 1.0
    assert extraction_strength_score(np.array([1, 1, 1, 0])) == pytest.approx(1 / 4)  # OpenUnlearning: k = T - 1


def test_em_es_on_model(scorer, model, tokenizer, plain, items):
    hits = [ref.item_stats(model, tokenizer, plain, it.question, it.answer)["token_hits"] for it in items]
    em = exact_memorization(scorer=scorer, items=items)
    es = extraction_strength(scorer=scorer, items=items)
    np.testing.assert_allclose(em.values("score"), [h.mean() for h in hits])
    want_es = []
    for h in hits:
        k = next((k for k in range(len(h)) if h[k:].all()), len(h) - 1)
        want_es.append(1 - k / len(h))
    np.testing.assert_allclose(es.values("score"), want_es)


def test_min_k_and_zlib_hand_made():
    lp = np.array([-1.0, -5.0, -3.0, -0.5, -2.0])
    assert min_k_score(lp, 0.4) == pytest.approx(4.0)  # floor(0.4 * 5) = 2 lowest: -5, -3
    assert min_k_score(lp, 0.1) == pytest.approx(5.0)  # at least one token
    assert min_k_plus_plus_score(np.array([1.0, -1.0, 0.5]), 0.4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must be in"):
        min_k_score(lp, 0.0)
    assert mia_auc([1, 2, 3], [2.5, 4, 5]) == pytest.approx(8 / 9)


def test_mia_attacks_on_model(scorer, model, tokenizer, plain, corpus):
    forget, holdout = list(corpus.split("forget10"))[:4], list(corpus.split("holdout10"))[:5]
    oracle = {side: [ref.item_stats(model, tokenizer, plain, it.question, it.answer) for it in group]
              for side, group in (("forget", forget), ("holdout", holdout))}
    expected = {
        mia_loss: lambda s, it: s["avg_loss"],
        mia_zlib: lambda s, it: s["avg_loss"] / len(zlib.compress(it.answer.encode("utf-8"))),
        mia_min_k: lambda s, it: -np.mean(np.sort(s["token_logprobs"])[: max(1, int(0.4 * len(s["token_logprobs"])))]),
        mia_min_k_plus_plus: lambda s, it: -np.mean(
            np.sort(s["token_zscores"])[: max(1, int(0.4 * len(s["token_zscores"])))]),
    }
    for attack, formula in expected.items():
        result = attack(scorer=scorer, forget_items=forget, holdout_items=holdout)
        want = {side: [formula(s, it) for s, it in zip(oracle[side], group)]
                for side, group in (("forget", forget), ("holdout", holdout))}
        for side in ("forget", "holdout"):
            np.testing.assert_allclose(result.extra[side].values("score"), want[side], rtol=1e-4)
        assert result.agg_value == result.extra["auc"] == pytest.approx(
            ref.auc_mann_whitney(want["forget"], want["holdout"]))


def test_forget_quality_reads_openunlearning_log(tmp_path):
    rng = np.random.default_rng(0)
    model_tr, retain_tr = rng.uniform(0.2, 1.0, 40), rng.uniform(0.5, 1.5, 40)
    log = {"forget_truth_ratio": {"agg_value": 0.7, "value_by_index": {str(i): {"score": v} for i, v in enumerate(retain_tr)}},
           "forget_quality": {"agg_value": None}}
    (tmp_path / "TOFU_EVAL.json").write_text(json.dumps(log))
    reference = log_entry(read_eval_log(tmp_path / "TOFU_EVAL.json"), "forget_truth_ratio")
    got = forget_quality(forget_truth_ratio=_result("score", model_tr), retain_truth_ratio=reference)
    assert got.agg_value == pytest.approx(stats.ks_2samp(model_tr, retain_tr).pvalue)
    assert got.agg_value == pytest.approx(stats.ks_2samp(1 / (model_tr + 1e-10), 1 / (retain_tr + 1e-10)).pvalue)
    with pytest.raises(ValueError, match="agg_value null"):
        log_entry(read_eval_log(tmp_path / "TOFU_EVAL.json"), "forget_quality")
    with pytest.raises(ValueError, match="not in the eval log"):
        log_entry(log, "mia_min_k")


def test_model_utility_and_privleak_on_known_numbers():
    values = [0.9, 0.5, 0.6, 0.4, 0.7, 0.55, 0.45, 0.8, 0.65]
    got = hm_aggregate(components={f"m{i}": MetricResult(agg_value=v) for i, v in enumerate(values)})
    assert got.agg_value == pytest.approx(9 / sum(1 / v for v in values))
    assert privleak(forget_auc=0.8, retain_auc=0.5).agg_value == pytest.approx(-60.0)
    assert privleak(forget_auc=MetricResult(agg_value=0.3), retain_auc=0.5).agg_value == pytest.approx(40.0)
    with pytest.raises(ValueError, match="retain_auc must be an AUC"):
        privleak(forget_auc=0.5, retain_auc=1.5)


def test_registry_contract(scorer, items):
    assert {"probability", "probability_w_options", "rouge", "truth_ratio", "exact_memorization",
            "extraction_strength", "mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus", "forget_quality",
            "privleak", "hm_aggregate"} <= set(METRICS.names())
    for name in METRICS.names():
        spec = METRICS.get(name)
        assert spec.needs, name
        with pytest.raises(ValueError, match=f"metric '{name}' needs"):
            spec()
    result = METRICS.get("probability")(scorer=scorer, items=[QAItem(question="Who?", answer="Me.")])
    assert 0 < result.agg_value < 1 and set(result.to_dict()) == {"agg_value", "value_by_index"}


def test_bfloat16_model_scores_close_to_float32(model, tokenizer, plain, items):
    bf16 = ModelScorer(model=tiny_copy(model).to(torch.bfloat16), tokenizer=tokenizer, template=plain,
                       show_progress=False)
    fp32 = ModelScorer(model=model, tokenizer=tokenizer, template=plain, show_progress=False)
    q, a = [it.question for it in items], [it.answer for it in items]
    got = [s.avg_loss for s in bf16.score(q, a)]
    np.testing.assert_allclose(got, [s.avg_loss for s in fp32.score(q, a)], rtol=2e-2)  # bf16 has 8 mantissa bits


def tiny_copy(model):
    import copy

    return copy.deepcopy(model)


def test_min_k_rejects_k_above_one():
    with pytest.raises(ValueError, match=r"k must be in \(0, 1\], got k=1.5"):
        min_k_score(np.array([-1.0, -2.0]), 1.5)
    assert min_k_score(np.array([-1.0, -2.0]), 1.0) == pytest.approx(1.5)  # k = 1: every token


@pytest.mark.parametrize(("forget", "holdout"), [([], [1.0, 2.0]), ([1.0, 2.0], []), ([], [])])
def test_mia_auc_needs_both_sides(forget, holdout):
    with pytest.raises(ValueError, match="forget and holdout scores must both be non-empty"):
        mia_auc(forget, holdout)


def test_truth_ratio_of_an_answer_with_probability_zero_is_large_and_finite():
    from llm.metrics import truth_ratios

    # exp(-60) ≈ 9e-27 is far below the 1e-10 guard: R = exp(-1) / (exp(-60) + 1e-10) ≈ exp(-1) · 1e10
    ratio = truth_ratios(np.array([60.0]), np.array([[1.0, 1.0]]))
    assert ratio[0] == pytest.approx(math.exp(-1.0) / 1e-10, rel=1e-9)


def test_metric_result_read_from_a_log_keeps_per_item_values_and_does_not_alias_them():
    data = {"agg_value": 0.5, "value_by_index": {"0": {"score": 0.5}, "7": {"score": 0.25}}}
    got = MetricResult.from_dict(data)
    data["value_by_index"]["0"]["score"] = 99.0  # a later edit of the parsed JSON
    assert got.value_by_index == {0: {"score": 0.5}, 7: {"score": 0.25}}
    assert MetricResult.from_dict({"agg_value": 0.3, "value_by_index": {"3": 0.3}}).value_by_index == {3: 0.3}


def test_scorer_restores_the_training_mode(model, tokenizer, plain, items):
    trained = tiny_copy(model).train()
    scorer = ModelScorer(model=trained, tokenizer=tokenizer, template=plain, max_new_tokens=2, show_progress=False)
    scorer.score([items[0].question], [items[0].answer])
    assert trained.training  # scored in eval mode (no dropout), handed back in training mode
    scorer.generate([items[0].question])
    assert trained.training
    scorer.score([items[1].question], [items[1].answer])
    assert trained.training and all(m.training for m in trained.modules())


class _Scripted(torch.nn.Module):
    """A stand-in model whose greedy generation is a fixed token sequence (to place special tokens at will)."""

    def __init__(self, reply: list[int]) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.reply = reply

    def generate(self, *, input_ids, attention_mask, generation_config):
        tail = torch.tensor(self.reply, dtype=input_ids.dtype).expand(input_ids.shape[0], -1)
        return torch.cat([input_ids, tail], dim=1)


def test_generation_drops_special_tokens(tokenizer, plain):
    words = tokenizer("the author", add_special_tokens=False)["input_ids"]
    after = tokenizer(" wrote", add_special_tokens=False)["input_ids"]
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    assert pad != eos
    # generate pads a finished row with EOS (pad_token_id=eos, as OpenUnlearning does)
    scorer = ModelScorer(model=_Scripted([*words, pad, *after, eos, eos]), tokenizer=tokenizer,
                         template=plain, show_progress=False)
    # the special tokens are no text: neither the pad token inside the answer nor the EOS after it
    assert scorer.generate(["Who?"]) == [tokenizer.decode([*words, *after]).strip()]
