"""Adding an entry is one new file plus one registry line, and the suite's generic checks pick it up.

For each kind of registry entry — a problem family, a solver, a claim, an LLM unlearning method, a
vision unlearning method — a shipped entry's module is copied under a new name into a temporary
package on ``sys.path``; the package's ``__init__`` holds the one registry line (the import that
registers the copy, as ``convex/__init__.py`` imports its families). A pytest run of the kind's
generic test modules, with that package loaded first (``-p``), must list the new name among its
parametrisations and pass every test it selects: no other file of the project is edited
(docs/design.md, "Extending").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "extcopy_entries"
"""The temporary package the copies live in (also the pytest plugin that loads them)."""


@dataclass(frozen=True)
class Copy:
    """One entry to copy: its module, the name it registers, the copy's name and the generic tests of its kind."""

    kind: str
    module: str
    name: str
    new_name: str
    tests: tuple[str, ...]


COPIES = (
    Copy("family", "convex/least_squares_projection.py", "least_squares_projection", "extcopy_family",
         ("tests/convex/test_oracles.py", "tests/convex/test_contract.py", "tests/convex/test_penalty.py",
          "tests/test_solvers_on_families.py")),
    Copy("solver", "ofmu_theory/solvers/blur.py", "blur", "extcopy_solver",
         ("tests/ofmu_theory/test_solvers.py", "tests/ofmu_theory/test_properties.py")),
    Copy("claim", "proofs_checks/c4_eq35_bound.py", "C4", "EXTCOPY_CLAIM", ("tests/proofs_checks/test_claims.py",)),
    Copy("LLM method", "llm/methods/grad_ascent.py", "grad_ascent", "extcopy_llm", ("tests/llm/test_methods.py",)),
    Copy("vision method", "vision/methods/ga.py", "ga", "extcopy_vision", ("tests/vision/test_methods.py",)),
)


def copy_into_package(entry: Copy, root: Path) -> Path:
    """Write ``root/PACKAGE/<new_name>.py`` (the module with its registered name replaced) and the
    package's ``__init__`` with the one registry line; returns the copied module's path."""
    package = root / PACKAGE
    package.mkdir()
    source = (ROOT / entry.module).read_text(encoding="utf-8")
    copied = source.replace(f'"{entry.name}"', f'"{entry.new_name}"')
    assert re.search(rf'\.register\("{entry.new_name}"\)', copied), f"{entry.module} registers no {entry.name!r}"
    target = package / f"{entry.new_name.lower()}.py"
    target.write_text(copied, encoding="utf-8")
    (package / "__init__.py").write_text(f"from {PACKAGE} import {target.stem}  # noqa: F401  (registers it)\n",
                                         encoding="utf-8")
    return target


@pytest.mark.parametrize("entry", COPIES, ids=[c.kind for c in COPIES])
def test_a_copied_entry_is_picked_up_by_the_generic_checks(entry: Copy, tmp_path: Path) -> None:
    copy_into_package(entry, tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    command = [sys.executable, "-m", "pytest", *entry.tests, "-p", PACKAGE, "-p", "no:cacheprovider", "-p", "no:xdist",
               "-k", entry.new_name, "-v", "--no-header"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    lines = done.stdout.splitlines()
    passed = [line for line in lines if entry.new_name in line and " PASSED" in line]
    assert done.returncode == 0, f"{entry.kind} copy: pytest exited {done.returncode}\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
    assert passed, f"{entry.kind} copy {entry.new_name!r} was not among the parametrisations:\n{done.stdout[-3000:]}"
    modules = {line.split("::", 1)[0] for line in passed}
    assert modules == set(entry.tests), f"{entry.kind} copy not exercised by {sorted(set(entry.tests) - modules)}"
