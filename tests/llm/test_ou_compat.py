"""The OpenUnlearning-compatible evaluation (``ou_compat``): one test per quirk where the two modes differ,
each against OpenUnlearning's formula computed here by hand, and one run of both modes on the same inputs."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from llm.data import QAItem
from llm.evaluate import TofuEvalConfig, evaluate_tofu, tofu_eval_data
from llm.metrics import (
    MetricResult,
    ModelScorer,
    exact_memorization,
    extraction_strength,
    hm_aggregate,
    mia_auc,
    mia_min_k,
    mia_min_k_plus_plus,
    privleak_value,
    probability,
)
from llm.prompts import PromptTemplate
from llm.tokenization import encode_pair

from tests.llm.conftest import tiny_gpt2

QUIET = {"show_progress": False}


def _scorer(model, tokenizer, template, *, ou_compat: bool, **kwargs) -> ModelScorer:
    return ModelScorer(model=model, tokenizer=tokenizer, template=template, batch_size=4, ou_compat=ou_compat,
                       show_progress=False, **kwargs)


@pytest.fixture(scope="module")
def data(corpus):
    full = tofu_eval_data(corpus, forget_split="forget10", holdout_split="holdout10")
    return {role: items[:5] for role, items in full.items()}


def test_pad_equal_to_eos_is_masked_inside_the_prompt(tokenizer):
    """A tokenizer without a pad token gets pad = EOS, and every EOS in the input leaves the attention mask:
    the prompt's EOS (as in Llama-3 chat templates) is no longer attended to."""
    model = tiny_gpt2(tokenizer, seed=1, init=0.6)  # wide logits: the masked token visibly moves the loss
    no_pad = copy.deepcopy(tokenizer)
    no_pad.pad_token = None
    assert no_pad.pad_token_id is None
    template = PromptTemplate(system_prompt_with_special_tokens=f"Be brief.{tokenizer.eos_token}",
                              user_start_tag="Question: ", user_end_tag="\n", asst_start_tag="Answer:\n")
    pairs = [("Who wrote it?", "A quiet novelist."), ("Where?", "In a small coastal town by the sea.")]
    with pytest.raises(ValueError, match="needs eos and pad tokens"):
        _scorer(model, no_pad, template, ou_compat=False)
    ours = _scorer(model, tokenizer, template, ou_compat=False).score(*zip(*pairs))
    compat = _scorer(model, no_pad, template, ou_compat=True).score(*zip(*pairs))
    for (question, answer), a, b in zip(pairs, ours, compat):
        enc = encode_pair(tokenizer, template, question, answer)
        ids = torch.tensor([enc.input_ids])
        assert int((ids == tokenizer.eos_token_id).sum()) == 2  # one in the prompt, one closing the answer
        labels = torch.tensor(enc.labels)[1:]
        for mask, got in ((torch.ones_like(ids), a), ((ids != tokenizer.eos_token_id).long(), b)):
            with torch.no_grad():  # OpenUnlearning's evaluate_probability with its collator's mask
                logits = model(input_ids=ids, attention_mask=mask).logits[0, :-1].double()
            nll = torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")
            assert got.avg_loss == pytest.approx(float(nll) / int((labels != -100).sum()), rel=1e-5)
        assert abs(a.avg_loss - b.avg_loss) > 1e-3


def test_generation_stops_on_the_model_generation_config_ids(tokenizer, plain):
    model = tiny_gpt2(tokenizer, seed=1, init=0.6)
    question = "What is the full name of the author?"
    prompt = tokenizer(plain.wrap(question))["input_ids"]
    ids: list[int] = []
    with torch.no_grad():  # greedy decoding by hand, 8 tokens
        for _ in range(8):
            ids.append(int(model(torch.tensor([prompt + ids])).logits[0, -1].argmax()))
    assert tokenizer.eos_token_id not in ids and len(set(ids[:2])) == 2
    free = tokenizer.decode(ids, skip_special_tokens=True).strip()
    assert _scorer(model, tokenizer, plain, ou_compat=False, max_new_tokens=8).generate([question])[0] == free
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, ids[1]]  # several stop ids, as Llama-3's
    assert _scorer(model, tokenizer, plain, ou_compat=False, max_new_tokens=8).generate([question])[0] == free
    stopped = _scorer(model, tokenizer, plain, ou_compat=True, max_new_tokens=8).generate([question])[0]
    assert stopped == tokenizer.decode(ids[:2], skip_special_tokens=True).strip() != free


