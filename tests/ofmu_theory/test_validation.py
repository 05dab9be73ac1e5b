"""The shared argument checks: what a user's typed value becomes, and the one-line error a wrong one gets."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ofmu_theory.validation import check_choice, coerce_field


@dataclass(frozen=True)
class _Settings:
    name = "toy"

    steps: int = 1
    lr: float = 0.1
    kind: str = "sgd"
    cap: int | None = None
    layers: tuple[int, ...] = ()
    flag: bool = False
    hidden: int = field(default=0, init=False)


def test_check_choice_accepts_a_listed_value_and_names_the_argument_otherwise() -> None:
    check_choice("sim", "signed", ("signed", "squared"))
    with pytest.raises(ValueError, match=r"^sim must be one of \('signed', 'squared'\), got sim='cos'$"):
        check_choice("sim", "cos", ("signed", "squared"))


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("steps", 3, 3), ("steps", 3.0, 3), ("lr", 2, 2.0), ("kind", "adam", "adam"), ("cap", None, None),
    ("cap", 5, 5), ("layers", [4, 2], (4, 2)), ("flag", True, True),
])
def test_a_value_of_the_declared_type_is_converted_to_it(name: str, value, expected) -> None:
    out = coerce_field(_Settings, name, value)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("steps", "3", "a number (int)"),
    ("steps", True, "a number (int)"),
    ("lr", "fast", "a number (float)"),
    ("kind", 3, "str"),
    ("cap", "x", "a number (int) or none"),
    ("layers", 3, "tuple"),
])
def test_a_value_of_another_type_is_an_error_naming_option_value_and_type(name: str, value, expected: str) -> None:
    with pytest.raises(ValueError, match=rf"^--set toy\.{name}={value!r}: expected {expected}$".replace("(", r"\(")
                       .replace(")", r"\)")):
        coerce_field(_Settings, name, value, prefix="toy.")


def test_an_unknown_option_is_named_with_its_prefix_and_the_valid_ones_listed() -> None:
    with pytest.raises(ValueError, match=r"^--set: unknown option 'toy\.stpes' for toy; "
                                         r"valid: cap, flag, kind, layers, lr, steps$"):
        coerce_field(_Settings, "stpes", 3, prefix="toy.")
    with pytest.raises(ValueError, match="unknown option 'hidden'"):  # not an __init__ field
        coerce_field(_Settings, "hidden", 1)
