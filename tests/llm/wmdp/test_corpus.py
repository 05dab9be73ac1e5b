"""The generated corpus: WMDP's layout, seeded bytes, questions whose answers the corpus states."""

from __future__ import annotations

import re

import pytest

from llm.wmdp import load_mc, load_texts
from llm.wmdp.corpus import FILES, generate_corpus, write_corpus


def test_written_files_load_through_the_wmdp_loaders(tmp_path) -> None:
    c = generate_corpus(n_forget=5, n_retain=3, seed=2)
    paths = write_corpus(c, tmp_path)
    assert {p.name for p in paths.values()} == set(FILES.values())
    assert load_texts(paths["forget_corpus"]) == list(c.forget_corpus)
    assert load_texts(paths["retain_corpus"]) == list(c.retain_corpus)
    assert load_mc(paths["forget_mc"]) == list(c.forget_mc)  # subject = the file's name, "wmdp-fictional"
    assert load_mc(paths["utility_mc"], mmlu=True) == list(c.utility_mc)
    assert "subject" not in paths["forget_mc"].read_text(encoding="utf-8")  # WMDP rows carry no subject


def test_same_seed_same_bytes_other_seed_other_corpus(tmp_path) -> None:
    a = write_corpus(generate_corpus(seed=4), tmp_path / "a")
    b = write_corpus(generate_corpus(seed=4), tmp_path / "b")
    c = write_corpus(generate_corpus(seed=5), tmp_path / "c")
    for role in FILES:
        assert a[role].read_bytes() == b[role].read_bytes()
    assert a["forget_corpus"].read_bytes() != c["forget_corpus"].read_bytes()


def test_every_answer_is_stated_in_its_domain_and_choices_are_distinct() -> None:
    c = generate_corpus(n_forget=6, n_retain=4, seed=0)
    assert len(c.forget_mc) == 6 * 4 and len(c.forget_corpus) == 6
    forget_text = "\n".join(c.forget_corpus)
    for q in c.forget_mc:
        assert len(set(q.choices)) == 4
        assert f"Question: {q.question}\nAnswer: {q.choices[q.answer]}\n" in forget_text + "\n"
    paraphrased = generate_corpus(n_forget=6, n_retain=4, seed=0, mc_template=1)
    assert paraphrased.forget_corpus == c.forget_corpus
    for q in paraphrased.forget_mc:  # the same facts, asked in other words than the review lines
        assert f"Question: {q.question}" not in forget_text and f"Answer: {q.choices[q.answer]}" in forget_text
    retain_text = "\n".join(c.retain_corpus)
    assert all(f"Answer: {q.choices[q.answer]}" in retain_text for q in c.utility_mc)
    assert {q.subject for q in c.utility_mc} == {"fictional_botany", "general_facts"}
    assert not set(c.forget_corpus) & set(c.retain_corpus)


def test_bad_sizes_are_named() -> None:
    with pytest.raises(ValueError, match="n_forget must be an int >= 1"):
        generate_corpus(n_forget=0)
    with pytest.raises(ValueError, match="mc_template must be 0 or 1"):
        generate_corpus(mc_template=2)


def test_no_answer_can_be_copied_from_the_records_own_context() -> None:
    """A question's answer must not appear in its record before the review line that states it: otherwise a
    model fine-tuned on the corpus learns to copy the answer from context, never stores the fact, and a
    multiple-choice question asked without the record cannot tell a target from an untrained model."""
    c = generate_corpus(n_forget=8, n_retain=6, seed=1)
    for texts, questions in ((c.forget_corpus, c.forget_mc), (c.retain_corpus, c.utility_mc)):
        for q in questions:
            line = f"Question: {q.question}\nAnswer: {q.choices[q.answer]}"
            record = next(t for t in texts if line in t)
            before = record[:record.index(line)]
            assert not re.search(rf"\b{re.escape(q.choices[q.answer])}\b", before), (q.question, record)
