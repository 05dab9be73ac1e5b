"""Your own TOFU-format data: one file with custom split names through prepare → unlearn → eval → bench, the
data check (schema and the degenerate cases), and ``--cache-dir`` refusing an entry of other options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm.cli import main
from llm.data import generate_corpus
from llm.data.check import answer_wording_share, check_data, rouge_l_f1
from llm.data.local import local_splits

MICRO = ["--size", "micro", "--no-world-knowledge", "--train-epochs", "3", "--train-batch-size", "8",
         "--eval-limit", "4", "--max-new-tokens", "4", "--quiet", "--threads", "1"]
SPLITS = ["--forget-split", "forgotten", "--retain-split", "kept", "--holdout-split", "unseen"]


def _records(items) -> list[dict]:
    return [it.to_record() for it in items]


def write_dataset(path: Path, *, seed: int = 0, retain_perturbed: bool = False) -> Path:
    """One JSON file {split: records} with custom names: the forget split carries the perturbed fields, the
    retain split carries them on the records TOFU's retain_perturbed holds, no real_authors / world_facts."""
    corpus = generate_corpus(n_authors=10, questions_per_author=2, seed=seed)
    perturbed = {it.question: it for it in corpus.split("retain_perturbed")}
    kept = [perturbed.get(it.question, it) for it in corpus.split("retain90")]
    data = {"forgotten": _records(corpus.split("forget10_perturbed")), "kept": _records(kept),
            "unseen": _records(corpus.split("holdout10"))}
    if retain_perturbed:
        data["retain_perturbed"] = _records(corpus.split("retain_perturbed"))
    path.write_text(json.dumps(data))
    return path


def test_local_splits_derive_the_missing_ones_with_notices(tmp_path):
    splits, notices = local_splits(write_dataset(tmp_path / "d.json"), forget="forgotten", retain="kept",
                                   holdout="unseen")
    assert splits["forgotten_perturbed"] == splits["forgotten"]
    assert splits["full"] == splits["forgotten"] + splits["kept"]
    assert splits["retain_perturbed"] and all(it.perturbed_answer for it in splits["retain_perturbed"])
    assert len(splits["real_authors_perturbed"]) > 0 and len(splits["world_facts_perturbed"]) > 0
    assert sum("shipped" in n for n in notices) == 2 and any(n.startswith("retain_perturbed") for n in notices)
    _, notices = local_splits(write_dataset(tmp_path / "e.json", retain_perturbed=True), forget="forgotten",
                              retain="kept", holdout="unseen")
    assert not any(n.startswith("retain_perturbed") for n in notices)


@pytest.mark.parametrize("content, message", [
    ([], "must hold a JSON object mapping split names"),
    ({"forgotten": [], "kept": [], "unseen": []}, "split 'forgotten' is empty"),
    ({"a": [{"question": "q", "answer": "a"}]}, "split(s) ['forgotten', 'kept', 'unseen'] not found; it has ['a']"),
])
def test_malformed_one_file_data_is_one_line_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError) as err:
        local_splits(path, forget="forgotten", retain="kept", holdout="unseen")
    assert message in str(err.value)


