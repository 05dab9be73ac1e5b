"""WMDP / MMLU / corpus files: the published layouts load; bad rows fail naming the file, row and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm.wmdp import MCQuestion, load_mc, load_mc_files, load_texts

WMDP_ROWS = [{"question": "Which flask holds brine?", "choices": ["a", "b", "c", "d"], "answer": 2},
             {"question": "What colour is quartz?", "choices": ["w", "x", "y", "z"], "answer": 0}]


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_wmdp_jsonl_and_json_list_load_alike(tmp_path: Path) -> None:
    a = load_mc(_jsonl(tmp_path / "wmdp-bio.jsonl", WMDP_ROWS))
    (tmp_path / "wmdp-chem.json").write_text(json.dumps(WMDP_ROWS), encoding="utf-8")
    b = load_mc(tmp_path / "wmdp-chem.json")
    assert a[0] == MCQuestion(question="Which flask holds brine?", choices=("a", "b", "c", "d"), answer=2,
                              subject="wmdp-bio")
    assert [q.answer for q in b] == [2, 0] and {q.subject for q in b} == {"wmdp-chem"}
    both = load_mc_files([tmp_path / "wmdp-bio.jsonl", tmp_path / "wmdp-chem.json"])
    assert [q.subject for q in both] == ["wmdp-bio", "wmdp-bio", "wmdp-chem", "wmdp-chem"]


def test_mmlu_rows_keep_their_subject(tmp_path: Path) -> None:
    rows = [{**WMDP_ROWS[0], "subject": "high_school_biology"}]
    (q,) = load_mc(_jsonl(tmp_path / "mmlu.jsonl", rows), mmlu=True)
    assert q.subject == "high_school_biology"
    assert q.to_record(with_subject=True) == rows[0]


@pytest.mark.parametrize(("row", "message"), [
    ({"question": "q", "choices": ["a", "b", "c"], "answer": 0}, "key 'choices' must be a list of 4"),
    ({"question": "q", "choices": ["a", "b", "c", "d"], "answer": 4}, "key 'answer' must be an int index"),
    ({"question": "q", "choices": ["a", "b", "c", "d"], "answer": "A"}, "key 'answer' must be an int index"),
    ({"question": "", "choices": ["a", "b", "c", "d"], "answer": 0}, "key 'question'"),
    ({"choices": ["a", "b", "c", "d"], "answer": 0}, "missing key(s) ['question']"),
    ({"question": "q", "choices": ["a", "b", 3, "d"], "answer": 0}, "choice 2 is 3"),
])
def test_bad_mc_rows_name_file_row_and_key(tmp_path: Path, row: dict, message: str) -> None:
    path = _jsonl(tmp_path / "wmdp-bio.jsonl", [WMDP_ROWS[0], row])
    with pytest.raises(ValueError, match="wmdp-bio.jsonl: row 2") as err:
        load_mc(path)
    assert message in str(err.value)


def test_mmlu_needs_subject(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"row 1: missing key\(s\) \['subject'\]"):
        load_mc(_jsonl(tmp_path / "mmlu.jsonl", WMDP_ROWS), mmlu=True)


def test_corpus_records(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "bio-forget-corpus.jsonl", [{"text": "one", "title": "t"}, {"text": "two"}])
    assert load_texts(path) == ["one", "two"]
    bad = _jsonl(tmp_path / "retain.jsonl", [{"text": "one"}, {"body": "two"}])
    with pytest.raises(ValueError, match=r"retain.jsonl: row 2: missing key 'text'"):
        load_texts(bad)


def test_other_suffixes_and_empty_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(ValueError, match="parquet is not read"):
        load_mc(tmp_path / "x.parquet")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.jsonl: holds no records"):
        load_texts(tmp_path / "empty.jsonl")
    with pytest.raises(ValueError, match="is not a file"):
        load_mc(tmp_path / "missing.json")
