"""The ``ofmu`` command: one parser over the sub-commands every package registers.

This package sits above all the others: ``solve`` (:mod:`ofmu_cli.solve`, on the convex/ and nonconvex/
families), ``verify`` (:mod:`proofs_checks.cli`), ``llm`` (:mod:`llm.cli`) and ``vision``
(:mod:`vision.cli`); each module adds its sub-command with ``register(subparsers)``. A sub-command whose
optional dependencies (a pyproject extra) are not installed is still listed; running it prints one line
naming the extra to install and exits with status 3 (the environment), while the others run as usual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from types import ModuleType

from ofmu_theory.clihelp import use_help_formatter
from ofmu_theory.command import run_command


@dataclass(frozen=True)
class Subcommand:
    """One ``ofmu`` sub-command.

    Attributes:
        name: what the user types (``ofmu NAME ...``).
        module: the module whose ``register(subparsers)`` adds it.
        extra: the pyproject extra it needs beyond a base install (None: none).
    """

    name: str
    module: str
    extra: str | None = None


SUBCOMMANDS = (
    Subcommand("solve", "ofmu_cli.solve"),
    Subcommand("verify", "proofs_checks.cli"),
    Subcommand("llm", "llm.cli", extra="llm"),
    Subcommand("vision", "vision.cli"),
)
"""In the order ``ofmu --help`` lists them."""

EXTRA_MODULES = {"llm": frozenset({"transformers", "tokenizers", "safetensors", "peft", "gguf", "rouge_score"})}
"""The top-level modules each extra installs (pyproject.toml's optional-dependencies; a test checks them)."""


def install_hint(command: Subcommand, missing: str) -> str:
    """The one line printed when ``command``'s extra is not installed (``missing``: the module not found)."""
    return (f"ofmu {command.name} needs the '{command.extra}' extra: pip install -e '.[{command.extra}]' "
            f"(missing module '{missing}')")


def _import(module: str) -> ModuleType:
    return importlib.import_module(module)


def _register_missing_extra(sub: argparse._SubParsersAction, command: Subcommand, missing: str) -> None:
    """List ``command`` and let it take any arguments: running it raises the install hint (exit status 3)."""
    hint = install_hint(command, missing)

    def fail(args: argparse.Namespace) -> int:  # noqa: ARG001
        raise ModuleNotFoundError(hint, name=missing)

    p = sub.add_parser(command.name, add_help=False,
                       help=f"not installed: needs the '{command.extra}' extra (pip install -e '.[{command.extra}]')")
    p.add_argument("-h", "--help", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=fail)


def _register(sub: argparse._SubParsersAction, command: Subcommand) -> None:
    try:
        module = _import(command.module)
    except ModuleNotFoundError as err:
        missing = (err.name or "").partition(".")[0]
        if command.extra is None or missing not in EXTRA_MODULES[command.extra]:
            raise
        _register_missing_extra(sub, command, missing)
        return
    module.register(sub)


def build_parser() -> argparse.ArgumentParser:
    """The ``ofmu`` parser with every sub-command of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="ofmu", description="OFMU bi-level penalty solvers, the checks of their convergence claims, and "
        "LLM and vision unlearning benchmarks. 'ofmu COMMAND --help' lists each command's options and choices.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        _register(sub, command)
    return use_help_formatter(parser)


def main(argv: list[str] | None = None) -> int:
    """Run ``ofmu`` (the console script): parse ``argv`` and run the sub-command (exit statuses in README.md)."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
