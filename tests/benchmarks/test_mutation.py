"""Resuming a mutation run: unchanged mutants keep their outcome, changed or unhashed ones run again; re-running
survivors finds a mutant whose line changed around it."""

from __future__ import annotations

from pathlib import Path

from benchmarks import mutation
from benchmarks.mutants import mutants_of
from benchmarks.mutation import reusable, run_package, source_hash


def _mutants(folder: Path, text: str) -> list:
    path = folder / "m.py"
    path.write_text(text)
    return mutants_of(path, folder)


def test_reusable_keeps_only_unchanged_mutants_of_the_same_seed(tmp_path: Path) -> None:
    before = _mutants(tmp_path, "def f(x):\n    return x + 1\n\n\ndef g(y):\n    return y < 2\n")
    stored = {"seed": 0, "mutants": [{"key": m.key, "outcome": "killed", "source_sha": source_hash(m)} for m in before]}
    assert set(reusable(stored, before, seed=0)) == {m.key for m in before}
    assert reusable(stored, before, seed=1) == {}
    # a change elsewhere in the file keeps the mutants of f their keys (a key names the line) but not their source
    after = _mutants(tmp_path, "def f(x):\n    return x + 1\n\n\ndef g(y):\n    return y < 3\n")
    assert {m.key for m in after} & {m.key for m in before}
    assert reusable(stored, after, seed=0) == {}
    unhashed = {"seed": 0, "mutants": [{"key": m.key, "outcome": "killed"} for m in before]}
    assert reusable(unhashed, before, seed=0) == {}


def test_a_resumed_run_runs_only_the_mutants_it_has_no_outcome_for(monkeypatch, tmp_path: Path) -> None:
    _mutants(tmp_path, "def f(x, y):\n    if x < y and y > 0:\n        return x + 2 * y\n    return -x\n")
    monkeypatch.setitem(mutation.PACKAGES, "tiny", mutation.Package(files=("m.py",), tests=()))
    ran: list[str] = []

    def execute(copy, pkg, mutant, base_s):
        ran.append(mutant.key)
        return "killed", 0.5

    monkeypatch.setattr(mutation, "_baseline", lambda copy, name, pkg: 1.0)
    monkeypatch.setattr(mutation, "_execute", execute)
    args = {"copy": tmp_path, "seed": 3, "budget_s": 1e9, "log": lambda msg: None, "save": lambda record: None}
    first = run_package("tiny", sample=4, **args)
    assert len(ran) == 4 and first["ran"] == 4 and first["kept"] == 0
    ran.clear()
    resumed = run_package("tiny", sample=6, previous=first, **args)  # a larger sample of the same seed
    assert len(ran) == 2 and resumed["ran"] == 6 and resumed["kept"] == 4
    assert resumed["mutants"][:4] == first["mutants"]
    ran.clear()
    other_seed = run_package("tiny", sample=4, previous={**first, "seed": 4}, **args)
    assert len(ran) == 4 and other_seed["kept"] == 0


def test_a_rerun_finds_a_survivor_whose_line_changed_around_it(monkeypatch, tmp_path: Path) -> None:
    """The key hashes the whole line: an edit elsewhere on it changes the key, and the re-run finds the
    mutant by its file, operator and before/after text when exactly one current mutant matches."""
    old = next(m for m in _mutants(tmp_path, "def f(x):\n    return g(x, flag=False)\n") if m.after == "True")
    monkeypatch.setitem(mutation.PACKAGES, "tiny", mutation.Package(files=("m.py",), tests=()))
    monkeypatch.setattr(mutation, "_baseline", lambda copy, name, pkg: 1.0)
    ran: list[str] = []

    def execute(copy, pkg, mutant, base_s):
        ran.append(mutant.key)
        return "killed", 0.5

    monkeypatch.setattr(mutation, "_execute", execute)
    entry = {"key": old.key, "path": old.path, "line": old.line, "operator": old.operator, "before": old.before,
             "after": old.after, "outcome": "survived"}
    args = {"copy": tmp_path, "log": lambda msg: None, "save": lambda record: None}

    changed = _mutants(tmp_path, "def f(x):\n    y = x\n    return h(y, flag=False)\n")
    new = next(m for m in changed if m.after == "True")
    assert new.key != old.key
    record = mutation.rerun_survivors("tiny", {"mutants": [dict(entry)]}, **args)
    assert ran == [new.key]
    assert record["mutants"][0] | {"rerun": "-"} == {**entry, "key": new.key, "key_before": old.key, "line": 3,
                                                     "outcome": "killed", "seconds": 0.5, "rerun": "-"}
    ran.clear()  # two candidates: no guess
    _mutants(tmp_path, "def f(x):\n    y = h(x, other=False)\n    return h(y, flag=False)\n")
    record = mutation.rerun_survivors("tiny", {"mutants": [dict(entry)]}, **args)
    assert ran == [] and record["mutants"][0]["outcome"] == "survived"
    assert record["mutants"][0]["rerun"] == "source changed: 2 candidates, not re-run"
