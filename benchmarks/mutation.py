"""Mutation testing of the core, the claim checker's rates and the metrics; regenerates docs/mutation.md.

Run: ``python -m benchmarks.mutation --package ofmu_theory --sample 200 --budget-min 35`` (one package
at a time or ``--package all``), then read docs/mutation.md. Not part of CI: a full run takes tens of
minutes on 2 cores.

Each package is mutated with the operators of :mod:`benchmarks.mutants` and tested with the fast test
subset that covers it (``PACKAGES``). Mutants are drawn as a seeded sample (``--seed``, ``--sample``)
and run one at a time in a scratch copy of the tracked files, so the working tree is never modified:
the mutated file is written into the copy, and a forked worker (third-party libraries already
imported, the project's modules re-imported from the copy) runs ``pytest -x`` on the subset. A
mutant is *killed* when the tests fail (or time out, at 3× the unmutated run plus 10 s) and
*survives* when they pass. ``--budget-min`` stops the run early; the page says how many of the sample
ran; ``--resume`` continues a stopped run of the same seed, keeping every recorded mutant whose
mutated file is unchanged (same source hash) and running the rest of the sample (the sample is drawn
from the package's whole list of mutants, so an edit that adds or removes mutants redraws it and a
resume then keeps only the overlap). ``--rerun-survivors`` re-tests a stored run's survivors with the current
tests, finding each by its key or, where only the rest of its line changed, as the one mutant of its file with
the same operator and before/after text. Survivors reviewed as
equivalent (no observable behaviour changes) are listed with the reason in ``EQUIVALENT`` (:mod:`benchmarks.mutation_reviews`) and reported
separately from the unreviewed ones; a few are *accepted* instead, where the change shows only on inputs
no caller passes, and the reason says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from benchmarks import mutants as operators
from benchmarks.mutants import Mutant, iter_files, mutants_of
from benchmarks.mutation_reviews import EQUIVALENT

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "mutation.md"
RESULTS = ROOT / "docs" / "mutation"  # one <package>.json per package, so packages can run separately
PROJECT = ("ofmu_theory", "ofmu_cli", "convex", "nonconvex", "llm", "vision", "proofs_checks", "tests", "benchmarks")


@dataclass(frozen=True)
class Package:
    """What is mutated (globs) and the fast tests that cover it (pytest arguments)."""

    files: tuple[str, ...]
    tests: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    #: per-file test arguments replacing ``tests`` (a module whose only test is slow or spawns processes)
    overrides: tuple[tuple[str, tuple[str, ...]], ...] = ()


PACKAGES: dict[str, Package] = {
    "ofmu_theory": Package(
        files=("ofmu_theory/**/*.py",),
        # test_distributed spawns two ranks (~25 s): it runs only for distributed.py's mutants
        tests=("tests/ofmu_theory", "--ignore=tests/ofmu_theory/test_distributed.py"),
        overrides=(("ofmu_theory/distributed.py", ("tests/ofmu_theory",)),),
    ),
    "rates": Package(files=("proofs_checks/rates.py",),
                     tests=("tests/proofs_checks/test_rates.py", "tests/proofs_checks/test_rates_boundaries.py",
                            "tests/proofs_checks/test_checker.py")),
    "metrics": Package(
        files=("llm/metrics/*.py", "vision/metrics.py"),
        tests=("tests/llm/test_metrics.py", "tests/vision/test_metrics.py"),
    ),
}

# --- running ---------------------------------------------------------------------------------------
def _scratch_copy() -> Path:
    """A copy of the tracked files (and untracked, not ignored ones) in a temporary folder."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    dest = Path(tempfile.mkdtemp(prefix="ofmu-mutation-"))
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _warm_imports(tests: list[str]) -> None:
    """Run the tests once in the parent, so the third-party libraries they import (also lazily) are loaded
    before the workers fork; then forget the project's modules so every worker re-imports them from the copy."""
    import contextlib  # noqa: PLC0415
    import io  # noqa: PLC0415

    import pytest  # noqa: PLC0415

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main([*tests, "-q", "-p", "no:cacheprovider"])
    _forget_project()


def _forget_project() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in PROJECT:
            del sys.modules[name]


