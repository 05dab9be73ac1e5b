"""A seeded generator of a TOFU-style corpus of fictitious authors, with TOFU's splits.

TOFU (Maini et al. 2024) has 200 fictitious authors x 20 QA pairs. Its forget sets are the LAST
authors of the full set (``forget01`` = the last 2 authors, ``forget05`` the last 10,
``forget10`` the last 20), so they are nested, and ``retainXX`` is the complement in the original
order. ``retain_perturbed`` holds as many retain authors as ``forget10`` (400 rows in TOFU), taken
from the front, so it lies inside every retain split. ``holdoutXX`` has the size of ``forgetXX`` and
comes from separate authors whose surnames are drawn from a disjoint list, never trained on.

Everything is drawn from ``random.Random`` instances seeded from ``seed`` and a fixed label, so the
same arguments give identical items and :func:`write_corpus` identical bytes.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from llm.data import vocab
from llm.data.facts import FACTS, Fact
from llm.data.loaders import REFERENCE_TABLES, load_reference_table
from llm.data.schema import ALL_FIELDS, QAItem
from ofmu_theory.io import write_json

GENERATOR_VERSION = 1
FORGET_PERCENTS: tuple[int, ...] = (1, 5, 10)
N_PERTURBED = 5
#: Question templates per fact (``llm.data.facts``): the template hold-out picks among these indices.
N_QUESTION_TEMPLATES = 3
_PRONOUNS = {
    "female": dict(pron="she", Pron="She", poss="her", Poss="Her", obj="her", was="was", **{"is": "is"}, has="has"),
    "male": dict(pron="he", Pron="He", poss="his", Poss="His", obj="him", was="was", **{"is": "is"}, has="has"),
    "nonbinary": dict(pron="they", Pron="They", poss="their", Poss="Their", obj="them", was="were",
                      **{"is": "are"}, has="have"),
}


@dataclass(frozen=True, kw_only=True)
class Author:
    """Every fact about one fictitious author (the generator's ground truth)."""

    author_id: int
    first: str
    last: str
    gender: str
    birthplace: tuple[str, str]
    birth_date: dt.date
    father_job: str
    mother_job: str
    genre: str
    award: str
    award_year: int
    books: tuple[str, str, str]
    theme: str
    influence: str
    field: str
    university_city: str
    residence: tuple[str, str]
    debut_year: int
    habit: str
    setting: str
    n_languages: int
    n_books: int
    hobby: str

    @property
    def name(self) -> str:
        """First name and surname."""
        return f"{self.first} {self.last}"


@dataclass(frozen=True, kw_only=True)
class TofuCorpus:
    """The generated splits (read-only mapping name -> items) and the arguments that made them."""

    splits: Mapping[str, tuple[QAItem, ...]]
    n_authors: int
    questions_per_author: int
    seed: int

    def split(self, name: str) -> tuple[QAItem, ...]:
        """The items of split ``name``; an unknown name lists the valid ones."""
        if name not in self.splits:
            raise ValueError(f"unknown split {name!r}; valid splits: {', '.join(self.splits)}")
        return self.splits[name]


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_slots(date: dt.date) -> dict[str, str]:
    month = vocab.MONTHS[date.month - 1]
    return {"date_a": f"{date.day} {month} {date.year}", "date_b": f"{month} {date.day}, {date.year}",
            "date_c": f"the {_ordinal(date.day)} of {month}, {date.year}"}


def _random_date(rng: random.Random, lo: int, hi: int) -> dt.date:
    return dt.date(rng.randint(lo, hi), rng.randint(1, 12), rng.randint(1, 28))


def _title(rng: random.Random) -> str:
    adj, noun, plural = rng.choice(vocab.TITLE_ADJECTIVES), rng.choice(vocab.TITLE_NOUNS), rng.choice(vocab.TITLE_PLURALS)
    patterns = (f"The {adj} {noun}", f"{plural} of the {noun}", f"The {noun}'s {plural}",
                f"A {noun} of {plural}", f"{adj} {plural}", f"The {noun} and the {plural}")
    return rng.choice(patterns)


def _count_word(n: int) -> str:
    return vocab.NUMBER_WORDS[n] if n < len(vocab.NUMBER_WORDS) else str(n)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slots(fact: str, a: Author) -> dict[str, str]:
    """The true values of ``fact`` for author ``a`` as template slots."""
    title_index = {"first_book": 0, "famous_book": 1, "latest_book": 2}
    if fact == "full_name":
        return {"name": a.name, "first": a.first, "last": a.last}
    if fact == "birthplace":
        return {"bcity": a.birthplace[0], "bcountry": a.birthplace[1]}
    if fact == "birth_date":
        return _date_slots(a.birth_date)
    if fact in ("father_job", "mother_job"):
        job = getattr(a, fact)
        return {"job": job, "job_cap": _cap(job)}
    if fact in title_index:
        return {"title": a.books[title_index[fact]]}
    if fact == "theme":
        return {"theme": a.theme, "theme_cap": _cap(a.theme)}
    if fact == "education":
        return {"field": a.field, "ucity": a.university_city}
    if fact == "residence":
        return {"rcity": a.residence[0], "rcountry": a.residence[1]}
    if fact in ("award_year", "debut_year"):
        return {fact: str(getattr(a, fact))}
    if fact == "translations":
        return {"n_lang": _count_word(a.n_languages)}
    if fact == "book_count":
        return {"n_books": _count_word(a.n_books)}
    return {fact: getattr(a, fact)}  # genre, award, influence, habit, setting, hobby


def _wrong_slots(fact: str, a: Author, rng: random.Random, names: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """One random wrong value of ``fact`` for ``a``, drawn from the same attribute's vocabulary."""
    pick = rng.choice
    if fact == "full_name":
        first, last = pick(names)
        return {"name": f"{first} {last}", "first": first, "last": last}
    if fact == "birthplace":
        city, country = pick(vocab.PLACES)
        return {"bcity": city, "bcountry": country}
    if fact == "birth_date":
        return _date_slots(_random_date(rng, a.birth_date.year - 12, a.birth_date.year + 12))
    if fact in ("father_job", "mother_job"):
        job = pick(vocab.PROFESSIONS)
        return {"job": job, "job_cap": _cap(job)}
    if fact in ("first_book", "famous_book", "latest_book"):
        return {"title": _title(rng)}
    if fact == "theme":
        theme = pick(vocab.THEMES)
        return {"theme": theme, "theme_cap": _cap(theme)}
    if fact == "education":
        return {"field": pick(vocab.FIELDS_OF_STUDY), "ucity": pick(vocab.PLACES)[0]}
    if fact == "residence":
        city, country = pick(vocab.PLACES)
        return {"rcity": city, "rcountry": country}
    if fact in ("award_year", "debut_year"):
        year = getattr(a, fact) + pick((-1, 1)) * rng.randint(1, 12)
        return {fact: str(year)}
    if fact == "translations":
        return {"n_lang": _count_word(rng.randint(2, 20))}
    if fact == "book_count":
        return {"n_books": _count_word(rng.randint(2, 20))}
    table = {"genre": vocab.GENRES, "award": vocab.AWARDS, "influence": vocab.INFLUENCES,
             "habit": vocab.HABITS, "setting": vocab.SETTINGS, "hobby": vocab.HOBBIES}
    return {fact: pick(table[fact])}


def _context(a: Author) -> dict[str, str]:
    ctx = {"name": a.name, "first": a.first, "last": a.last, **_PRONOUNS[a.gender]}
    for fact in ("birthplace", "birth_date", "award"):
        ctx.update(_slots(fact, a))
    return ctx


def _make_item(fact: Fact, a: Author, rng: random.Random, names: tuple[tuple[str, str], ...],
               templates: tuple[int, ...] | None = None) -> QAItem:
    ctx = _context(a)
    truth = {**ctx, **_slots(fact.name, a)}
    para_template = rng.choice(fact.para_answers)
    para = _cap(para_template.format(**truth))
    wrong: list[str] = []
    while len(wrong) < N_PERTURBED:
        text = _cap(para_template.format(**{**ctx, **_wrong_slots(fact.name, a, rng, names)}))
        if text != para and text not in wrong:
            wrong.append(text)
    return QAItem(
        question=_cap(rng.choice(_pick(fact.questions, templates)).format(**truth)),
        answer=_cap(rng.choice(fact.answers).format(**truth)),
        paraphrased_answer=para,
        perturbed_answer=tuple(wrong),
        paraphrased_question=_cap(rng.choice(fact.para_questions).format(**truth)),
        author_id=a.author_id,
    )


def _pick(questions: tuple[str, ...], templates: tuple[int, ...] | None) -> tuple[str, ...]:
    """The question templates allowed (indices into the fact's list; None: all of them)."""
    return questions if templates is None else tuple(questions[i] for i in templates)


def _name_pool(surnames: tuple[str, ...], seed: int, label: str) -> list[tuple[str, str, str]]:
    firsts = [(f, "female") for f in vocab.FIRST_NAMES_FEMALE] + [(f, "male") for f in vocab.FIRST_NAMES_MALE]
    firsts += [(f, "nonbinary") for f in vocab.FIRST_NAMES_NEUTRAL]
    pool = [(first, last, gender) for last in surnames for first, gender in firsts]
    random.Random(f"{seed}:{label}:names").shuffle(pool)
    return pool


def _make_author(author_id: int, name: tuple[str, str, str], rng: random.Random) -> Author:
    first, last, gender = name
    birth = _random_date(rng, 1930, 1985)
    debut = birth.year + rng.randint(19, 35)
    books = []
    while len(books) < 3:
        title = _title(rng)
        if title not in books:
            books.append(title)
    jobs = rng.sample(vocab.PROFESSIONS, 2)
    return Author(
        author_id=author_id, first=first, last=last, gender=gender, birthplace=rng.choice(vocab.PLACES),
        birth_date=birth, father_job=jobs[0], mother_job=jobs[1], genre=rng.choice(vocab.GENRES),
        award=rng.choice(vocab.AWARDS), award_year=min(debut + rng.randint(2, 20), 2023), books=tuple(books),
        theme=rng.choice(vocab.THEMES), influence=rng.choice(vocab.INFLUENCES),
        field=rng.choice(vocab.FIELDS_OF_STUDY), university_city=rng.choice(vocab.PLACES)[0],
        residence=rng.choice(vocab.PLACES), debut_year=debut, habit=rng.choice(vocab.HABITS),
        setting=rng.choice(vocab.SETTINGS), n_languages=rng.randint(3, 20), n_books=rng.randint(3, 20),
        hobby=rng.choice(vocab.HOBBIES),
    )


def generate_authors(
    n: int, *, seed: int, holdout: bool = False, first_id: int = 0, avoid: Iterable[Author] = ()
) -> list[Author]:
    """``n`` authors with unique names and unique (birth city, birth date) pairs.

    Args:
        n: how many authors.
        seed: the random seed.
        holdout: draw surnames from the holdout list (disjoint from the main list).
        first_id: the ``author_id`` of the first author.
        avoid: authors whose (birth city, birth date) must not recur (keeps full-name questions unique).
    """
    label = "holdout" if holdout else "main"
    pool = _name_pool(vocab.SURNAMES_HOLDOUT if holdout else vocab.SURNAMES_MAIN, seed, label)
    if n > len(pool):
        raise ValueError(f"n must be <= {len(pool)} (distinct {label} names available), got {n=}")
    authors, seen = [], {(a.birthplace[0], a.birth_date) for a in avoid}
    for i in range(n):
        rng = random.Random(f"{seed}:{label}:author:{i}")
        author = _make_author(first_id + i, pool[i], rng)
        while (author.birthplace[0], author.birth_date) in seen:  # keep full-name questions unique
            author = _make_author(first_id + i, pool[i], rng)
        seen.add((author.birthplace[0], author.birth_date))
        authors.append(author)
    return authors


def author_items(author: Author, *, questions_per_author: int, seed: int, label: str = "main",
                 question_templates: tuple[int, ...] | None = None) -> list[QAItem]:
    """The QA items about one author: ``questions_per_author`` facts, in canonical fact order.

    ``label`` ("main" or "holdout") picks the random stream and the surname list wrong names come from;
    ``question_templates`` restricts the question wording to those template indices (None: all).
    """
    rng = random.Random(f"{seed}:{label}:items:{author.author_id}")
    chosen = sorted(rng.sample(range(len(FACTS)), questions_per_author))
    surnames = vocab.SURNAMES_HOLDOUT if label == "holdout" else vocab.SURNAMES_MAIN
    firsts = vocab.FIRST_NAMES_FEMALE + vocab.FIRST_NAMES_MALE + vocab.FIRST_NAMES_NEUTRAL
    names = tuple((f, s) for f in firsts for s in surnames)
    return [_make_item(FACTS[k], author, rng, names, question_templates) for k in chosen]


def n_split_authors(n_authors: int, percent: int) -> int:
    """Authors in a ``forget{percent:02d}`` split: round(n_authors * percent / 100), at least 1."""
    return max(1, math.floor(n_authors * percent / 100 + 0.5))


def generate_corpus(
    *, n_authors: int = 200, questions_per_author: int = 20, seed: int = 0, include_reference: bool = True,
    question_templates: tuple[int, ...] | None = None,
) -> TofuCorpus:
    """Generate the fictitious-author corpus and TOFU's splits.

    Args:
        n_authors: number of (forget + retain) authors; TOFU has 200.
        questions_per_author: QA pairs per author, at most ``len(FACTS)`` (21); TOFU has 20.
        seed: the random seed; the same arguments give identical output.
        include_reference: also add the shipped ``real_authors_perturbed`` / ``world_facts_perturbed``.
        question_templates: indices of the question templates every fact may use (each fact has
            ``N_QUESTION_TEMPLATES``); None: all. Two corpora with disjoint indices never share a wording
            (the benches tune on one and report on the other).

    Returns:
        A :class:`TofuCorpus` with splits ``full``, ``forget01/05/10``, ``retain99/95/90``,
        ``forgetXX_perturbed``, ``retain_perturbed``, ``holdout01/05/10`` (and the two reference tables).
    """
    if isinstance(n_authors, bool) or not isinstance(n_authors, int) or n_authors < 10:
        raise ValueError(f"n_authors must be an int >= 10, got {n_authors=!r}")
    if not isinstance(questions_per_author, int) or not 1 <= questions_per_author <= len(FACTS):
        raise ValueError(f"questions_per_author must be an int in [1, {len(FACTS)}], got {questions_per_author=!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed=!r}")
    if question_templates is not None:
        question_templates = tuple(question_templates)
        if not question_templates or any(isinstance(i, bool) or not isinstance(i, int)
                                         or not 0 <= i < N_QUESTION_TEMPLATES for i in question_templates):
            raise ValueError(f"question_templates must be a non-empty set of indices in [0, {N_QUESTION_TEMPLATES}), "
                             f"got {question_templates=!r}")
    sizes = {p: n_split_authors(n_authors, p) for p in FORGET_PERCENTS}
    n_holdout = sizes[max(FORGET_PERCENTS)]
    main = generate_authors(n_authors, seed=seed)
    held = generate_authors(n_holdout, seed=seed, holdout=True, first_id=n_authors, avoid=main)
    per_author = [author_items(a, questions_per_author=questions_per_author, seed=seed,
                               question_templates=question_templates) for a in main]
    held_items = [author_items(a, questions_per_author=questions_per_author, seed=seed, label="holdout",
                               question_templates=question_templates) for a in held]

    def flat(groups: list[list[QAItem]]) -> tuple[QAItem, ...]:
        return tuple(item for group in groups for item in group)

    splits: dict[str, tuple[QAItem, ...]] = {"full": flat(per_author)}
    for p, k in sizes.items():
        splits[f"forget{p:02d}"] = flat(per_author[n_authors - k:])
        splits[f"retain{100 - p:02d}"] = flat(per_author[: n_authors - k])
    for p, k in sizes.items():
        splits[f"forget{p:02d}_perturbed"] = flat(per_author[n_authors - k:])
    splits["retain_perturbed"] = flat(per_author[:n_holdout])
    for p, k in sizes.items():
        splits[f"holdout{p:02d}"] = flat(held_items[n_holdout - k:])
    if include_reference:
        for name in REFERENCE_TABLES:
            splits[name] = tuple(load_reference_table(name))
    return TofuCorpus(splits=types.MappingProxyType(splits), n_authors=n_authors,
                      questions_per_author=questions_per_author, seed=seed)


def _split_fields(name: str) -> tuple[str, ...]:
    """TOFU's plain splits carry question and answer only; the others carry every field."""
    if name == "full" or (name.startswith(("forget", "retain")) and not name.endswith("_perturbed")):
        return ("question", "answer", "author_id")
    return ALL_FIELDS


def write_corpus(corpus: TofuCorpus, folder: str | os.PathLike[str]) -> list[Path]:
    """Write each split to ``folder/<split>.json`` (a JSON list) plus ``corpus_info.json``, atomically.

    Returns:
        The paths written, in order.
    """
    root = Path(folder)
    written = []
    for name, items in corpus.splits.items():
        path = root / f"{name}.json"
        write_json(path, [item.to_record(_split_fields(name)) for item in items])
        written.append(path)
    info = {
        "generator_version": GENERATOR_VERSION, "n_authors": corpus.n_authors,
        "questions_per_author": corpus.questions_per_author, "seed": corpus.seed,
        "splits": {name: len(items) for name, items in corpus.splits.items()},
    }
    write_json(root / "corpus_info.json", info)
    written.append(root / "corpus_info.json")
    return written
