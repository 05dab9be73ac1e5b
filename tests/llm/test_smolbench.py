"""The pieces of the SmolLM2 bench (llm/smolbench.py): the multiple-choice accuracy metric, the evaluation's metric
subset, the pretrained model's ``base_eval`` stage, the protocol with the bench's own batch sizes and LoRA, and the
generated page, all on a micro GPT-2 saved as a local "pretrained" model folder."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
import numpy as np
import pytest

from llm.entry import EvalSettings, PrepareConfig
from llm.evaluate import read_eval_log
from llm.data.schema import QAItem
from llm.metrics.memorization import mc_accuracy
from llm.train import TrainRecipe

from .conftest import tiny_gpt2


class _Scorer:
    """Answers' token log-probs by (question, answer), as ModelScorer.score returns them."""

    def __init__(self, table):
        self.table, self.calls = table, 0

    def score(self, questions, answers):
        self.calls += 1
        return [SimpleNamespace(token_logprobs=np.asarray(self.table[(q, a)])) for q, a in zip(questions, answers)]


def test_mc_accuracy_compares_total_log_likelihoods():
    items = [QAItem(question="q0", answer="a", perturbed_answer=("b", "c")),
             QAItem(question="q1", answer="a", perturbed_answer=("b", "c")),
             QAItem(question="q2", answer="a", perturbed_answer=("b", "c"))]
    table = {("q0", "a"): [-0.1, -0.1], ("q0", "b"): [-0.3], ("q0", "c"): [-1.0],      # right: -0.2 > -0.3
             # a higher per-token probability (-0.2 / token) but a lower total than the one-token option: wrong
             ("q1", "a"): [-0.2, -0.2, -0.2], ("q1", "b"): [-0.5], ("q1", "c"): [-2.0],
             ("q2", "a"): [-0.5], ("q2", "b"): [-0.25, -0.25], ("q2", "c"): [-3.0]}    # a tie is wrong
    result = mc_accuracy(scorer=_Scorer(table), items=items)
    assert result.agg_value == pytest.approx(1 / 3)
    assert [result.value_by_index[i]["correct"] for i in range(3)] == [True, False, False]
    assert result.value_by_index[1]["loglik"] == pytest.approx([-0.6, -0.5, -2.0])
    with pytest.raises(ValueError, match="perturbed_answer"):
        mc_accuracy(scorer=_Scorer(table), items=[QAItem(question="q0", answer="a")])


def test_eval_metrics_are_checked_and_leave_existing_keys_alone():
    assert "metrics" not in PrepareConfig().to_dict()["eval"]  # entries prepared before the option keep their key
    chosen = EvalSettings(metrics=["forget_quality", "model_utility"])
    assert chosen.metrics == ("forget_quality", "model_utility")
    assert PrepareConfig(eval=chosen).to_dict()["eval"]["metrics"] == ["forget_quality", "model_utility"]
    with pytest.raises(ValueError, match="no_such_metric"):
        EvalSettings(metrics=("no_such_metric",))
    with pytest.raises(ValueError, match="metrics"):
        EvalSettings(metrics=())


@pytest.fixture(scope="module")
def entries(tmp_path_factory, tokenizer):
    """Both roles' entries of a micro 'pretrained' model folder, prepared the way the SmolLM2 bench prepares."""
    from llm.fairreport import role_configs
    from llm.models.storage import save_pretrained
    from llm.prepare import prepare
    from llm.smolbench import REPORTED

    root = tmp_path_factory.mktemp("smol")
    save_pretrained(tiny_gpt2(tokenizer, seed=1), tokenizer, root / "pretrained")
    config = PrepareConfig(model=str(root / "pretrained"), template="plain", n_authors=10, questions_per_author=4,
                           recipe=TrainRecipe(epochs=2.0, lr=3e-3, batch_size=8), max_length=128,
                           eval=EvalSettings(batch_size=8, max_new_tokens=4, limit=4, metrics=REPORTED))
    eval_cfg, tune_cfg = role_configs(config, None)
    return prepare(eval_cfg, cache_dir=root / "eval"), prepare(tune_cfg, cache_dir=root / "tune")