def _run_tests(copy: Path, args: list[str], timeout: float) -> tuple[str, float]:
    """Fork a worker that runs pytest on ``args`` in ``copy``; returns (outcome, seconds)."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # worker
        code = 3
        try:
            os.setpgid(0, 0)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            _forget_project()
            import pytest  # noqa: PLC0415

            code = int(pytest.main([*args, "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]))
        finally:
            os._exit(code)
    deadline = start + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.perf_counter() - start
        time.sleep(0.05)
    code = os.waitstatus_to_exitcode(status)
    outcome = {0: "survived", 1: "killed", 2: "killed"}.get(code, f"error (exit {code})")
    return outcome, time.perf_counter() - start


def _tests_for(pkg: Package, path: str) -> list[str]:
    return list(dict(pkg.overrides).get(path, pkg.tests))


def _execute(copy: Path, pkg: Package, mutant, base_s: float) -> tuple[str, float]:
    """Write the mutant into the copy, run its tests, restore the file."""
    target = copy / mutant.path
    original = target.read_text()
    target.write_text(mutant.source)
    try:
        return _run_tests(copy, _tests_for(pkg, mutant.path), timeout=3 * base_s + 10)
    finally:
        target.write_text(original)


def _baseline(copy: Path, name: str, pkg: Package) -> float:
    outcome, base_s = _run_tests(copy, list(pkg.tests), timeout=1800)
    if outcome != "survived":
        raise RuntimeError(f"the unmutated tests of {name} do not pass in the scratch copy ({outcome})")
    return base_s


def locate(entry: dict, current: dict[str, Mutant]) -> tuple[Mutant | None, str]:
    """The current mutant of a stored entry and how it was found: by its key, or — when the text of its line
    changed elsewhere (the key hashes the whole line) — as the only current mutant of the same file and
    operator with the same before/after text. (None, why) when there is none or more than one."""
    if entry["key"] in current:
        return current[entry["key"]], "key"
    same = [m for m in current.values() if (m.path, m.operator, m.before, m.after)
            == (entry["path"], entry["operator"], entry["before"], entry["after"])]
    if len(same) == 1:
        return same[0], "text"
    return None, "source changed: not re-run" if not same else f"source changed: {len(same)} candidates, not re-run"


def rerun_survivors(name: str, record: dict, *, copy: Path, log, save) -> dict:
    """Re-test a stored run's survivors with the current tests (after tests were added to kill them).

    A survivor is found by its key, or by :func:`locate`'s text match when its line changed around it (the
    entry then takes the current key and keeps the old one as ``key_before``). One that no longer exists (or
    is ambiguous) keeps its outcome and is marked.
    """
    pkg = PACKAGES[name]
    files = iter_files(copy, list(pkg.files))
    current = {m.key: m for f in files for m in mutants_of(f, copy)}
    base_s = _baseline(copy, name, pkg)
    survivors = [m for m in record["mutants"] if m["outcome"] == "survived"]
    for i, entry in enumerate(survivors):
        mutant, how = locate(entry, current)
        if mutant is None:
            entry["rerun"] = how
            continue
        if how == "text":
            entry.update(key_before=entry["key"], key=mutant.key)
        outcome, secs = _execute(copy, pkg, mutant, base_s)
        entry.update(outcome=outcome, seconds=round(secs, 2), rerun=date.today().isoformat(), line=mutant.line)
        log(f"[re-run {i + 1}/{len(survivors)}] {outcome:>9} {secs:5.1f}s {mutant.describe()}")
        save(record)
    record["rerun"] = date.today().isoformat()
    save(record)
    return record


def source_hash(mutant) -> str:
    """A hash of the whole mutated file: a change anywhere in the file makes a recorded outcome stale."""
    return hashlib.sha1(mutant.source.encode()).hexdigest()[:16]


def reusable(previous: dict | None, chosen: list, *, seed: int) -> dict[str, dict]:
    """The entries of a stored run that ``--resume`` keeps, by mutant key.

    An entry is kept when the stored run drew the same seed and the entry names a mutant of ``chosen``
    with the same source hash; an entry without a hash (recorded before hashes were) is run again.
    """
    if not previous or previous.get("seed") != seed:
        return {}
    stored = {m["key"]: m for m in previous.get("mutants", ()) if m.get("source_sha")}
    return {m.key: stored[m.key] for m in chosen if m.key in stored and stored[m.key]["source_sha"] == source_hash(m)}


def run_package(name: str, *, copy: Path, seed: int, sample: int, budget_s: float, log, save,
                previous: dict | None = None) -> dict:
    """Run a seeded sample of one package's mutants; returns the package's result record.

    With ``previous`` (a stored record, ``--resume``) the mutants :func:`reusable` finds there keep their
    outcome and only the others run; the wall time adds the stored run's.
    """
    pkg = PACKAGES[name]
    files = [f for f in iter_files(copy, list(pkg.files)) if str(f.relative_to(copy)) not in pkg.exclude]
    everything = [m for f in files for m in mutants_of(f, copy)]
    order = list(range(len(everything)))
    random.Random(seed).shuffle(order)  # a larger --sample extends a smaller one with the same seed
    chosen = [everything[i] for i in order[:sample]]
    kept = reusable(previous, chosen, seed=seed)
    base_s = _baseline(copy, name, pkg)
    log(f"{name}: {len(everything)} mutants in {len(files)} files; sample {len(chosen)}; tests pass in {base_s:.1f} s"
        + (f"; {len(kept)} kept from the stored run" if previous is not None else ""))
    results, start = [], time.perf_counter()
    wall_before = float(previous.get("wall_s", 0.0)) if kept and previous else 0.0
    record = {
        "package": name, "files": list(pkg.files), "tests": list(pkg.tests), "seed": seed, "sample": len(chosen),
        "total_mutants": len(everything), "ran": 0, "baseline_s": round(base_s, 1), "wall_s": wall_before,
        "date": date.today().isoformat(), "kept": len(kept), "mutants": results,
    }
    if kept and previous and previous.get("rerun"):
        record["rerun"] = previous["rerun"]  # kept survivors carry their re-test date
    stopped = False
    for i, mutant in enumerate(chosen):
        if mutant.key in kept:
            results.append(kept[mutant.key])
            continue
        if stopped or time.perf_counter() - start > budget_s:
            if not stopped:
                log(f"{name}: time budget reached after {i} mutants")
            stopped = True
            continue  # later kept entries are still collected
        outcome, secs = _execute(copy, pkg, mutant, base_s)
        results.append({"key": mutant.key, "path": mutant.path, "line": mutant.line, "operator": mutant.operator,
                        "before": mutant.before, "after": mutant.after, "outcome": outcome, "seconds": round(secs, 2),
                        "source_sha": source_hash(mutant)})
        log(f"[{i + 1}/{len(chosen)}] {outcome:>9} {secs:5.1f}s {mutant.describe()}")
        record.update(ran=len(results), wall_s=round(wall_before + time.perf_counter() - start, 1),
                      load=round(os.getloadavg()[1], 2))
        save(record)  # a stopped run keeps what it measured
    record.update(ran=len(results))
    save(record)
    return record


# --- reporting -------------------------------------------------------------------------------------
def score(record: dict) -> dict[str, int | float]:
    """Counts and the score killed / (ran − errors); equivalent survivors are counted separately."""
    outcomes = [m["outcome"] for m in record["mutants"]]
    killed = sum(o in ("killed", "timeout") for o in outcomes)
    survived = [m for m in record["mutants"] if m["outcome"] == "survived"]
    equivalent = sum(m["key"] in EQUIVALENT for m in survived)
    errors = sum(o.startswith("error") for o in outcomes)
    valid = len(outcomes) - errors
    return {
        "killed": killed, "survived": len(survived), "equivalent": equivalent, "errors": errors,
        "score": killed / valid if valid else float("nan"),
        "score_excl_equivalent": killed / (valid - equivalent) if valid - equivalent else float("nan"),
    }


def render(records: dict[str, dict]) -> str:
    lines = [
        "# Mutation testing: how many realistic one-line bugs the fast tests catch\n",
        "Generated by `python -m benchmarks.mutation` from docs/mutation/*.json — do not edit by hand.\n",
        _md((__doc__ or "").split("\n\n", 2)[2].replace("\n", " ").strip()) + "\n",
        "## Operators\n",
        _md("\n\n".join((operators.__doc__ or "").split("\n\n")[1:4])) + "\n",
        "## Scores\n",
        "| package | mutated | tests | mutants | sample (seed) | ran | killed | survived (equivalent) | score | score without equivalent | wall |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rec in records.items():
        s = score(rec)
        lines.append(
            f"| {name} | {', '.join(rec['files'])} | {' '.join(rec['tests'])} | {rec['total_mutants']} | "
            f"{rec['sample']} ({rec['seed']}) | {rec['ran']} | {s['killed']} | {s['survived']} ({s['equivalent']}) | "
            f"{s['score']:.1%} | {s['score_excl_equivalent']:.1%} | {rec['wall_s'] / 60:.0f} min ({rec['date']}"
            + (f", load {rec['load']:.1f}" if "load" in rec else "") + ") |"
        )
    lines.append("\nCommand for each row: `python -m benchmarks.mutation --package NAME --seed SEED --sample N` "
                 "(`--resume` continues a stopped run). Wall times are those of the machine the run was on; `load` is "
                 "its 5-minute load average when the run ended (other work beside the run slows it).\n")
    lines += [
        "Five realistic bugs found by hand (forward differences around the wrong base gradient with "
        "β > 0, ρ applied one step late, inner steps without the projection onto Θ, Armijo's test with the wrong "
        "sign, the projection solver's conflict test inverted) each have a property test in "
        "tests/ofmu_theory/test_properties.py that fails on the bug; the operators above include each of them "
        "(a dropped or swapped call, an index moved by one, a flipped sign or comparison).\n",
    ]
    for name, rec in records.items():
        survivors = [m for m in rec["mutants"] if m["outcome"] == "survived"]
        errors = [m for m in rec["mutants"] if m["outcome"].startswith("error")]
        lines.append(f"## Survivors: {name}\n")
        if rec.get("rerun"):
            again = [m for m in rec["mutants"] if m.get("rerun", "").startswith("20")]
            now_killed = sum(m["outcome"] != "survived" for m in again)
            days = " and ".join(sorted({m["rerun"] for m in again}))
            lines.append(f"The {len(again)} survivors of the run were re-tested on {days} "
                         f"(`--rerun-survivors`) with the tests as of then: {now_killed} are now killed and "
                         "counted as killed above.\n")
        if not survivors:
            lines.append("None.\n")
        for m in sorted(survivors, key=lambda m: (m["path"], m["line"])):
            why = EQUIVALENT.get(m["key"])
            status = ("**not reviewed as equivalent**" if not why
                      else why if why.startswith("accepted:") else f"equivalent: {why}")
            lines.append(f"* `{m['path']}:{m['line']}` [{m['operator']}] `{_cell(m['before'])}` → "
                         f"`{_cell(m['after'])}` — {status} (`{m['key']}`)")
        for m in errors:
            lines.append(f"* (not counted) `{m['path']}:{m['line']}` {m['outcome']}: `{_cell(m['after'])}`")
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    """reStructuredText markup of the docstrings as Markdown."""
    return text.replace(":mod:", "").replace("``", "`")


def _cell(text: str) -> str:
    text = " ".join(text.split()).replace("`", "'").replace("|", "\\|")
    return text if len(text) <= 80 else text[:79] + "…"


def _load() -> dict[str, dict]:
    return {name: json.loads((RESULTS / f"{name}.json").read_text()) for name in PACKAGES if (RESULTS / f"{name}.json").exists()}


def main(argv: list[str] | None = None) -> int:
    from ofmu_theory.io import write_json, write_text  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutation", description=__doc__.splitlines()[0])
    parser.add_argument("--package", choices=[*PACKAGES, "all"], help="which package to mutate (omit: only re-render the page)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutant sample (default 0)")
    parser.add_argument("--sample", type=int, default=200, help="mutants drawn per package (default 200)")
    parser.add_argument("--budget-min", type=float, default=60.0, help="stop a package after this many minutes (default 60)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the stored outcomes of unchanged mutants (same seed and source hash); run the rest")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="re-test the stored survivors of --package with the current tests instead of a new sample")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    if args.sample < 1:
        parser.error(f"--sample must be >= 1, got {args.sample}")
    records = _load()
    if args.package is not None:
        names = list(PACKAGES) if args.package == "all" else [args.package]
        os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OFMU_PROGRESS="0", PYTHONDONTWRITEBYTECODE="1")
        sys.dont_write_bytecode = True
        copy = _scratch_copy()
        try:
            os.chdir(copy)
            sys.path.insert(0, str(copy))
            os.environ["PYTHONPATH"] = os.pathsep.join([str(copy), os.environ.get("PYTHONPATH", "")])
            _warm_imports([t for n in names for t in PACKAGES[n].tests])
            for name in names:
                log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, flush=True))

                def save(record: dict, name: str = name) -> None:
                    records[name] = record
                    write_json(RESULTS / f"{name}.json", record)

                if args.rerun_survivors:
                    if name not in records:
                        raise SystemExit(f"--rerun-survivors: no stored run of {name!r} in {RESULTS.relative_to(ROOT)}")
                    rerun_survivors(name, records[name], copy=copy, log=log, save=save)
                else:
                    run_package(name, copy=copy, seed=args.seed, sample=args.sample,
                                budget_s=60 * args.budget_min, log=log, save=save,
                                previous=records.get(name) if args.resume else None)
        finally:
            os.chdir(ROOT)
            shutil.rmtree(copy, ignore_errors=True)
    write_text(DOCS, render(records))
    for name, rec in records.items():
        s = score(rec)
        print(f"{name}: {s['killed']}/{rec['ran']} killed ({s['score']:.1%}), {s['survived']} survived "
              f"({s['equivalent']} reviewed as equivalent)")
    print(f"wrote {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
