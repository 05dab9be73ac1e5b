"""Single-fault source mutants for mutation testing (the operators of :mod:`benchmarks.mutation`).

A mutant is one small, realistic bug applied to one expression or statement of a module:

* ``compare``   — a comparison negated or moved across its boundary (``<`` → ``>=``, ``<`` → ``<=``,
  ``==`` → ``!=``, ``is`` → ``is not``, ``in`` → ``not in``);
* ``sign``      — ``+`` ↔ ``−``, ``*`` ↔ ``/``, a unary minus dropped;
* ``off_by_one``— an integer literal ±1, ``range(n)`` → ``range(n − 1)``;
* ``swap_args`` — two adjacent positional arguments of a call swapped (not where they commute);
* ``drop_call`` — a one-argument call replaced by its argument (``project(x)`` → ``x``);
* ``drop_stmt`` — an augmented assignment removed (``count += 1`` → ``pass``);
* ``condition`` — a test negated (``if c`` → ``if not c``), ``and`` ↔ ``or``, ``not c`` → ``c``,
  ``True`` ↔ ``False``.

Each mutant replaces the source text of one AST node by the unparsed mutated node, so the rest of the
file (and its line numbers) stays as written. Docstrings, annotations, decorators, imports, code under
``if TYPE_CHECKING`` and lines marked ``# pragma: no mutate`` are left alone.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PRAGMA = "pragma: no mutate"

_NEGATE = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
#: calls whose arguments commute (a swap is no bug) and backend calls whose first argument is the scalar of
#: scalar·vector (numpy broadcasts either order, so swapping the first pair is no bug either)
_SYMMETRIC = {"add", "mul", "vdot", "max", "min", "maximum", "minimum", "isclose", "allclose", "zip"}
_SCALAR_FIRST = {"axpy", "axpby", "scale"}
_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}


@dataclass(frozen=True)
class Mutant:
    """One mutant of one file.

    Attributes:
        path: the file, relative to the repository root.
        line: 1-based line of the mutated node (in the unmutated file).
        operator: the operator family (see the module docstring).
        before, after: source of the node before and after the mutation.
        source: the whole mutated file.
        context: the (stripped) source line the node starts on.
    """

    path: str
    line: int
    operator: str
    before: str
    after: str
    source: str
    context: str = ""

    @property
    def key(self) -> str:
        """A stable name: file, operator, the line's text and the before/after text (not the line number)."""
        return mutant_key(self.path, self.operator, self.context, self.before, self.after)

    def describe(self) -> str:
        return f"{self.path}:{self.line} [{self.operator}] {_short(self.before)} → {_short(self.after)}"


