"""Schema validation, loaders, the shipped tables and the corpus generator."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from llm.data import (
    QAItem,
    check_disjoint,
    generate_corpus,
    load_folder,
    load_reference_table,
    load_split,
    load_tofu_hub,
    n_split_authors,
    validate_records,
    write_corpus,
)
from llm.data import vocab
from llm.data.facts import FACTS

GOOD = {"question": "Q?", "answer": "A.", "paraphrased_answer": "B.", "perturbed_answer": ["W1", "W2"],
        "paraphrased_question": "Q2?"}


# --- schema --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("record", "field", "problem"), [
    ({"answer": "A"}, "question", "missing"),
    ({"question": "Q", "answer": 3}, "answer", "must be a str"),
    ({"question": "Q", "answer": "  "}, "answer", "non-empty"),
    ({"question": "Q", "answer": "A", "perturbed_answer": "W"}, "perturbed_answer", "list of str"),
    ({"question": "Q", "answer": "A", "perturbed_answer": ["W", 2]}, "perturbed_answer[1]", "must be a str"),
    ({"question": "Q", "answer": "A", "author_id": -1}, "author_id", "non-negative"),
])
def test_bad_record_names_index_and_field(record, field, problem):
    with pytest.raises(ValueError, match=rf"record 1 of split 'demo': field {re.escape(repr(field))}.*{problem}"):
        validate_records([GOOD, record], split="demo")


def test_required_fields_and_option_count():
    with pytest.raises(ValueError, match="field 'paraphrased_answer' is missing"):
        validate_records([{"question": "Q", "answer": "A"}], split="s", require=("question", "answer", "paraphrased_answer"))
    with pytest.raises(ValueError, match="must hold 5 answers, got 2"):
        validate_records([GOOD], n_perturbed=5)
    with pytest.raises(ValueError, match="is empty"):
        validate_records([], split="forget01")
    with pytest.raises(ValueError, match="must be a list"):
        validate_records({"question": "Q"})
    with pytest.raises(ValueError, match="JSON object"):
        validate_records(["text"])


def test_parsed_item_roundtrip():
    item = validate_records([GOOD])[0]
    assert item.perturbed_answer == ("W1", "W2") and item.author_id is None
    assert item.to_record() == GOOD
    with pytest.raises(ValueError, match="no 'paraphrased_answer'"):
        QAItem(question="Q", answer="A").field("paraphrased_answer")


def test_check_disjoint():
    a = [QAItem(question="q1", answer="a"), QAItem(question="q2", answer="a")]
    b = [QAItem(question="q3", answer="a"), QAItem(question="q2", answer="b")]
    with pytest.raises(ValueError, match=r"forget\[1\] == retain\[1\]"):
        check_disjoint(a, b)
    check_disjoint(a, b[:1])


# --- loaders -------------------------------------------------------------------------------------

def test_json_and_jsonl_loaders(tmp_path):
    (tmp_path / "forget01.json").write_text(json.dumps([GOOD, GOOD]))
    (tmp_path / "forget01_perturbed.jsonl").write_text("\n".join(json.dumps(GOOD) for _ in range(3)) + "\n")
    (tmp_path / "lines.json").write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD))  # TOFU's own .json style
    assert len(load_split(tmp_path / "forget01.json")) == 2
    assert len(load_split(tmp_path / "lines.json")) == 2
    splits = load_folder(tmp_path, ["forget01", "forget01_perturbed"])
    assert [len(v) for v in splits.values()] == [2, 3]
    (tmp_path / "bad_perturbed.json").write_text(json.dumps([{"question": "Q", "answer": "A"}]))
    with pytest.raises(ValueError, match="split 'bad_perturbed': field 'paraphrased_answer' is missing"):
        load_split(tmp_path / "bad_perturbed.json")
    (tmp_path / "broken.jsonl").write_text('{"question": "Q", "answer": "A"}\n{oops\n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        load_split(tmp_path / "broken.jsonl")
    with pytest.raises(ValueError, match="not a file"):
        load_split(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="split 'holdout01' not found"):
        load_folder(tmp_path, ["holdout01"])


def test_hub_loader_without_datasets_names_the_fix(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(ValueError, match="pip install datasets"):
        load_tofu_hub("forget01")


@pytest.mark.parametrize("name", ["real_authors_perturbed", "world_facts_perturbed"])
def test_reference_tables(name):
    items = load_reference_table(name)
    assert 40 <= len(items) <= 60
    assert len({it.question for it in items}) == len(items)
    for it in items:
        assert len(it.perturbed_answer) == 3 and it.answer not in it.perturbed_answer
        assert it.paraphrased_answer == it.answer


# --- generator -----------------------------------------------------------------------------------

def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_generator_is_byte_deterministic(tmp_path):
    for name in ("a", "b"):
        write_corpus(generate_corpus(n_authors=20, questions_per_author=6, seed=11), tmp_path / name)
    write_corpus(generate_corpus(n_authors=20, questions_per_author=6, seed=12), tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["full.json"] != _digest(tmp_path / "c")["full.json"]
    reloaded = load_folder(tmp_path / "a", ["forget05_perturbed", "retain95"])
    assert len(reloaded["forget05_perturbed"][0].perturbed_answer) == 5


def test_split_sizes_nesting_and_order():
    n, q = 40, 5
    c = generate_corpus(n_authors=n, questions_per_author=q, seed=0)
    assert len(c.split("full")) == n * q
    assert [n_split_authors(200, p) for p in (1, 5, 10)] == [2, 10, 20]  # TOFU's 40 / 200 / 400 rows
    full_q = [it.question for it in c.split("full")]
    for p in (1, 5, 10):
        k = n_split_authors(n, p)
        forget, retain = c.split(f"forget{p:02d}"), c.split(f"retain{100 - p:02d}")
        assert len(forget) == k * q and len(retain) == (n - k) * q
        assert [it.question for it in forget] == full_q[(n - k) * q:]  # forget authors are the LAST authors
        assert [it.question for it in retain] == full_q[: (n - k) * q]
        assert {it.author_id for it in forget} == set(range(n - k, n))
        check_disjoint(forget, retain)
        assert c.split(f"forget{p:02d}_perturbed") == forget
        assert len(c.split(f"holdout{p:02d}")) == len(forget)
    assert set(c.split("forget01")) <= set(c.split("forget05")) <= set(c.split("forget10"))
    assert set(c.split("holdout01")) <= set(c.split("holdout05")) <= set(c.split("holdout10"))
    assert set(c.split("retain_perturbed")) <= set(c.split("retain90"))
    assert len(c.split("retain_perturbed")) == len(c.split("forget10"))


def test_holdout_authors_are_disjoint():
    c = generate_corpus(n_authors=30, questions_per_author=21, seed=5)
    assert not set(vocab.SURNAMES_MAIN) & set(vocab.SURNAMES_HOLDOUT)
    main_text = " ".join(it.question + it.answer for it in c.split("full"))
    held = c.split("holdout10")
    check_disjoint(held, c.split("full"), names=("holdout", "full"))
    assert min(it.author_id for it in held) >= 30
    for surname in vocab.SURNAMES_HOLDOUT:
        assert surname not in main_text
    assert len({it.question for it in c.split("full")}) == len(c.split("full"))


def test_items_have_varied_paraphrases_and_plausible_perturbations():
    c = generate_corpus(n_authors=10, questions_per_author=len(FACTS), seed=2)
    items = c.split("full")
    for it in items:
        a, p = it.answer.lower().split(), it.paraphrased_answer.lower().split()
        differing = set(a) ^ set(p)
        assert len(differing) > 1, (it.answer, it.paraphrased_answer)
        assert it.paraphrased_question != it.question
        assert len(it.perturbed_answer) == 5 and len(set(it.perturbed_answer)) == 5
        assert it.paraphrased_answer not in it.perturbed_answer
    # several phrasings of the same fact are in use
    birthplace = [it.question.split(" ")[0] for it in items if "born?" in it.question or "birthplace" in it.question]
    assert len(set(birthplace)) > 1


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_authors"):
        generate_corpus(n_authors=5)
    with pytest.raises(ValueError, match="questions_per_author"):
        generate_corpus(n_authors=10, questions_per_author=len(FACTS) + 1)
    with pytest.raises(ValueError, match="unknown split 'forget02'"):
        generate_corpus(n_authors=10, questions_per_author=2).split("forget02")


def test_question_template_holdout_gives_disjoint_wordings():
    from llm.data.facts import FACTS

    tune = generate_corpus(n_authors=10, questions_per_author=21, seed=1, question_templates=(0, 1))
    held = generate_corpus(n_authors=10, questions_per_author=21, seed=2, question_templates=(2,))
    # the template a question came from: the one whose fixed words (outside the slots) it contains
    def templates_of(corpus):
        used = set()
        for item in corpus.split("full"):
            for f, fact in enumerate(FACTS):
                for t, template in enumerate(fact.questions):
                    head = template.split("{")[0].strip()
                    if head and item.question.startswith(head[:1].upper() + head[1:]):
                        used.add((f, t))
        return used
    tune_used, held_used = templates_of(tune), templates_of(held)
    assert held_used and tune_used
    assert all(t == 2 for _, t in held_used - tune_used)
    assert not any(t == 2 for _, t in tune_used - held_used)
    assert generate_corpus(n_authors=10, questions_per_author=4, seed=0).split("full") == \
        generate_corpus(n_authors=10, questions_per_author=4, seed=0, question_templates=None).split("full")
    with pytest.raises(ValueError, match="question_templates"):
        generate_corpus(n_authors=10, questions_per_author=4, question_templates=(3,))
