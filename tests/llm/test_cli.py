"""``ofmu llm`` end to end on a micro model: prepare (cached, resumable), unlearn (+resume), eval, bench, bad input.

Driven through :func:`llm.cli.main` (the same ``register`` the ``ofmu`` command uses).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llm.cli import main

MICRO = ["--size", "micro", "--n-authors", "10", "--questions-per-author", "2", "--no-world-knowledge",
         "--train-epochs", "3", "--train-batch-size", "8", "--eval-limit", "4", "--max-new-tokens", "4",
         "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def entry(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cache") / "entry"
    assert main(["llm", "prepare", *MICRO, "--cache-dir", str(folder)]) == 0
    return folder


def test_prepare_writes_a_complete_entry(entry):
    info = json.loads((entry / "prepare.json").read_text())
    assert info["format"] == "ofmu-llm-prepared/1" and info["template"] == "plain"
    assert info["train_sets"] == {"target": 20, "retain": 18}
    assert info["metadata"]["config"]["world_knowledge"] is False
    for stage in ("data", "tokenizer", "target", "retain", "retain_eval", "target_eval"):
        assert (entry / stage).is_dir(), stage
    assert (entry / "target" / "model.safetensors").is_file()
    target = json.loads((entry / "target_eval" / "TOFU_SUMMARY.json").read_text())
    assert {"forget_quality", "model_utility", "privleak"} <= set(target)
    assert "forget_truth_ratio" in json.loads((entry / "retain_eval" / "TOFU_EVAL.json").read_text())
    assert not [p for p in entry.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_prepare_resumes_at_the_first_missing_stage(entry, tmp_path):
    copy = tmp_path / "entry"
    shutil.copytree(entry, copy)
    (copy / "prepare.json").unlink()
    shutil.rmtree(copy / "target_eval")
    before = (copy / "target" / "model.safetensors").stat().st_mtime_ns
    assert main(["llm", "prepare", *MICRO, "--cache-dir", str(copy)]) == 0
    assert (copy / "target" / "model.safetensors").stat().st_mtime_ns == before  # not retrained
    assert (copy / "target_eval" / "TOFU_EVAL.json").is_file() and (copy / "prepare.json").is_file()


def test_unlearn_eval_and_resume(entry, tmp_path, capsys):
    out = tmp_path / "ofmu"
    args = ["llm", "unlearn", "--method", "ofmu", "--out", str(out), "--set", "inner_steps=1", "--set", "epochs=2",
            "--set", "batch_size=1", "--checkpoint-every", "2", "--keep-checkpoint", *MICRO, "--cache-dir", str(entry)]
    assert main(args) == 0
    record = json.loads((out / "result.json").read_text())
    assert record["status"] == "MAX_STEPS" and record["nit"] == 4 and record["config"]["inner_steps"] == 1
    assert record["metadata"]["devices"]["effective_batch_size"] == 1 and "versions" in record["metadata"]
    assert (tmp_path / "ofmu.checkpoint" / "latest.json").is_file()
    assert main(["llm", "eval", "--model-dir", str(out / "model"), "--out", str(tmp_path / "eval"), *MICRO,
                 "--cache-dir", str(entry)]) == 0
    summary = json.loads((tmp_path / "eval" / "TOFU_SUMMARY.json").read_text())
    assert 0.0 <= summary["forget_quality"] <= 1.0
    # resuming a finished run (checkpoint at step 2 of 4) reproduces the same model
    again = tmp_path / "again"
    shutil.copytree(tmp_path / "ofmu.checkpoint", tmp_path / "again.checkpoint")
    assert main([*args[:5], str(again), *args[6:], "--resume"]) == 0
    a = (out / "model" / "model.safetensors").read_bytes()
    b = (again / "model" / "model.safetensors").read_bytes()
    assert a == b


def test_lora_unlearn_saves_adapter_and_merged_model(entry, tmp_path):
    out = tmp_path / "npo-lora"
    assert main(["llm", "unlearn", "--method", "npo", "--out", str(out), "--lora", "--lora-r", "2", "--set",
                 "epochs=1", "--set", "batch_size=2", *MICRO, "--cache-dir", str(entry)]) == 0
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "model" / "model.safetensors").is_file()
    record = json.loads((out / "result.json").read_text())
    assert record["settings"]["lora"]["r"] == 2 and record["reference_model"].startswith("base model")


def test_diverged_run_exits_1_and_writes_nothing(entry, tmp_path, capsys):
    out = tmp_path / "ga"
    code = main(["llm", "unlearn", "--method", "grad_ascent", "--out", str(out), "--set", "lr=1e30",
                 "--set", "warmup_epochs=0", "--set", "epochs=2", "--set", "batch_size=1", *MICRO,
                 "--cache-dir", str(entry)])
    assert code == 1 and "DIVERGED" in capsys.readouterr().out
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bench_table_json_and_plot(entry, tmp_path):
    out = tmp_path / "bench"
    assert main(["llm", "bench", "--profile", "single", "--out", str(out), "--methods", "grad_diff,ofmu", "--epochs", "1",
                 "--batch-size", "1", "--set", "ofmu.inner_steps=1", *MICRO, "--cache-dir", str(entry)]) == 0
    report = json.loads((out / "bench.json").read_text())
    names = [r["name"] for r in report["rows"]]
    assert names == ["target (reference)", "retain (reference)", "grad_diff", "ofmu"]
    retain = report["rows"][1]
    assert retain["forget_quality"] == 1.0 and retain["privleak"] == 0.0
    for row in report["rows"][2:]:
        assert row["status"] == "MAX_STEPS" and row["steps"] == 2 and row["wall_s"] > 0 and row["peak_mib"] >= 0
        assert {"forget_quality", "model_utility", "forget_truth_ratio", "privleak"} <= set(row)
    table = (out / "bench.md").read_text()
    assert "| ofmu |" in table and "FQ" in table and "peak MiB" in table
    assert (out / "fq_vs_mu.png").read_bytes()[:4] == b"\x89PNG"
    assert report["metadata"]["config"]["methods"] == ["grad_diff", "ofmu"]


@pytest.mark.parametrize("argv, message", [
    (["llm", "unlearn", "--method", "nope", "--out", "x"], "valid method names"),
    (["llm", "unlearn", "--method", "npo", "--out", "x", "--set", "betta=1"], "unknown option"),
    (["llm", "unlearn", "--method", "npo", "--out", "x", "--set", "beta"], "key=value"),
    (["llm", "bench", "--profile", "single", "--out", "x", "--set", "nosuch=1"], "no method of this run"),
    (["llm", "unlearn", "--method", "ofmu", "--out", "x", "--set", "npo.beta=1"], "'npo' is not in this run"),
    (["llm", "unlearn", "--method", "ofmu", "--out", "x", "--set", "ofmu.nosuch=1"], "unknown option 'ofmu.nosuch'"),
    (["llm", "bench", "--out", "x", "--set", "npo.beta=1"], "--profile single only"),
    (["llm", "prepare", "--forget-split", "forget20"], "forget_split must be one of"),
    (["llm", "unlearn", "--method", "ofmu", "--out", "x", "--set", "hvp=exact", "--shard", "fsdp"],
     "OFMU hvp='exact' cannot run with --shard fsdp"),
    (["llm", "unlearn", "--method", "grad_diff", "--out", "x", "--lora", "--shard", "fsdp"],
     "--lora with --shard fsdp is not supported"),
])
def test_bad_arguments_exit_2(entry, argv, message, capsys):
    assert main([*argv, *MICRO, "--cache-dir", str(entry)]) == 2
    assert message in capsys.readouterr().err


def test_shard_without_torchrun_exits_2_and_writes_nothing(entry, tmp_path, capsys):
    out = tmp_path / "sharded"
    assert main(["llm", "unlearn", "--method", "grad_diff", "--out", str(out), "--shard", "fsdp", *MICRO,
                 "--cache-dir", str(entry)]) == 2
    assert "launch with torchrun" in capsys.readouterr().err and not out.exists()


def test_trust_remote_code_is_off_unless_asked(monkeypatch, entry, tmp_path):
    import llm.cli as cli

    seen = {}

    def fake_load(path, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr("llm.models.load_pretrained", fake_load)
    assert cli.main(["llm", "eval", "--model-dir", str(tmp_path), *MICRO, "--cache-dir", str(entry)]) == 2
    assert seen["trust_remote_code"] is False and seen["local_files_only"] is True
    assert cli.main(["llm", "eval", "--model-dir", str(tmp_path), "--trust-remote-code", *MICRO,
                     "--cache-dir", str(entry)]) == 2
    assert seen["trust_remote_code"] is True


def test_weights_only_from_safetensors(entry, tmp_path):
    """A folder holding only a pickle checkpoint is refused (no torch.load of untrusted files)."""
    import torch

    from llm.models import load_pretrained

    folder = tmp_path / "pickle"
    shutil.copytree(entry / "target", folder)
    state = {k: v for k, v in __import__("safetensors.torch", fromlist=["load_file"]).load_file(
        str(folder / "model.safetensors")).items()}
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="holds only pickle weights .*loading a pickle can run code"):
        load_pretrained(folder, local_files_only=True)


@pytest.fixture()
def split_folder(tmp_path):
    from llm.data import generate_corpus, write_corpus

    folder = tmp_path / "tofu"
    write_corpus(generate_corpus(n_authors=10, questions_per_author=2, seed=0), folder)
    return folder


def _prepare_from(folder, tmp_path):
    return main(["llm", "prepare", *MICRO, "--data", str(folder), "--cache-dir", str(tmp_path / "entry")])


def test_local_folder_data(split_folder, tmp_path):
    (split_folder / "full.json").unlink()  # TOFU's full = forget + retain is rebuilt
    assert _prepare_from(split_folder, tmp_path) == 0
    info = json.loads((tmp_path / "entry" / "prepare.json").read_text())
    assert info["sizes"]["full"] == 20 and info["metadata"]["config"]["data"] == str(split_folder)


@pytest.mark.parametrize("corrupt, message", [
    (lambda recs: [{k: v for k, v in r.items() if k != "answer"} for r in recs], "field 'answer' is missing"),
    (lambda recs: [{**r, "question": 7} for r in recs], "field 'question' must be a str"),
    (lambda recs: [], "split 'forget10' is empty"),
])
def test_bad_forget_split_is_refused(split_folder, tmp_path, capsys, corrupt, message):
    path = split_folder / "forget10.json"
    path.write_text(json.dumps(corrupt(json.loads(path.read_text()))))
    assert _prepare_from(split_folder, tmp_path) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "entry" / "prepare.json").exists()


def test_forget_retain_overlap_is_refused(split_folder, tmp_path, capsys):
    forget = json.loads((split_folder / "forget10.json").read_text())
    retain = json.loads((split_folder / "retain90.json").read_text())
    (split_folder / "retain90.json").write_text(json.dumps(retain + forget[:1]))
    assert _prepare_from(split_folder, tmp_path) == 2
    assert "appear in both forget10 and retain90" in capsys.readouterr().err


def _cli_rank(rank: int, size: int, port: int, argv: list[str]) -> None:
    """One torchrun-like process: the environment torchrun sets, then the ``ofmu llm`` command."""
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(size),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(size))
    code = main(argv)
    if code != 0:
        raise SystemExit(code)


def test_unlearn_under_torchrun_environment(entry, tmp_path):
    """Two ranks from the environment (gloo on CPU): only rank 0 writes, the metadata records the world."""
    from tests.support import spawn_ranks

    out = tmp_path / "gd"
    argv = ["llm", "unlearn", "--method", "grad_diff", "--out", str(out), "--set", "epochs=2", "--set",
            "batch_size=1", "--set", "retain_batch_size=2", "--checkpoint-every", "1", "--keep-checkpoint",
            "--device", "cpu", *MICRO, "--cache-dir", str(entry),
            "--overwrite"]  # a second spawn (a rank killed by a signal) finds the first one's output
    spawn_ranks(_cli_rank, 2, argv)
    record = json.loads((out / "result.json").read_text())
    assert record["world_size"] == 2 and record["effective_batch_size"] == 2  # per-rank batch 1 × 2 ranks
    assert record["distributed"] == {"world_size": 2, "backend": "gloo", "per_rank_batch_size": 1,
                                     "effective_batch_size": 2, "per_rank_retain_batch_size": 2,
                                     "effective_retain_batch_size": 4}
    meta = record["metadata"]
    assert meta["devices"]["world_size"] == 2 and meta["devices"]["effective_batch_size"] == 2
    assert meta["process"]["backend"] == "gloo" and meta["process"]["rank"] == 0
    assert record["nit"] == 2  # 2 forget rows, global batch 2: one step per epoch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gd", "gd.checkpoint"]  # no half-written folders
    assert json.loads((tmp_path / "gd.checkpoint" / "latest.json").read_text())["step"] == 1


def test_unlearn_bf16_checkpointing_and_attention_are_recorded(entry, tmp_path, caplog):
    import logging

    out = tmp_path / "ofmu"
    base = ["llm", "unlearn", "--method", "ofmu", "--set", "inner_steps=1", "--set", "epochs=1", "--set",
            "batch_size=1", "--device", "cpu", *MICRO, "--cache-dir", str(entry)]
    assert main([*base, "--out", str(out), "--set", "hvp=fd", "--bf16", "--gradient-checkpointing"]) == 0
    runtime = json.loads((out / "result.json").read_text())["runtime"]
    assert runtime["precision"] == "bf16 autocast, float32 master parameters"
    assert runtime["gradient_checkpointing"] is True and runtime["checkpointed_layers"] == 2
    assert runtime["attn_implementation"] == "sdpa" and runtime["device"] == "cpu"  # fd keeps the fused kernel
    with caplog.at_level(logging.INFO, logger="llm.runtime"):
        assert main([*base, "--out", str(tmp_path / "exact"), "--set", "hvp=exact"]) == 0
    runtime = json.loads((tmp_path / "exact" / "result.json").read_text())["runtime"]
    assert runtime["attn_implementation"] == "eager" and "OFMU hvp='exact'" in runtime["attn_reason"]
    assert runtime["precision"] == "float32" and runtime["gradient_checkpointing"] is False
    assert any("attention sdpa -> eager" in r.getMessage() for r in caplog.records)


def test_protocol_bench_writes_budgets_tuning_seeds_and_a_verdict(entry, tmp_path):
    from llm.fairbench import NO_SIM, OFMU_FIXED, OFMU_PATHS, path_name

    out = tmp_path / "fair"  # its eval entry keeps one question template: not the `entry` fixture's config
    argv = ["llm", "bench", "--profile", "smoke", "--out", str(out), "--methods", "grad_diff,ofmu", *MICRO,
            "--cache-dir", str(tmp_path / "fair-entry")]
    assert main(argv) == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["reference_run"]["passes"] > 0
    level = report["levels"][0]
    for name in ("grad_diff", "ofmu"):
        row = level["methods"][name]
        assert row["budget_passes"] == report["reference_run"]["passes"]
        assert [r["seed"] for r in row["per_seed"]] == [0, 1]
        assert all(r["passes"] <= row["budget_passes"] + 1e-9 for r in row["per_seed"])
        assert len(row["tuning"]["configs_tried"]) == 2 and row["tuning"]["chosen"] in \
            [c["config"] for c in row["tuning"]["configs_tried"]]
        assert {"forget_quality", "ks_statistic", "model_utility"} <= set(row["summary"])
    assert report["verdict"]["1x"]["result"] in ("better", "indistinguishable", "worse")
    assert report["entries"]["tune"]["cache_entry"] != report["entries"]["eval"]["cache_entry"]
    check = report["hvp_check"]
    assert set(check["summary"]) == {*OFMU_PATHS, NO_SIM} and check["default"] in OFMU_PATHS
    assert check["inside_exact_intervals"]["exact"] and check["config"]["beta"] > 0
    cheapest_inside = min((n for n in OFMU_PATHS if check["inside_exact_intervals"][n]),
                          key=lambda n: (check["summary"][n]["passes_per_step"]["mean"],
                                         check["summary"][n]["wall_s"]["mean"]))
    if check["at_check_beta"] is None:
        assert check["default"] == cheapest_inside
    assert check["bench_path"] == path_name(OFMU_FIXED)
    assert (out / "fq_vs_mu_1x.png").read_bytes()[:4] == b"\x89PNG" and "Verdict" in (out / "README.md").read_text()
    # a finished --out is kept unless --overwrite; with it, every run is read back from the run cache (here by
    # two worker processes, each loading both entries)
    assert main(argv) == 2
    assert main([*argv, "--overwrite", "--jobs", "2"]) == 0
    again = json.loads((out / "bench.json").read_text())
    assert again["runs"] == {"executed": 0, "from_cache": report["runs"]["executed"], "jobs": 2}
    assert again["levels"] == report["levels"]
    from llm.regenerate_docs import main as regenerate

    assert regenerate(["--from", str(out), "--out", str(tmp_path / "docs")]) == 0
    assert "Verdict" in (tmp_path / "docs" / "README.md").read_text()
    assert (tmp_path / "docs" / "fq_vs_mu_1x.png").is_file()


def test_protocol_bench_refuses_single_pass_options(entry, tmp_path):
    assert main(["llm", "bench", "--out", str(tmp_path / "x"), "--epochs", "2", *MICRO,
                 "--cache-dir", str(entry)]) == 2