def mutant_key(path: str, operator: str, context: str, before: str, after: str) -> str:
    digest = hashlib.sha1(f"{path}|{operator}|{context}|{before}|{after}".encode()).hexdigest()[:10]
    return f"{path}:{operator}:{digest}"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _variants(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """The (operator, mutated copy) pairs for one node."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        op = type(node.ops[0])
        for table in (_NEGATE, _BOUNDARY):
            if op in table:
                new = copy.deepcopy(node)
                new.ops = [table[op]()]
                yield "compare", new
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
        new = copy.deepcopy(node)
        new.op = _BINOP[type(node.op)]()
        yield "sign", new
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", copy.deepcopy(node.operand)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "condition", copy.deepcopy(node.operand)
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "condition", new
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        yield "condition", ast.Constant(not node.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield "off_by_one", ast.Constant(node.value + 1)
        if node.value > 0:
            yield "off_by_one", ast.Constant(node.value - 1)
    elif isinstance(node, ast.Call):
        yield from _call_variants(node)


def _call_variants(node: ast.Call) -> Iterator[tuple[str, ast.AST]]:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name == "range" and len(node.args) == 1 and not node.keywords:
        new = copy.deepcopy(node)
        new.args = [ast.BinOp(copy.deepcopy(node.args[0]), ast.Sub(), ast.Constant(1))]
        yield "off_by_one", new
        return
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    method = node.func.attr if isinstance(node.func, ast.Attribute) else name
    if len(positional) == len(node.args) >= 2 and method not in _SYMMETRIC:
        for i in range(len(node.args) - 1):
            if i == 0 and method in _SCALAR_FIRST:
                continue
            if ast.dump(node.args[i]) != ast.dump(node.args[i + 1]):
                new = copy.deepcopy(node)
                new.args[i], new.args[i + 1] = new.args[i + 1], new.args[i]
                yield "swap_args", new
    # dropping a type conversion or a builder (float(x), tuple(x), Path(x)) rarely models a bug
    skip = {"float", "int", "str", "bool", "tuple", "list", "dict", "set", "len", "Path", "super", "isinstance",
            "type", "repr", "iter", "next", "sorted", "print", "getattr", "hasattr"}
    if name is not None and (name.endswith(("Error", "Exception")) or name in skip):
        return
    if len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred):
        yield "drop_call", copy.deepcopy(node.args[0])


def _condition_variants(stmt: ast.If | ast.While | ast.IfExp) -> Iterator[tuple[ast.AST, str, ast.AST]]:
    """``if c`` → ``if not c`` for tests that are not comparisons or ``not`` (those have their own)."""
    test = stmt.test
    if not isinstance(test, (ast.Compare, ast.UnaryOp, ast.BoolOp, ast.Constant)):
        yield test, "condition", ast.UnaryOp(ast.Not(), copy.deepcopy(test))


class _Collector(ast.NodeVisitor):
    """Collects (node, operator, replacement) triples, skipping the parts of a module that are not behaviour."""

    def __init__(self, skip_lines: set[int]) -> None:
        self.found: list[tuple[ast.AST, str, ast.AST]] = []
        self.skip_lines = skip_lines

    def generic_visit(self, node: ast.AST) -> None:
        if getattr(node, "lineno", None) in self.skip_lines:
            return
        for op, new in _variants(node):
            self.found.append((node, op, new))
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            self.found.extend(_condition_variants(node))
        if isinstance(node, ast.AugAssign):
            self.found.append((node, "drop_stmt", ast.Pass()))
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "decorator_list", "type_comment"):
                continue
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802
        pass

    visit_ImportFrom = visit_Import  # noqa: N815

    def visit_Expr(self, node: ast.Expr) -> None:  # noqa: N802
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):  # a docstring
            self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:  # noqa: N802
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            return
        if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
            return
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:  # noqa: N802
        if node.value is not None:
            self.visit(node.value)


def _replace(source: str, lines: list[str], node: ast.AST, text: str) -> str:
    """The source with ``node``'s text replaced (offsets are UTF-8 byte columns)."""
    start = sum(len(line.encode()) for line in lines[: node.lineno - 1]) + node.col_offset
    end = sum(len(line.encode()) for line in lines[: node.end_lineno - 1]) + node.end_col_offset
    raw = source.encode()
    if "\n" in text:
        text = f"({text})"
    return (raw[:start] + text.encode() + raw[end:]).decode()


def mutants_of(path: Path, root: Path) -> list[Mutant]:
    """Every mutant of one file (in source order), each a syntactically valid module."""
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    skip = {i + 1 for i, line in enumerate(lines) if PRAGMA in line}
    collector = _Collector(skip)
    collector.visit(tree)
    rel, out, seen = str(path.relative_to(root)), [], set()
    occurrences: dict[tuple[str, str, str, str], int] = {}
    for node, op, new in collector.found:
        before = ast.get_source_segment(source, node) or ast.unparse(node)
        after = "pass" if isinstance(new, ast.Pass) else ast.unparse(new)
        if isinstance(new, (ast.BinOp, ast.BoolOp, ast.IfExp, ast.Compare, ast.UnaryOp)) and not isinstance(node, ast.AugAssign):
            after = f"({after})"  # keep precedence where the node sits inside a larger expression
        mutated = _replace(source, lines, node, after)
        try:
            ast.parse(mutated)
        except SyntaxError:
            continue
        if (node.lineno, op, after) in seen:
            continue
        seen.add((node.lineno, op, after))
        context = lines[node.lineno - 1].strip()
        n = occurrences[(op, context, before, after)] = occurrences.get((op, context, before, after), 0) + 1
        # the same edit on an identical line elsewhere in the file: number it, so every key names one mutant
        out.append(Mutant(rel, node.lineno, op, before, after, mutated, context if n == 1 else f"{context}#{n}"))
    return out


def iter_files(root: Path, patterns: list[str]) -> list[Path]:
    """The .py files matched by ``patterns`` (globs relative to ``root``), sorted, without duplicates."""
    files: set[Path] = set()
    for pattern in patterns:
        matched = [p for p in root.glob(pattern) if p.suffix == ".py" and "__pycache__" not in p.parts]
        if not matched:
            raise ValueError(f"pattern {pattern!r} matches no Python file under the repository")
        files.update(matched)
    return sorted(files)