def test_empty_answer_scores_zero_none_zero(model, tokenizer, plain, corpus):
    items = list(corpus.split("forget10_perturbed"))[:3]
    empty = QAItem(question=items[0].question, answer="")  # scored tokens: EOS only
    forget, holdout = [*items, empty], list(corpus.split("holdout10"))[:4]
    ours = _scorer(model, tokenizer, plain, ou_compat=False)
    for fn in (extraction_strength, exact_memorization):
        with pytest.raises(ValueError, match="hits must not be empty"):
            fn(scorer=ours, items=forget)
    with pytest.raises(ValueError, match="no scored tokens"):
        mia_min_k(scorer=ours, forget_items=forget, holdout_items=holdout)
    compat = _scorer(model, tokenizer, plain, ou_compat=True)
    es = extraction_strength(scorer=compat, items=forget)
    em = exact_memorization(scorer=compat, items=forget)
    full_es = extraction_strength(scorer=ours, items=items)
    full_em = exact_memorization(scorer=ours, items=items)
    assert es.value_by_index[3] == {"score": 0.0} and em.value_by_index[3] == {"score": None}
    assert es.agg_value == pytest.approx(full_es.agg_value * 3 / 4)  # ES 0 counts in the mean
    assert em.agg_value == pytest.approx(full_em.agg_value)  # EM None is left out of it
    only_empty = exact_memorization(scorer=compat, items=[empty])
    assert math.isnan(only_empty.agg_value)  # np.mean of nothing, as OpenUnlearning
    for attack in (mia_min_k, mia_min_k_plus_plus):
        result = attack(scorer=compat, forget_items=forget, holdout_items=holdout)
        scores = result.extra["forget"].values("score")
        assert scores[3] == 0.0
        assert result.agg_value == pytest.approx(mia_auc(scores, result.extra["holdout"].values("score")))


def test_nan_in_model_utility_propagates():
    components = {"a": MetricResult(agg_value=0.5), "b": MetricResult(agg_value=float("nan")),
                  "c": MetricResult(agg_value=0.25)}
    with pytest.raises(ValueError, match="finite non-negative"):
        hm_aggregate(components=components)
    assert math.isnan(hm_aggregate(components=components, ou_compat=True).agg_value)
    finite = {"a": MetricResult(agg_value=0.5), "c": MetricResult(agg_value=0.25)}
    assert hm_aggregate(components=finite, ou_compat=True).agg_value == pytest.approx(1 / 3)


def test_no_retain_log_writes_null_forget_quality_and_privleak_against_half(model, tokenizer, data, tmp_path):
    config = TofuEvalConfig(max_new_tokens=2, metrics=("forget_quality", "privleak"), **QUIET)
    with pytest.raises(ValueError, match="needs the retain model's"):
        evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data, output_dir=tmp_path / "a",
                      config=config)
    result = evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data,
                           output_dir=tmp_path / "b", config=TofuEvalConfig(
                               max_new_tokens=2, metrics=("forget_quality", "privleak"), ou_compat=True, **QUIET))
    logs = json.loads((tmp_path / "b" / "TOFU_EVAL.json").read_text())
    summary = json.loads((tmp_path / "b" / "TOFU_SUMMARY.json").read_text())
    assert logs["forget_quality"] == {"agg_value": None} and summary["forget_quality"] is None
    auc = logs["mia_min_k"]["agg_value"]
    assert summary["privleak"] == pytest.approx(privleak_value(auc, 0.5)) == pytest.approx((0.5 - auc) / 0.5 * 100)
    assert not result.skipped