def test_one_file_with_custom_splits_end_to_end(tmp_path, capsys, caplog):
    """prepare → unlearn → eval → bench (smoke), no file copied by hand; the entry's cache dir is verified."""
    import logging

    data = write_dataset(tmp_path / "mine.json")
    tune = write_dataset(tmp_path / "tune.json", seed=5)
    entry = tmp_path / "entry"
    common = [*MICRO, "--data", str(data), *SPLITS, "--cache-dir", str(entry)]
    with caplog.at_level(logging.WARNING, logger="llm.prepare"):
        assert main(["llm", "prepare", *common]) == 0
    notices = [r.getMessage() for r in caplog.records]
    assert any("real_authors_perturbed: not in the data; using the table shipped" in n for n in notices)
    info = json.loads((entry / "prepare.json").read_text())
    assert info["sizes"]["forgotten"] == 2 and info["sizes"]["kept"] == 18 and info["sizes"]["unseen"] == 2
    assert info["metadata"]["config"]["retain_name"] == "kept"

    out = tmp_path / "run"
    assert main(["llm", "unlearn", "--method", "grad_diff", "--out", str(out), "--set", "epochs=1", "--set",
                 "batch_size=1", "--seed", "3", *common]) == 0
    record = json.loads((out / "result.json").read_text())
    assert record["settings"]["seed"] == 3 and (out / "model" / "model.safetensors").is_file()
    assert main(["llm", "eval", "--model-dir", str(out / "model"), "--out", str(tmp_path / "eval"), *common]) == 0
    summary = json.loads((tmp_path / "eval" / "TOFU_SUMMARY.json").read_text())
    assert 0.0 <= summary["forget_quality"] <= 1.0

    bench = tmp_path / "bench"
    assert main(["llm", "bench", "--profile", "smoke", "--out", str(bench), "--methods", "grad_diff,ofmu",
                 "--no-hvp-check", "--tune-data", str(tune), *common]) == 0
    level = json.loads((bench / "bench.json").read_text())["levels"][0]
    assert level["methods"]["grad_diff"]["per_seed"] and level["methods"]["ofmu"]["per_seed"]

    # the same --cache-dir with another data seed is refused, naming the key that differs
    capsys.readouterr()
    assert main(["llm", "eval", "--model-dir", str(out / "model"), "--out", str(tmp_path / "eval2"), *common,
                 "--data-seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "holds an entry prepared with other options (seed: entry 0 vs now 1)" in err


def test_check_data_passes_a_tofu_style_dataset(tmp_path, capsys):
    data = write_dataset(tmp_path / "mine.json")
    assert main(["llm", "check-data", "--data", str(data), *SPLITS]) == 0
    out = capsys.readouterr().out
    assert "0 error(s)" in out and "notice: forgotten_perturbed: not in the data" in out


def test_check_data_flags_perturbed_answers_in_the_answers_wording(tmp_path, capsys):
    """TOFU's perturbed answers follow the paraphrased answer; copies of the answer with one word changed make the
    retain model's truth ratio ~0 everywhere (MU = 0): the check says so before any training."""
    path = write_dataset(tmp_path / "bad.json")
    data = json.loads(path.read_text())
    for split in ("forgotten", "kept"):
        for r in data[split]:
            if "perturbed_answer" in r:
                words = r["answer"].split()
                r["perturbed_answer"] = [" ".join(words[:-1] + [f"wrong{j}"]) for j in range(3)]
    path.write_text(json.dumps(data))
    assert main(["llm", "check-data", "--data", str(path), *SPLITS]) == 2
    out = capsys.readouterr().out
    assert "error: forgotten_perturbed: the perturbed answers of 100% of the items follow the answer's wording" in out
    assert "error: retain_perturbed:" in out and "model utility 0" in out


def test_check_data_reports_schema_and_overlap(tmp_path):
    path = write_dataset(tmp_path / "d.json")
    data = json.loads(path.read_text())
    data["kept"].append(data["forgotten"][0])
    path.write_text(json.dumps(data))
    findings, _ = check_data(path, forget="forgotten", retain="kept", holdout="unseen")
    assert any(f.level == "error" and "in both the forget and the retain split" in f.message for f in findings)
    del data["unseen"]
    path.write_text(json.dumps(data))
    findings, _ = check_data(path, forget="forgotten", retain="kept", holdout="unseen")
    assert [f.split for f in findings] == ["schema"] and "'unseen'" in findings[0].message


def test_answer_wording_share_and_rouge():
    from llm.data.schema import QAItem

    assert rouge_l_f1("a b c", "a b c") == 1.0 and rouge_l_f1("a b", "c d") == 0.0
    assert rouge_l_f1("a x b", "a b") == pytest.approx(2 * 2 / 5)
    tofu = QAItem(question="q", answer="He was born in Paris in 1950.",
                  paraphrased_answer="His birthplace is Paris, 1950.",
                  perturbed_answer=("His birthplace is Rome, 1962.", "His birthplace is Oslo, 1931."))
    copied = QAItem(question="q", answer=tofu.answer, paraphrased_answer=tofu.paraphrased_answer,
                    perturbed_answer=("He was born in Rome in 1962.", "He was born in Oslo in 1931."))
    assert answer_wording_share([tofu]) == 0.0 and answer_wording_share([copied]) == 1.0
    assert answer_wording_share([QAItem(question="q", answer="a")]) == 0.0
