"""``ofmu llm check-data``: a TOFU-format dataset's schema and its degenerate cases, found before any training.

The degenerate cases are those that run for hours and then report numbers without meaning:

* **perturbed answers in the answer's wording.** TOFU writes each perturbed (false) answer in the style of
  the *paraphrased* answer, and the truth ratio compares them with it: R = P(perturbed)^(1/n) /
  P(paraphrased)^(1/n). When the perturbed answers copy the answer's wording instead, a model fine-tuned on
  the answers gives them far more probability than the paraphrase: R ≫ 1, so max(0, 1 − R) = 0 on every
  retain item and model utility (a harmonic mean that includes it) is 0 for the target and retain models
  alike. Measured here by word-level ROUGE-L F1: a perturbed answer closer to the answer than to the
  paraphrased answer counts against the item.
* a perturbed or paraphrased answer equal to the answer, a question shared by forget and retain, too few
  items to evaluate, a holdout that overlaps the training splits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from llm.data.local import local_splits
from llm.data.schema import QAItem

#: Share of an evaluation split's items whose perturbed answers follow the answer's wording above which the
#: split is flagged (a dataset in TOFU's convention has almost none).
ANSWER_WORDING_SHARE = 0.5


@dataclass(frozen=True)
class Finding:
    """One problem of a dataset: ``level`` "error" (the evaluation would be meaningless or fail) or "warning"."""

    level: str
    split: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.split}: {self.message}"


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, start=1):
            prev, row[j] = row[j], prev + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def rouge_l_f1(a: str, b: str) -> float:
    """Word-level ROUGE-L F1 of two texts (lower-cased, split on white space)."""
    x, y = a.lower().split(), b.lower().split()
    common = _lcs(x, y)
    return 0.0 if common == 0 else 2 * common / (len(x) + len(y))


def answer_wording_share(items: Sequence[QAItem]) -> float:
    """Share of ``items`` whose perturbed answers are, on average, closer to the answer than to the
    paraphrased answer (items without both are skipped; 0 when none has them)."""
    scored = [it for it in items if it.perturbed_answer and it.paraphrased_answer and
              it.paraphrased_answer != it.answer]
    if not scored:
        return 0.0
    closer = 0
    for it in scored:
        to_answer = sum(rouge_l_f1(p, it.answer) for p in it.perturbed_answer)
        to_para = sum(rouge_l_f1(p, it.paraphrased_answer) for p in it.perturbed_answer)
        closer += to_answer > to_para
    return closer / len(scored)


def _split_findings(name: str, items: Sequence[QAItem]) -> list[Finding]:
    out: list[Finding] = []
    share = answer_wording_share(items)
    if share > ANSWER_WORDING_SHARE:
        out.append(Finding("error", name, f"the perturbed answers of {share:.0%} of the items follow the answer's "
                           "wording rather than the paraphrased answer's (TOFU's convention): the truth ratio "
                           "would be ~0 on every item and model utility 0 for the target and retain models alike"))
    same_para = sum(it.paraphrased_answer == it.answer for it in items if it.paraphrased_answer)
    if same_para == len(items):
        out.append(Finding("warning", name, "every paraphrased_answer equals the answer: Prob and the truth ratio "
                           "then compare the trained answer with the perturbed ones"))
    copies = [i for i, it in enumerate(items) if it.perturbed_answer and
              any(p.strip() == it.answer.strip() for p in it.perturbed_answer)]
    if copies:
        out.append(Finding("error", name, f"{len(copies)} item(s) have a perturbed (false) answer equal to the "
                           f"answer, e.g. record {copies[0]}"))
    if len(items) < 2:
        out.append(Finding("error", name, f"{len(items)} item(s): the evaluation needs at least 2"))
    return out


def check_data(source: str | os.PathLike[str], *, forget: str, retain: str, holdout: str,
               question_key: str = "question") -> tuple[list[Finding], list[str]]:
    """The findings on a local dataset and the notices of the splits derived from others.

    Args:
        source: a JSON file of named splits or a folder of split files (:mod:`llm.data.local`).
        forget, retain, holdout: the split names.
        question_key: the question the forget metrics will be asked.
    """
    try:
        splits, notices = local_splits(source, forget=forget, retain=retain, holdout=holdout)
    except ValueError as err:
        return [Finding("error", "schema", str(err))], []
    findings: list[Finding] = []
    forget_q = {it.question for it in splits[forget]}
    retain_q = {it.question for it in splits[retain]}
    shared = forget_q & retain_q
    if shared:
        findings.append(Finding("error", f"{forget}/{retain}", f"{len(shared)} question(s) in both the forget and "
                                f"the retain split, e.g. {sorted(shared)[0]!r}"))
    leaked = {it.question for it in splits[holdout]} & (forget_q | retain_q)
    if leaked:
        findings.append(Finding("warning", holdout, f"{len(leaked)} holdout question(s) also in the training "
                                "splits: the membership-inference attacks then see members as non-members"))
    for name in (f"{forget}_perturbed", "retain_perturbed", "real_authors_perturbed", "world_facts_perturbed"):
        if name.startswith(("real_authors", "world_facts")) and any("shipped" in n and n.startswith(name)
                                                                    for n in notices):
            continue
        findings += _split_findings(name, splits[name])
    if question_key != "question":
        lacking = sum(getattr(it, question_key) is None for it in splits[f"{forget}_perturbed"])
        if lacking:
            findings.append(Finding("error", f"{forget}_perturbed", f"{lacking} item(s) without {question_key!r}"))
    if len(splits[holdout]) < 2:
        findings.append(Finding("error", holdout, "the holdout split needs at least 2 items (the attacks' AUC)"))
    return findings, notices
