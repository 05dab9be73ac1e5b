"""Argument checks shared by the core, llm/ and vision/: each raises a ValueError that names the argument."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, Union, get_args, get_origin


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_positive(**values: float) -> None:
    """ValueError naming the first argument that is not a finite number > 0."""
    for name, value in values.items():
        if not (_is_number(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")


def check_nonnegative(**values: float) -> None:
    """ValueError naming the first argument that is not a finite number >= 0."""
    for name, value in values.items():
        if not (_is_number(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {name}={value!r}")


def check_count(name: str, value: object, *, least: int) -> None:
    """ValueError naming ``name`` unless ``value`` is an int (not a bool) >= ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {name}={value!r}")


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {name}={value!r}")


def _coerce(hint: Any, value: Any) -> tuple[bool, Any]:
    """(True, value converted to ``hint``) when ``value`` fits the annotation ``hint``, else (False, None)."""
    origin = get_origin(hint)
    if hint is Any:
        return True, value
    if origin in (Union, types.UnionType):
        for arg in get_args(hint):
            ok, out = _coerce(arg, value)
            if ok:
                return True, out
        return False, None
    if origin is Literal:
        return value in get_args(hint), value
    if hint is type(None):
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool), float(value) if isinstance(value, (int, float)) else None
    if hint is str:
        return isinstance(value, str), value
    if origin is tuple or hint is tuple:
        return isinstance(value, (list, tuple)), tuple(value) if isinstance(value, (list, tuple)) else None
    if isinstance(hint, type):
        return isinstance(value, hint), value
    return True, value  # an annotation this check does not model: the class's own validation decides


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(hint))
    if hint is type(None):
        return "none"
    if hint in (int, float):
        return f"a number ({hint.__name__})"
    return getattr(hint, "__name__", str(hint))


def coerce_field(cls: type, name: str, value: Any, *, what: str = "--set", prefix: str = "") -> Any:
    """``value`` converted to the declared type of the dataclass field ``cls.name`` (ints for float fields,
    tuples for lists); a value of the wrong type is a ValueError naming the option (``what prefix+name``),
    the value and the type.

    Raises:
        ValueError: ``name`` is not a field of ``cls`` (listing the valid ones), or ``value`` does not fit.
    """
    valid = {f.name for f in dataclasses.fields(cls) if f.init}
    if name not in valid:
        raise ValueError(f"{what}: unknown option {prefix + name!r} for {getattr(cls, 'name', '') or cls.__name__}; "
                         f"valid: {', '.join(sorted(valid))}")
    hint = typing.get_type_hints(cls).get(name, Any)
    ok, out = _coerce(hint, value)
    if not ok:
        raise ValueError(f"{what} {prefix}{name}={value!r}: expected {_describe(hint)}")
    return out