def test_a_pretrained_model_is_measured_before_fine_tuning(entries):
    from llm.fairbench import Role
    from llm.prepare import KNOWLEDGE_METRICS

    prepared = entries[0]
    base = read_eval_log(prepared.base_eval)
    assert set(KNOWLEDGE_METRICS) <= set(base)
    assert "forget_quality" not in base and "model_utility" not in base  # only the knowledge questions
    target = read_eval_log(prepared.target_eval)
    assert {"forget_quality", "forget_Q_A_ROUGE", "model_utility", "ra_MC_accuracy", "wf_MC_accuracy"} <= set(target)
    assert "privleak" not in target and "exact_memorization" not in target  # the metric subset: nothing else
    models = Role.load(prepared).describe()["reference_models"]
    assert set(models) == {"base", "target", "retain"}
    assert models["base"]["ra_MC_accuracy"] == base["ra_MC_accuracy"]["agg_value"]
    assert 0.0 <= models["target"]["ks_statistic"] <= 1.0 and "base_eval" in prepared.info["stage_wall_s"]


def test_the_protocol_runs_with_the_bench_batch_sizes_and_lora_and_renders(entries, tmp_path, monkeypatch):
    from llm.fairreport import prepare_config_from, run_fair_bench
    from llm.lora import LoraOptions
    from llm.smolbench import main, render
    from llm.unlearn import RunSettings

    shared = {"batch_size": 2, "retain_batch_size": 3}
    settings = RunSettings(lora=LoraOptions(r=2, alpha=4.0), max_length=128)
    report = run_fair_bench(entries[0], entries[1], profile="smoke", methods=("grad_diff", "ofmu"), settings=settings,
                            out=tmp_path / "bench", hvp=False, shared=shared, bench="smollm2")
    assert report["bench"] == "smollm2" and report["shared"] == shared
    level = report["levels"][0]
    for name in ("grad_diff", "ofmu"):
        runs = level["methods"][name]["per_seed"]
        assert runs and all(r["config"]["batch_size"] == 2 and r["config"]["retain_batch_size"] == 3 for r in runs)
        assert all(0.0 <= r["ra_MC_accuracy"] <= 1.0 for r in runs)
    # budget 1x = GradDiff's 5 epochs over D_f (4 questions at batch 2: 2 steps per epoch) at 2 passes per step
    assert report["reference_run"]["passes"] == pytest.approx(5 * 2 * 2)

    # a record names the cache folder as $OFMU_CACHE, never this machine's path, and reads back to it
    model_dir = Path(entries[0].config.model)
    monkeypatch.setenv("OFMU_CACHE", str(model_dir.parent))
    docs = tmp_path / "docs"
    written = render(report, docs, embedded={"profile_name": "full", "verdict": {
        "1x": {"result": "indistinguishable", "best_baseline": "grad_diff", "reason": "p = 0.5"}}})
    readme = (docs / "README.md").read_text()
    assert docs / "README.md" in written and "pretrained (before fine-tuning)" in readme
    assert "on the embedded 0.56 M-parameter GPT-2" in readme and "Pretrained knowledge after unlearning" in readme
    written_config = json.loads((docs / "bench.json").read_text())["entries"]["eval"]["config"]
    assert written_config["model"] == "$OFMU_CACHE/pretrained" and str(model_dir.parent) not in (docs / "bench.json").read_text()
    assert prepare_config_from(written_config).model == str(model_dir)

    other = tmp_path / "other"
    other.mkdir()
    (other / "bench.json").write_text(json.dumps({"bench": "llm"}))
    with pytest.raises(ValueError, match="not a SmolLM2 bench record"):
        main(["--from", str(other), "--out", str(tmp_path / "x")])


def test_the_shared_batch_sizes_key_the_runs(entries):
    from llm.fairbench import SHARED, LlmTask, Role

    role = Role.load(entries[0])
    from llm.unlearn import RunSettings

    default = LlmTask(tune=role, eval=role, settings=RunSettings(max_length=128))
    other = LlmTask(tune=role, eval=role, settings=RunSettings(max_length=128),
                    shared={"batch_size": 2, "retain_batch_size": 3})
    assert default.identity["shared"] == SHARED and other.identity != default.identity
    assert other.steps_per_epoch(role) == 2 and default.steps_per_epoch(role) == 1


