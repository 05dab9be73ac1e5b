"""The WMDP bench end to end on files in the published layout (as a user passes real WMDP / MMLU files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm.cli import main
from llm.wmdp.corpus import generate_corpus
from llm.wmdp.prepare import WmdpConfig, split_questions

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _jsonl(path: Path, rows: list) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def real_layout(tmp_path_factory) -> dict[str, list[str]]:
    """The generated corpus written under the hub datasets' names: a bio and a chem question file, two MMLU subjects."""
    root = tmp_path_factory.mktemp("wmdp-files")
    c = generate_corpus(n_forget=4, n_retain=4, seed=5)
    half = len(c.forget_mc) // 2
    strip = [q.to_record(with_subject=False) for q in c.forget_mc]
    return {
        "--forget-corpus": [_jsonl(root / "bio-forget-corpus.jsonl", [{"text": t, "title": "t"} for t in c.forget_corpus])],
        "--retain-corpus": [_jsonl(root / "bio-retain-corpus.jsonl", [{"text": t} for t in c.retain_corpus])],
        "--forget-mc": [_jsonl(root / "wmdp-bio.jsonl", strip[:half]), _jsonl(root / "wmdp-chem.jsonl", strip[half:])],
        "--utility-mc": [_jsonl(root / "mmlu.jsonl", [q.to_record(with_subject=True) for q in c.utility_mc])],
    }


def test_wmdp_bench_on_local_files_in_the_published_layout(real_layout, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OFMU_CACHE", str(tmp_path / "cache"))
    data = [arg for flag, paths in real_layout.items() for p in paths for arg in (flag, p)]
    out = tmp_path / "bench"
    argv = ["llm", "wmdp-bench", "--out", str(out), "--profile", "smoke", "--methods", "rmu,ofmu", "--quiet",
            "--size", "micro", "--train-epochs", "2", "--max-length", "128", "--truncate", *data]
    assert main(argv) == 0
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    level = report["levels"][0]
    for name in ("rmu", "ofmu"):
        summary = level["methods"][name]["summary"]
        for key in ("forget_acc", "utility_acc", "forget_ppl", "wall_s", "peak_mib"):
            assert {"mean", "low", "high"} <= set(summary[key]), (name, key)
        assert 0.0 <= summary["forget_acc"]["mean"] <= 1.0
        assert len(level["methods"][name]["per_seed"]) == 2
    subjects = report["entry"]["target"]["eval"]["per_subject"]
    assert {"wmdp-bio", "wmdp-chem", "fictional_botany", "general_facts"} <= set(subjects)
    assert report["versus_rmu"]["1x"]["baseline"] == "rmu"
    assert report["verdict"]["1x"]["metric"] == "forget_acc"
    assert (out / "forget_vs_utility_1x.png").stat().st_size > 0
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "OFMU vs RMU" in readme and "Verdict:" in readme
    # a rerun reads every run from the cache
    assert main([*argv, "--overwrite"]) == 0
    again = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert again["runs"]["executed"] == 0 and again["levels"][0]["methods"]["ofmu"]["per_seed"] == level["methods"]["ofmu"]["per_seed"]


def test_partial_local_data_is_refused(real_layout, tmp_path, capsys) -> None:
    argv = ["llm", "wmdp-bench", "--out", str(tmp_path / "b"), "--forget-corpus", real_layout["--forget-corpus"][0]]
    assert main(argv) == 2
    assert "local data needs all four" in capsys.readouterr().err


def test_split_is_seeded_per_subject_and_disjoint() -> None:
    c = generate_corpus(n_forget=6, n_retain=3, seed=1)
    a = split_questions(c.utility_mc, share=1 / 3, seed=0)
    assert a == split_questions(c.utility_mc, share=1 / 3, seed=0)
    assert len(a["tune"]) + len(a["eval"]) == len(c.utility_mc)
    assert not {id(q) for q in a["tune"]} & {id(q) for q in a["eval"]}
    for subject in ("fictional_botany", "general_facts"):
        n = sum(q.subject == subject for q in c.utility_mc)
        assert sum(q.subject == subject for q in a["tune"]) == round(n / 3)
    with pytest.raises(ValueError, match="tune_share must be in"):
        WmdpConfig(tune_share=1.0)
