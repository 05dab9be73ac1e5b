"""Layering: the core imports nothing above it, and its modules import one another without a circle.

Read from the source (an AST scan of every ``import`` anywhere in a module: top level, inside functions and
under ``TYPE_CHECKING`` alike, plus ``importlib.import_module("...")`` with a literal name), so the check
is deterministic and needs no optional dependency installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ofmu_theory

CORE = Path(ofmu_theory.__file__).parent
ABOVE = ("convex", "nonconvex", "proofs_checks", "llm", "vision", "ofmu_cli")
"""The packages built on the core (docs/design.md, "Layers")."""


def _module_name(path: Path) -> str:
    parts = ("ofmu_theory", *path.relative_to(CORE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def imported_names(source: str, module: str) -> set[str]:
    """Every module name ``source`` imports (``from a import b`` gives "a" and "a.b")."""
    names: set[str] = set()
    package = module if module in MODULES and MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return names


def _edges() -> dict[str, set[str]]:
    """Core module → the core modules it imports, without a submodule's import of its own package
    (the registry pattern: a package's ``__init__`` imports the entries that register in it)."""
    edges = {}
    for module, path in MODULES.items():
        targets = {n for n in imported_names(path.read_text(), module) if n in MODULES and n != module}
        edges[module] = {t for t in targets if not module.startswith(t + ".")}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_scan_sees_every_kind_of_import() -> None:
    source = ("import llm.cli\nfrom vision import methods\ndef f():\n    from convex.quadratic import Q\n"
              "if TYPE_CHECKING:\n    from proofs_checks import CLAIMS\nimportlib.import_module('nonconvex.x')\n"
              "from . import steps\nfrom .solvers import base\n")
    names = imported_names(source, "ofmu_theory.plan")
    assert {"llm.cli", "vision", "convex.quadratic", "proofs_checks", "nonconvex.x", "ofmu_theory.steps",
            "ofmu_theory.solvers.base"} <= names
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_core_module_imports_nothing_above_the_core(module: str) -> None:
    upward = sorted(n for n in imported_names(MODULES[module].read_text(), module) if n.partition(".")[0] in ABOVE)
    assert not upward, f"{module} imports {upward}: the core must not import the packages built on it"


def test_core_modules_import_one_another_without_a_circle() -> None:
    assert "ofmu_theory.evaluator" in _edges()["ofmu_theory.estimators"]  # the scan sees the core's imports
    assert _cycle(_edges()) is None


def test_every_core_module_imports() -> None:
    import importlib

    for module in MODULES:
        importlib.import_module(module)
