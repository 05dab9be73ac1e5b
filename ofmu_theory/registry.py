"""A small generic name -> object registry.

Every pluggable piece of the toolkit (solvers, HVP strategies, problem families, claims,
unlearning methods, metrics) lives in one :class:`Registry`.  Entries register themselves at
their definition with ``@REGISTRY.register("name")``; each package's ``__init__`` imports its
entry modules, so a reader finds them all in one place.
"""

from __future__ import annotations

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

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a duplicate name is an error."""
        if not name or name != name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string without spaces, got {name!r}")

        def decorate(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
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

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
