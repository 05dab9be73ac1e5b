"""The ``ofmu`` command: ``ofmu solve`` here; ``verify``, ``llm`` and ``vision`` from their packages."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import sys
from typing import Any

from ofmu_theory.io import write_json

SUBCOMMAND_MODULES = ("proofs_checks.cli", "llm.cli", "vision.cli")
DEFAULT_FAMILY = "least_squares_projection"


def _parse_value(text: str) -> Any:
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


def parse_assignments(items: list[str], *, what: str) -> dict[str, Any]:
    """["a=1", "b=x"] -> {"a": 1, "b": "x"}; a malformed item is an error naming it."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} must look like key=value, got {item!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out


def build_solver(name: str, settings: dict[str, Any], *, constants: Any = None) -> Any:
    """A solver from CLI settings: step fields accept "0.1", "1/L", "armijo"; transforms "sgd"/"adam"."""
    from ofmu_theory.solvers import SOLVERS
    from ofmu_theory.steps import Armijo, Constant, parse_step_rule
    from ofmu_theory.transforms import Adam, Sgd

    cls = SOLVERS.get(name)
    valid = {f.name for f in dataclasses.fields(cls) if f.init and f.name != "update_mask"}
    unknown = set(settings) - valid
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for solver {name!r}; valid: {', '.join(sorted(valid))}")
    kwargs: dict[str, Any] = {}
    for key, value in settings.items():
        if key.startswith("eta"):
            kwargs[key] = parse_step_rule(str(value))
        elif key.startswith("transform"):
            transforms = {"sgd": Sgd, "adam": Adam}
            if str(value) not in transforms:
                raise ValueError(f"{key} must be one of {sorted(transforms)}, got {value!r}")
            kwargs[key] = transforms[str(value)]()
        else:
            kwargs[key] = value
    line_searchable = name not in ("blur", "projection")
    for key in ("eta", "eta_in", "eta_out"):
        if key in valid and key not in kwargs:
            if line_searchable:
                kwargs[key] = Armijo()
            elif constants is not None and constants.L_upper and constants.L_lower:
                kwargs[key] = Constant(0.5 / (constants.L_upper + constants.L_lower))
    return cls(**kwargs)


def _solve(args: argparse.Namespace) -> int:
    import convex  # noqa: F401  (registers the families)
    import nonconvex  # noqa: F401
    from ofmu_theory.family import FAMILIES

    family = FAMILIES.get(args.family).sample(seed=args.seed, **parse_assignments(args.param, what="--param"))
    problem = family.problem(args.backend)
    settings = {"max_steps": args.steps, **parse_assignments(args.set, what="--set")}
    solver = build_solver(args.solver, settings, constants=problem.constants)
    result = solver.run(problem, progress=not args.quiet)
    print(result.summary())
    reference = family.solution()
    if reference is not None:
        import numpy as np

        dist = float(np.linalg.norm(problem.backend.to_numpy(result.theta) - reference))
        print(f"distance to the bilevel solution θ*: {dist:.6g}")
    if args.json:
        write_json(args.json, {"family": family.params() | {"name": family.name}, **result.to_dict(include_theta=True, backend=problem.backend)})
        print(f"wrote {args.json}")
    return 0 if result.success else 1


def _add_solve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solve", help="run one solver on one synthetic family and print a summary")
    p.add_argument("--solver", default="ofmu", help="solver name (default: ofmu)")
    p.add_argument("--family", default=DEFAULT_FAMILY, help=f"problem family (default: {DEFAULT_FAMILY})")
    p.add_argument("--backend", default="numpy", choices=["numpy", "torch"])
    p.add_argument("--steps", type=int, default=200, help="outer iterations K")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="family parameter")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="solver option, e.g. beta=0.1, rho=10, eta_out=armijo, eta_in=1/L, hvp=fd")
    p.add_argument("--json", default=None, help="also write the result as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_solve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ofmu", description="OFMU bi-level penalty solvers and unlearning benchmarks")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_solve(sub)
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


#: Errors of bad input (and runtime failures the commands report): printed as ``ofmu: error: ...``, exit status 2.
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, RuntimeError)


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand: the one entry path of ``ofmu`` and of every package's
    stand-alone ``python -m <package>.cli``.

    Raises the CPU allocator's thresholds (:mod:`ofmu_theory.allocator`), sets up logging (``-v``: debug),
    turns every progress bar off for the command when it was given ``--quiet``, and prints the errors of
    :data:`USER_ERRORS` as ``ofmu: error: ...`` with exit status 2.
    """
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415
    from ofmu_theory.runinfo import PROGRESS_ENV  # noqa: PLC0415

    keep_freed_memory()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    before = os.environ.get(PROGRESS_ENV)
    if getattr(args, "quiet", False):
        os.environ[PROGRESS_ENV] = "0"
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as err:
        print(f"ofmu: error: {err}", file=sys.stderr)
        return 2
    finally:
        if before is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = before


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
