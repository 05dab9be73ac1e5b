"""Every ``--help`` lists its choices (generated from the registries), one line and a default each."""

from __future__ import annotations

import argparse
import re

import pytest

from ofmu_cli import main as cli
from ofmu_theory.clihelp import choices, table
from ofmu_theory.registry import Registry, first_sentence


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _walk(child, (*path, name))


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], str]:
    return {path: p.format_help() for path, p in _walk(cli.build_parser())}


def _registries() -> dict[tuple[str, ...], list[Registry]]:
    import convex  # noqa: F401  (registers the families)
    import nonconvex  # noqa: F401
    import proofs_checks  # noqa: F401  (registers the claims)
    from llm.methods import METHODS as LLM_METHODS
    from llm.metrics import METRICS as LLM_METRICS
    from llm.models.embedded import EMBEDDED_SIZES
    from llm.prompts import PROMPTS
    from ofmu_theory.family import FAMILIES
    from ofmu_theory.solvers import SOLVERS
    from proofs_checks.claim import CLAIMS
    from proofs_checks.profiles import PROFILES
    from vision.data import DATASETS
    from vision.methods import METHODS as VISION_METHODS
    from vision.metrics import METRICS as VISION_METRICS
    from vision.models import MODELS

    return {
        ("solve",): [SOLVERS, FAMILIES],
        ("verify",): [CLAIMS, PROFILES],
        ("llm", "prepare"): [PROMPTS, EMBEDDED_SIZES],
        ("llm", "unlearn"): [LLM_METHODS, PROMPTS, EMBEDDED_SIZES],
        ("llm", "eval"): [LLM_METRICS],
        ("llm", "bench"): [LLM_METHODS, LLM_METRICS],
        ("vision", "prepare"): [DATASETS, MODELS],
        ("vision", "unlearn"): [VISION_METHODS, VISION_METRICS, DATASETS, MODELS],
        ("vision", "bench"): [VISION_METHODS, VISION_METRICS],
    }


def _listed(text: str, name: str) -> str | None:
    """The description on the help line that lists ``name`` ("  name  description"), None when absent."""
    match = re.search(rf"^  {re.escape(name)}  +(\S.*)$", text, flags=re.MULTILINE)
    return match.group(1) if match else None


def test_every_registry_entry_is_listed_with_a_description(helps) -> None:
    for path, registries in _registries().items():
        for registry in registries:
            for name in registry.names():
                line = _listed(helps[path], name)
                assert line, f"ofmu {' '.join(path)} --help does not list {registry.kind} {name!r} with a description"


def test_bench_profiles_are_listed(helps) -> None:
    from llm.fairbench import PROFILES as LLM_PROFILES
    from vision.fairbench import PROFILES as VISION_PROFILES

    for path, profiles in ((("llm", "bench"), LLM_PROFILES), (("vision", "bench"), VISION_PROFILES)):
        for name in (*profiles, "single"):
            assert _listed(helps[path], name), (path, name)
        assert re.search(r"^  quick .*\[default\]$", helps[path], flags=re.MULTILINE)


def test_every_command_has_a_user_description_without_markup(helps) -> None:
    for path, text in helps.items():
        if not path:
            continue
        usage_end = text.index("\n\n")
        description = text[usage_end:].split("\n\n")[1]
        assert not description.startswith(("options:", "positional arguments:")), f"ofmu {' '.join(path)}: no description"
        assert not re.search(r"``|:func:|:mod:|:class:", text), f"ofmu {' '.join(path)} --help shows reST markup"


def _option_help(text: str, option: str) -> str:
    """The help paragraph of ``option`` in a formatted help text (its line and the indented lines after it)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^  (-\w, )?{re.escape(option)}(?=[ ,]|$)", line):
            block = [line]
            for nxt in lines[i + 1:]:
                if not re.match(r"^\s{10,}\S", nxt):
                    break
                block.append(nxt)
            return " ".join(block)
    raise AssertionError(f"{option} not in the help")


def test_every_option_with_a_default_shows_it(helps) -> None:
    parsers = dict(_walk(cli.build_parser()))
    for path, parser in parsers.items():
        for action in parser._actions:
            flags = (argparse._HelpAction, argparse._StoreTrueAction, argparse._StoreFalseAction)
            if not action.option_strings or isinstance(action, flags):  # a flag's default is its absence
                continue
            if action.default is None or action.default is False or action.default == []:
                continue
            option = action.option_strings[-1]
            assert "default" in _option_help(helps[path], option), f"ofmu {' '.join(path)} {option}: default not shown"


def test_solve_help_names_the_default_solver_family_and_steps(helps) -> None:
    text = " ".join(helps[("solve",)].split())
    assert "(default: 200)" in text and "(default: ofmu)" in text
    assert _listed(helps[("solve",)], "ofmu").endswith("[default]")


def test_first_sentence_strips_markup_and_keeps_abbreviations() -> None:
    assert first_sentence("Avg. Gap = mean of ``x``. More text.") == "Avg. Gap = mean of x"
    assert first_sentence("Uses :func:`f` (Smith et al. 2025) on\n    two lines.\n\nDetails.") == \
        "Uses f (Smith et al. 2025) on two lines"
    assert first_sentence(None) == ""
    assert len(first_sentence("word " * 100)) <= 110


def test_choices_mark_the_default_and_registered_summaries_win() -> None:
    reg: Registry[object] = Registry("thing")

    @reg.register("a")
    def a() -> None:
        """First entry. Ignored."""

    reg.register("b", summary="explicit")(object())
    reg.register("c")(object())  # an instance without a summary: listed with an empty description
    text = choices("things", reg, default="b")
    assert text.splitlines() == ["things:", "  a  First entry", "  b  explicit [default]", "  c"]
    assert table("t", [("x", "y")]) == "t:\n  x  y"
    with pytest.raises(ValueError, match="unknown thing 'z'"):
        reg.summary("z")