def test_a_lora_recipe_folds_its_adapters_into_a_plain_model(tokenizer, corpus):
    import torch

    from llm.lora import is_peft
    from llm.prompts import PROMPTS
    from llm.train import finetune

    assert "lora_r" not in TrainRecipe().to_dict() and "lora_alpha" not in TrainRecipe().to_dict()
    with pytest.raises(ValueError, match="lora_alpha"):
        TrainRecipe(lora_alpha=4.0)
    model = tiny_gpt2(tokenizer, seed=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    recipe = TrainRecipe(epochs=3.0, lr=1e-2, batch_size=8, lora_r=4)
    assert recipe.lora().alpha == 8.0 and recipe.to_dict()["lora_r"] == 4
    result = finetune(model, tokenizer, PROMPTS.get("plain"), list(corpus.split("full")), recipe, max_length=128)
    assert result.trace["loss_r"][-1] < result.trace["loss_r"][0]
    assert not is_peft(model) and not any("lora" in n for n, _ in model.named_parameters())
    after = dict(model.named_parameters())
    assert set(after) == set(before)
    moved = [n for n in before if not torch.equal(before[n], after[n].detach())]
    # only the linear layers' weights move (the adapters folded in), never the embeddings or the norms
    assert moved and all(n.endswith(".weight") and ("attn" in n or "mlp" in n) for n in moved)


@pytest.mark.parametrize(("rouge", "fq", "says"), [(0.95, 1e-4, "meets"), (0.95, 0.01, "does NOT meet"),
                                                   (0.5, 1e-5, "does NOT meet")])
def test_the_page_says_whether_the_target_memorised(rouge, fq, says):
    from llm.smolbench import memorised_sentence

    report = {"entries": {"eval": {"reference_models": {"target": {"forget_Q_A_ROUGE": rouge, "forget_quality": fq}}}}}
    assert f"target {says} the profile's memorisation target" in memorised_sentence(report)
    assert "unchecked" in memorised_sentence({"entries": {"eval": {}}})


def test_the_bench_corpora_are_fixed_files_with_disjoint_roles(tmp_path):
    from llm.smolbench import corpus_file, prepare_config

    path = corpus_file("eval", tmp_path)
    first = path.read_bytes()
    path.unlink()
    assert corpus_file("eval", tmp_path).read_bytes() == first  # the same bytes every time: a stable entry key
    path.write_text('{"forget": []}')
    assert corpus_file("eval", tmp_path).read_bytes() == first  # a file of other settings is rewritten
    splits = json.loads(first)
    assert {k: len(v) for k, v in splits.items()} == {"forget": 24, "retain": 24, "holdout": 24}
    tune = json.loads(corpus_file("tune", tmp_path).read_bytes())
    questions = {r["question"] for split in splits.values() for r in split}
    assert not questions & {r["question"] for split in tune.values() for r in split}  # other wordings, other authors
    assert all("perturbed_answer" in r and "paraphrased_answer" in r for r in splits["forget"] + splits["retain"])
    config = prepare_config(path)
    assert (config.forget_split, config.retain_split, config.holdout_split) == ("forget", "retain", "holdout")
    with pytest.raises(ValueError, match="role"):
        corpus_file("test", tmp_path)


def test_the_page_names_untuned_methods_and_the_time_against_the_goal():
    from llm.smolbench import GOAL_S, time_sentence, untuned_sentence

    def row(*scores):
        return {"tuning": {"configs_tried": [{"score": [s, 0.0]} for s in scores]}}

    level = {"methods": {"grad_diff": row(0.1, float("-inf")), "rmu": row(float("-inf"), float("-inf"))}}
    assert "No configuration of rmu met the utility floor" in untuned_sentence({"levels": [level]})
    level["methods"]["rmu"] = row(float("-inf"), 1e-3)
    assert untuned_sentence({"levels": [level]}).startswith("Every method had a configuration")
    record = {"prepare_s": 600.0, "wall_s": GOAL_S - 500.0, "metadata": {"devices": {"cpu_threads": 2}},
              "entries": {"eval": {"stage_wall_s": {"target": 120.0}}}}
    assert "ABOVE the 60-min goal" in time_sentence(record) and "target 120 s" in time_sentence(record)
    record["wall_s"] = GOAL_S - 700.0
    assert "within the 60-min goal" in time_sentence(record)
