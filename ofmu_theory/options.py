"""Hyper-parameter dataclasses that hold a core configuration and read as flat options.

An LLM or vision method is a frozen dataclass of its data-side knobs (step sizes, epochs, batch sizes,
losses) plus, where it runs a core solver that has a configuration of its own (OFMU), one field holding
that configuration (:class:`~ofmu_theory.solvers.ofmu_config.OFMUConfig`), declared with :func:`nested`:
its default is the domain's preset of the configuration. Users name every option flat (``--set rho=0.1``,
``preset(..., rho=0.1)``, a checkpoint's config); these functions list the flat options (:func:`options`,
:func:`defaults`), convert a value for one (:func:`coerce_option`), build the dataclass from flat values
(:func:`build`: each configuration is the field's preset with the given fields replaced, validated once by
the configuration itself) and write it back flat (:func:`flat_dict`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ofmu_theory.validation import coerce_field

_NESTED = "ofmu_theory.options.nested"


def nested(default: Any, *, listed: tuple[str, ...] | None = None) -> Any:
    """A dataclass field holding a configuration whose fields are the owner's flat options.

    Args:
        default: the domain's preset of the configuration (a frozen dataclass instance).
        listed: the configuration's fields :func:`flat_dict` always writes; the others only when set away
            from ``default`` (so keys written before they were options stay as they were). None: all.
    """
    return dataclasses.field(default=default, metadata={_NESTED: listed})


def _is_nested(f: dataclasses.Field) -> bool:
    return _NESTED in f.metadata


def options(cls: type) -> dict[str, tuple[type, str | None]]:
    """Every flat option of the dataclass ``cls``, in declaration order: name → (the dataclass declaring it,
    the field of ``cls`` that holds it, or None for ``cls``'s own fields)."""
    out: dict[str, tuple[type, str | None]] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if _is_nested(f):
            inner = type(f.default)
            out.update({g.name: (inner, f.name) for g in dataclasses.fields(inner) if g.init})
        else:
            out[f.name] = (cls, None)
    return out


def defaults(cls: type) -> dict[str, Any]:
    """Every flat option → its default (a held configuration's: the preset's value; none: ``dataclasses.MISSING``)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if _is_nested(f):
            out.update({g.name: getattr(f.default, g.name) for g in dataclasses.fields(f.default) if g.init})
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = f.default
    return out


def coerce_option(cls: type, name: str, value: Any, *, what: str = "--set", prefix: str = "") -> Any:
    """``value`` converted to the declared type of the flat option ``name`` of ``cls``
    (:func:`ofmu_theory.validation.coerce_field`); an unknown option is a ValueError listing the valid ones."""
    known = options(cls)
    if name not in known:
        raise ValueError(f"{what}: unknown option {prefix + name!r} for {getattr(cls, 'name', '') or cls.__name__}; "
                         f"valid: {', '.join(sorted(known))}")
    return coerce_field(known[name][0], name, value, what=what, prefix=prefix)


def build(cls: type, values: Mapping[str, Any]) -> Any:
    """``cls`` from flat option values: its own fields as given, each held configuration its preset with the
    given fields replaced. Every key must be an option of ``cls`` (callers report unknown ones their way)."""
    known = options(cls)
    own: dict[str, Any] = {}
    held: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        holder = known[key][1]
        if holder is None:
            own[key] = value
        else:
            held.setdefault(holder, {})[key] = value
    for f in dataclasses.fields(cls):
        if _is_nested(f) and f.name in held:
            own[f.name] = dataclasses.replace(f.default, **held[f.name])
    return cls(**own)


def flat_dict(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict(obj)`` with each held configuration's fields in its place (see :func:`nested`)."""
    values = dataclasses.asdict(obj)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if not _is_nested(f):
            out[f.name] = values[f.name]
            continue
        listed = f.metadata[_NESTED]
        out.update({k: v for k, v in values[f.name].items()
                    if listed is None or k in listed or v != getattr(f.default, k)})
    return out
