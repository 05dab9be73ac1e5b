"""``--help`` text generated from the registries: every choice with one line and its default.

A command's parser gets an epilog of :func:`choices` sections (solvers, families, methods, metrics, ...),
built only when the help is shown (:class:`LazyText`, so parsing imports no registry), and every parser
of a command uses :class:`HelpFormatter` (:func:`use_help_formatter`, called by
:func:`ofmu_theory.command.run_command`): epilogs keep their line breaks and every option with a default
says it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any


class LazyText(str):
    """A description or epilog computed when the help is formatted (``render()``); as a string it is empty.

    Args:
        render: returns the text (it may import the registries it lists).
    """

    render: Callable[[], str]

    def __new__(cls, render: Callable[[], str]) -> LazyText:
        obj = super().__new__(cls, "")
        obj.render = render
        return obj


class HelpFormatter(argparse.HelpFormatter):
    """Renders a :class:`LazyText` as it is written (its line breaks kept; other text is wrapped) and appends
    "(default: X)" to an option whose help does not already name its default."""

    def add_text(self, text: str | None) -> None:
        if isinstance(text, LazyText):
            self._add_item(lambda rendered: rendered + "\n\n", [text.render()])
        else:
            super().add_text(text)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        unset = default is None or default is False or default is argparse.SUPPRESS or default == []
        flag = (argparse._HelpAction, argparse._VersionAction, argparse._StoreTrueAction, argparse._StoreFalseAction)
        if "default" in text or unset or not action.option_strings or isinstance(action, flag):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def use_help_formatter(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give ``parser`` and all its sub-command parsers :class:`HelpFormatter`; returns ``parser``."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                use_help_formatter(child)
    return parser


def choices(title: str, registry: Any, *, default: str | None = None, names: Iterable[str] | None = None) -> str:
    """One help section: ``title:`` then one line per entry, ``name  summary`` (the default marked).

    Args:
        title: the section heading, e.g. "solvers (--solver)".
        registry: a :class:`~ofmu_theory.registry.Registry` (its ``summary`` gives each line).
        default: the name used when the option is not given.
        names: the entries to list, in order (default: all, sorted).
    """
    listed = list(names) if names is not None else registry.names()
    return table(title, [(n, registry.summary(n)) for n in listed], default=default)


def table(title: str, rows: Iterable[tuple[str, str]], *, default: str | None = None) -> str:
    """``title:`` then ``name  description`` lines (the default marked), for choices not in a registry."""
    rows = list(rows)
    width = max((len(n) for n, _ in rows), default=0)
    lines = [f"{title}:"]
    for name, text in rows:
        mark = " [default]" if name == default else ""
        lines.append(f"  {name:<{width}}  {text}{mark}".rstrip())
    return "\n".join(lines)


def epilog(*sections: Callable[[], str]) -> LazyText:
    """An epilog of help sections, each built when the help is shown, separated by blank lines."""
    return LazyText(lambda: "\n\n".join(section() for section in sections))


def verbatim(text: str) -> LazyText:
    """``text`` shown as written (its line breaks kept), e.g. a command's description with examples."""
    return LazyText(lambda: text)
