"""Settings typed on a command line: ``key=value`` assignments and a solver built from them.

One parser serves every command (``ofmu solve --set/--param``, ``ofmu llm ... --set``, ``ofmu vision ...
--set``; :func:`per_method` reads ``key=value`` and ``method.key=value`` alike for llm and vision): values become int, float, bool or None when they read as one, else stay text;
with ``lists=True`` a comma-separated value becomes a list of such values.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def parse_value(text: str, *, lists: bool = False) -> Any:
    """``"3"`` → 3, ``"0.1"`` → 0.1, ``"true"`` → True, ``"none"`` → None, anything else → the text.

    Args:
        text: the value as typed.
        lists: read ``"1,2"`` as ``[1, 2]`` (empty items dropped; text starting with ``[`` or ``(`` is left
            whole).
    """
    if lists and "," in text and not text.startswith(("[", "(")):
        return [parse_value(t.strip()) for t in text.split(",") if t.strip()]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "none":
        return None
    return text


def parse_assignments(items: list[str], *, what: str = "--set", lists: bool = False) -> dict[str, Any]:
    """``["a=1", "b=x"]`` → ``{"a": 1, "b": "x"}``; a malformed item is an error naming ``what`` and it.

    Args:
        items: the ``key=value`` strings, in order (a repeated key keeps its last value).
        what: the option they came from, for the error message.
        lists: see :func:`parse_value`.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} must look like key=value, got {item!r}")
        out[key.strip()] = parse_value(value.strip(), lists=lists)
    return out


def build_solver(name: str, settings: dict[str, Any], *, constants: Any = None) -> Any:
    """A solver from CLI settings: step fields accept "0.1", "1/L", "armijo"; transforms "sgd"/"adam"."""
    from ofmu_theory.solvers import SOLVERS
    from ofmu_theory.steps import Armijo, ConstantStep, parse_step_rule
    from ofmu_theory.transforms import Adam, Sgd
    from ofmu_theory.validation import coerce_field

    cls = SOLVERS.get(name)
    valid = {f.name for f in dataclasses.fields(cls) if f.init and f.name != "update_mask"}
    unknown = set(settings) - valid
    if unknown:
        raise ValueError(f"--set: unknown option(s) {sorted(unknown)} for solver {name!r}; valid: {', '.join(sorted(valid))}")
    kwargs: dict[str, Any] = {}
    for key, value in settings.items():
        try:
            if key.startswith("eta"):
                if isinstance(value, bool) or value is None:
                    raise ValueError("use a number > 0, '1/L', '1/L*s', 'armijo' or 'armijo:eta0'")
                kwargs[key] = parse_step_rule(str(value))
            elif key.startswith("transform"):
                transforms = {"sgd": Sgd, "adam": Adam}
                if str(value) not in transforms:
                    raise ValueError(f"must be one of {sorted(transforms)}")
                kwargs[key] = transforms[str(value)]()
        except ValueError as err:
            raise ValueError(f"--set {key}={value!r}: {err}") from None
        if key not in kwargs:
            kwargs[key] = coerce_field(cls, key, value)
    line_searchable = name not in ("blur", "projection")
    for key in ("eta", "eta_in", "eta_out"):
        if key in valid and key not in kwargs:
            if line_searchable:
                kwargs[key] = Armijo()
            elif constants is not None and constants.L_upper and constants.L_lower:
                kwargs[key] = ConstantStep(0.5 / (constants.L_upper + constants.L_lower))
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--set: {err}") from None


def per_method(settings: dict[str, Any], methods: list[str] | tuple[str, ...], *,
               fields: Any, what: str = "--set") -> dict[str, dict[str, Any]]:
    """Method settings from ``--set`` assignments in one grammar for every command: ``method.key=value`` sets
    one method's option, ``key=value`` the option of every method in ``methods`` that has it.

    Args:
        settings: the parsed assignments (:func:`parse_assignments`), keys ``key`` or ``method.key``.
        methods: the methods of the run, in order.
        fields: ``fields(method)`` → the option names of a method (an unknown method raises, listing the valid).
        what: the option they came from, for error messages.

    Raises:
        ValueError: a ``method.key`` whose method is not run, or a key no method of the run has (with one
            method, a plain key is passed on for the method to check).
    """
    out: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for key, value in settings.items():
        method, dot, name = key.rpartition(".")
        if dot:
            valid = fields(method)
            if method not in out:
                raise ValueError(f"{what} {key}={value!r}: method {method!r} is not in this run "
                                 f"({', '.join(methods)})")
            if name not in valid:
                raise ValueError(f"{what} {key}={value!r}: unknown option {key!r}; {method!r} has: "
                                 f"{', '.join(sorted(valid))}")
            out[method][name] = value
            continue
        # one method: it validates the key itself (its own error lists its options)
        having = list(methods) if len(methods) == 1 else [m for m in methods if key in fields(m)]
        if not having:
            valid = sorted({f for m in methods for f in fields(m)})
            raise ValueError(f"{what} {key}={value!r}: unknown option {key!r}: no method of this run "
                             f"({', '.join(methods)}) has it; valid: {', '.join(valid)}")
        for m in having:
            out[m][key] = value
    return {m: values for m, values in out.items() if values}