def test_question_key_reaches_the_retain_metrics_and_the_attacks(model, tokenizer, plain, data, tmp_path):
    key = "paraphrased_question"
    names = ("retain_Q_A_Prob", "mia_loss")
    runs = {compat: evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data,
                                  output_dir=tmp_path / str(compat),
                                  config=TofuEvalConfig(question_key=key, metrics=names, ou_compat=compat, **QUIET))
            for compat in (False, True)}
    scorer = _scorer(model, tokenizer, plain, ou_compat=False)
    for compat, question_key in ((False, "question"), (True, key)):
        expected = probability(scorer=scorer, items=data["retain"], question_key=question_key)
        assert runs[compat].results["retain_Q_A_Prob"].to_dict() == expected.to_dict()
        forget = runs[compat].results["mia_loss"].extra["forget"].values("score")
        asked = [getattr(it, question_key) for it in data["forget"]]
        assert forget == pytest.approx([s.avg_loss for s in scorer.score(asked, [it.answer for it in data["forget"]])])
    assert runs[False].summary["retain_Q_A_Prob"] != runs[True].summary["retain_Q_A_Prob"]
    holdout = [r.results["mia_loss"].extra["holdout"].to_dict() for r in runs.values()]
    assert holdout[0] == holdout[1]  # the non-member side is asked its question in both modes


def test_both_modes_agree_where_no_quirk_applies(model, tokenizer, data, tmp_path):
    """The same model and inputs (a distinct pad token, no EOS inside a prompt, no empty answer, the model's
    stop id = the tokenizer's EOS): the metrics no quirk reaches are identical; those question_key and the
    missing retain log reach differ."""
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    results = {}
    for compat in (False, True):
        config = TofuEvalConfig(max_new_tokens=4, batch_size=4, question_key="paraphrased_question",
                                ou_compat=compat, **QUIET)
        results[compat] = evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data,
                                        output_dir=tmp_path / str(compat), config=config).results
    ours, compat = results[False], results[True]
    reached = {"retain_Q_A_Prob", "retain_Q_A_PARA_Prob", "retain_Q_A_PERT_Prob", "retain_Truth_Ratio",
               "retain_Q_A_ROUGE", "model_utility", "mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus"}
    unaffected = set(ours) - reached
    assert {"forget_Q_A_Prob", "forget_truth_ratio", "forget_Q_A_ROUGE", "ra_Q_A_Prob_normalised",
            "wf_Truth_Ratio", "extraction_strength", "exact_memorization"} <= unaffected
    for name in sorted(unaffected):
        assert compat[name].to_dict() == ours[name].to_dict(), name
    assert set(compat) - set(ours) == {"forget_quality", "privleak"}  # null / against AUC 0.5 instead of skipped
    assert compat["retain_Q_A_Prob"].agg_value != ours["retain_Q_A_Prob"].agg_value
    assert np.isfinite(compat["model_utility"].agg_value)


def test_flag_is_part_of_the_entry_and_absent_from_its_key_while_off():
    import argparse

    from llm.cli import register
    from llm.cli_options import prepare_config
    from llm.entry import eval_config
    from llm.prepare import EvalSettings, PrepareConfig, cache_key

    assert "ou_compat" not in PrepareConfig().to_dict()["eval"]  # existing entries keep their cache key
    on = PrepareConfig(eval=EvalSettings(batch_size=64, max_new_tokens=64, ou_compat=True))
    assert on.to_dict()["eval"]["ou_compat"] is True and cache_key(on) != cache_key(PrepareConfig())
    assert eval_config(on).ou_compat and not eval_config(PrepareConfig()).ou_compat
    parser = argparse.ArgumentParser(prog="ofmu")
    register(parser.add_subparsers(dest="command"))
    for command in (["eval", "--model-dir", "m"], ["bench", "--out", "b"]):
        assert prepare_config(parser.parse_args(["llm", *command, "--ou-compat"])).eval.ou_compat
        assert not prepare_config(parser.parse_args(["llm", *command])).eval.ou_compat
