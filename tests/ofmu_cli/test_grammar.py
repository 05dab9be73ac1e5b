"""One ``--set`` grammar for ``ofmu llm`` and ``ofmu vision``: ``key=value`` or ``method.key=value``."""

from __future__ import annotations

import pytest

from ofmu_theory.settings import per_method

FIELDS = {"ofmu": {"rho", "beta", "lr"}, "npo": {"beta", "lr"}, "ft": {"lr"}}


def fields(name: str) -> set[str]:
    if name not in FIELDS:
        raise ValueError(f"unknown method {name!r}")
    return FIELDS[name]


def test_key_applies_to_every_method_that_has_it_and_method_key_to_one() -> None:
    got = per_method({"beta": 0.2, "ofmu.rho": 2, "lr": 1e-3, "npo.lr": 5e-4}, ("ofmu", "npo", "ft"), fields=fields)
    assert got == {"ofmu": {"beta": 0.2, "rho": 2, "lr": 1e-3}, "npo": {"beta": 0.2, "lr": 5e-4}, "ft": {"lr": 1e-3}}
    assert per_method({}, ("ofmu",), fields=fields) == {}
    assert per_method({"nope": 1}, ("ofmu",), fields=fields) == {"ofmu": {"nope": 1}}  # the method checks it


@pytest.mark.parametrize("settings, message", [
    ({"npo.beta": 1}, "method 'npo' is not in this run (ofmu, ft)"),
    ({"ofmu.nope": 1}, "unknown option 'ofmu.nope'; 'ofmu' has: beta, lr, rho"),
    ({"nope": 1}, "unknown option 'nope': no method of this run (ofmu, ft) has it; valid: beta, lr, rho"),
    ({"bad.x": 1}, "unknown method 'bad'"),
])
def test_errors_name_the_setting(settings, message) -> None:
    with pytest.raises(ValueError) as err:
        per_method(settings, ("ofmu", "ft"), fields=fields)
    assert message in str(err.value)


def test_llm_and_vision_read_the_same_grammar() -> None:
    from llm.cli import method_sets
    from vision.cli import parse_overrides

    assert method_sets(["beta=0.2", "ofmu.rho=3"], ("ofmu", "npo")) == {"ofmu": {"beta": 0.2, "rho": 3},
                                                                        "npo": {"beta": 0.2}}
    assert parse_overrides(["rho=0.5", "ft.lr=0.02"], ("ofmu", "ft")) == {"ofmu": {"rho": 0.5}, "ft": {"lr": 0.02}}
