"""A small generic name -> object registry.

Every pluggable piece of the toolkit (solvers, HVP strategies, problem families, claims,
unlearning methods, metrics) lives in one :class:`Registry`.  Entries register themselves at
their definition with ``@REGISTRY.register("name")``; each package's ``__init__`` imports its
entry modules, so a reader finds them all in one place.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps snake_case names to entries of one kind.

    Args:
        kind: what the entries are ("solver", "family", ...); used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._summaries: dict[str, str] = {}

    def register(self, name: str, *, summary: str | None = None) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a duplicate name is an error.

        Args:
            name: the registry key.
            summary: one line for users (``--help``); default: the first sentence of the entry's docstring
                when it is a class or a function.
        """
        if not name or name != name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string without spaces, got {name!r}")

        def decorate(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            if summary is not None:
                self._summaries[name] = summary
            return obj

        return decorate

    def get(self, name: str) -> T:
        """Return the entry called ``name``; an unknown name raises a ValueError listing the valid ones."""
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(sorted(self._entries)) or "(none registered)"
            raise ValueError(f"unknown {self.kind} {name!r}; valid {self.kind} names: {valid}") from None

    def name_of(self, obj: object) -> str:
        """The name ``obj`` is registered under; an unregistered object raises a ValueError."""
        for name, entry in self._entries.items():
            if entry is obj:
                return name
        raise ValueError(f"{obj!r} is not a registered {self.kind}; registered: {', '.join(self.names())}")

    def summary(self, name: str) -> str:
        """One line describing entry ``name`` for users: its registered summary, else the first sentence of
        its docstring (a class or function), else ""; an unknown name raises as :meth:`get` does."""
        entry = self.get(name)
        if name in self._summaries:
            return self._summaries[name]
        if inspect.isclass(entry) or inspect.isroutine(entry):
            return first_sentence(entry.__doc__)
        return ""

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def _abbreviation(word: str) -> bool:
    """A word a period may follow inside a sentence ("Avg.", "et al.", "e.g.")."""
    return word in ("al", "e.g", "i.e", "vs", "cf", "etc") or (word.isalpha() and word[:1].isupper() and len(word) <= 3)


def first_sentence(doc: str | None, *, limit: int = 110) -> str:
    """The first sentence of a docstring's first paragraph, without reST markup, at most ``limit`` characters."""
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"\1", paragraph).replace("``", "")
    ends = (m.start() for m in re.finditer(r"\.(\s+[A-Z]|\s*$)", paragraph)
            if not _abbreviation(paragraph[: m.start()].rsplit(" ", 1)[-1]))
    text = paragraph[: next(ends, len(paragraph))]
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
