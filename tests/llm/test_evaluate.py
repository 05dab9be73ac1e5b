"""The evaluation suite's output files and their OpenUnlearning layout."""

from __future__ import annotations

import json

import pytest

from llm.data import load_reference_table
from llm.evaluate import TOFU_METRICS, TofuEvalConfig, evaluate_tofu, tofu_eval_data
from llm.metrics import MODEL_UTILITY_COMPONENTS

CONFIG = TofuEvalConfig(max_new_tokens=4, batch_size=8, show_progress=False, seed=5)


@pytest.fixture(scope="module")
def data(corpus):
    full = tofu_eval_data(corpus, forget_split="forget10", holdout_split="holdout10")
    # keep the run short: a few items per role
    return {role: items[:6] for role, items in full.items()}


@pytest.fixture(scope="module")
def run(model, tokenizer, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    return out, evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data, output_dir=out,
                              config=CONFIG)


def test_eval_files_layout(run, data):
    out, result = run
    logs = json.loads((out / "TOFU_EVAL.json").read_text())
    summary = json.loads((out / "TOFU_SUMMARY.json").read_text())
    meta = json.loads((out / "TOFU_RUN.json").read_text())
    expected = set(TOFU_METRICS) - {"forget_quality", "privleak"}
    assert set(logs) == expected and list(logs) == sorted(logs)
    assert summary == {name: logs[name]["agg_value"] for name in sorted(logs)}
    assert result.skipped.keys() == {"forget_quality", "privleak"}
    n = len(data["forget"])
    assert list(logs["forget_Q_A_Prob"]["value_by_index"]) == [str(i) for i in range(n)]
    assert set(logs["forget_Q_A_Prob"]["value_by_index"]["0"]) == {"prob", "avg_loss"}
    assert len(logs["forget_Q_A_PERT_Prob"]["value_by_index"]["0"]["prob"]) == 5
    assert len(logs["ra_Q_A_PERT_Prob"]["value_by_index"]["0"]["prob"]) == 3
    assert set(logs["forget_truth_ratio"]["value_by_index"]["0"]) == {"score"}
    assert set(logs["forget_Q_A_ROUGE"]["value_by_index"]["0"]) == {
        "rouge1_recall", "rougeL_f1", "rougeL_recall", "input", "ground_truth", "generation"}
    assert set(logs["mia_min_k"]) == {"forget", "holdout", "auc", "agg_value"}
    assert logs["mia_min_k"]["auc"] == logs["mia_min_k"]["agg_value"]
    assert set(logs["mia_min_k"]["holdout"]["value_by_index"]["0"]) == {"score"}
    assert set(logs["model_utility"]) == {"agg_value"}
    assert all(name in logs for name in MODEL_UTILITY_COMPONENTS)
    assert meta["seed"] == 5 and meta["config"]["max_new_tokens"] == 4 and meta["split_sizes"]["forget"] == n
    assert {"versions", "devices", "argv"} <= set(meta) and meta["skipped"].keys() == {"forget_quality", "privleak"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # atomic writes leave no temporaries


def test_forget_quality_and_privleak_from_retain_log(run, model, tokenizer, data, tmp_path):
    out, first = run
    config = TofuEvalConfig(max_new_tokens=4, show_progress=False, metrics=("forget_quality", "privleak"))
    second = evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data, output_dir=tmp_path,
                           config=config, retain_logs=out / "TOFU_EVAL.json")
    assert second.summary["forget_quality"] == pytest.approx(1.0)  # same model: identical truth ratios
    assert second.summary["privleak"] == pytest.approx(0.0, abs=1e-6)
    assert set(second.results) == {"forget_quality", "privleak", "forget_truth_ratio", "forget_Q_A_PARA_Prob",
                                   "forget_Q_A_PERT_Prob", "mia_min_k"}
    assert second.results["forget_truth_ratio"].to_dict() == first.results["forget_truth_ratio"].to_dict()


def test_explicit_reference_metric_without_reference_is_an_error(model, tokenizer, data, tmp_path):
    with pytest.raises(ValueError, match="needs the retain model's 'forget_truth_ratio'"):
        evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data, output_dir=tmp_path,
                      config=TofuEvalConfig(metrics=("forget_quality",), show_progress=False))
    with pytest.raises(ValueError, match="unknown TOFU metrics"):
        evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data=data, output_dir=tmp_path,
                      config=TofuEvalConfig(metrics=("forget_bleu",)))
    with pytest.raises(ValueError, match="needs the 'holdout' split"):
        evaluate_tofu(model=model, tokenizer=tokenizer, template="plain", data={"forget": data["forget"]},
                      output_dir=tmp_path, config=TofuEvalConfig(metrics=("mia_loss",), show_progress=False))


def test_eval_data_from_folder(tmp_path, corpus):
    from llm.data import write_corpus

    write_corpus(corpus, tmp_path)
    data = tofu_eval_data(tmp_path, forget_split="forget05", holdout_split="holdout05")
    assert len(data["forget"]) == len(corpus.split("forget05"))
    assert data["real_authors"] == load_reference_table("real_authors_perturbed")
    with pytest.raises(ValueError, match="missing"):
        tofu_eval_data({"forget01_perturbed": []}, forget_split="forget01")
