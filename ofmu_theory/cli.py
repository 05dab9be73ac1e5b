"""The ``ofmu`` command: ``ofmu solve`` here; ``verify``, ``llm`` and ``vision`` from their packages."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import logging
import os
import sys
from typing import Any

from ofmu_theory.io import OutputError, output_path, write_json

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
                kwargs[key] = Constant(0.5 / (constants.L_upper + constants.L_lower))
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--set: {err}") from None


def _solve(args: argparse.Namespace) -> int:
    import convex  # noqa: F401  (registers the families)
    import nonconvex  # noqa: F401
    from ofmu_theory.family import FAMILIES

    family = FAMILIES.get(args.family).sample(seed=args.seed, **parse_assignments(args.param, what="--param"))
    problem = family.problem(args.backend)
    settings = {"max_steps": args.steps, **parse_assignments(args.set, what="--set")}
    solver = build_solver(args.solver, settings, constants=problem.constants)
    with contextlib.ExitStack() as stack:  # --json is claimed (writable, locked, not finished) before the run
        json_tmp = (stack.enter_context(output_path(args.json, overwrite=args.overwrite, kind="file", what="--json"))
                    if args.json else None)
        result = solver.run(problem, progress=not args.quiet)
        print(result.summary())
        reference = family.solution()
        if reference is not None:
            import numpy as np

            dist = float(np.linalg.norm(problem.backend.to_numpy(result.theta) - reference))
            print(f"distance to the bilevel solution θ*: {dist:.6g}")
        if json_tmp is not None:
            write_json(json_tmp, {"family": family.params() | {"name": family.name},
                                  **result.to_dict(include_theta=True, backend=problem.backend)})
    if args.json:
        print(f"wrote {args.json}")
    return EXIT_OK if result.success else EXIT_STOPPED


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
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
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


EXIT_OK = 0
EXIT_STOPPED = 1
EXIT_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
"""Exit statuses of every command (README.md, docs/design.md): 0 success; 1 the run diverged or was
stopped without a result; 2 bad input (an argument, a file's content, a setting), printed as one line
``ofmu: error: ...`` naming it; 3 the environment or I/O (an output that cannot be written or is in use, a
model not in the offline cache, a full disk); 130 / 143 interrupted by SIGINT / SIGTERM (128 + signal)."""

#: Bad input: printed as ``ofmu: error: ...``, exit status 2 (FileNotFoundError: a named input is missing).
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, RuntimeError)
#: The environment or I/O: printed as ``ofmu: error: ...``, exit status 3 (and torch's out-of-memory errors,
#: which are RuntimeErrors, matched by name so the core needs no torch import).
ENVIRONMENT_ERRORS = (OSError, ImportError, MemoryError)


def _is_environment(err: BaseException) -> bool:
    return isinstance(err, ENVIRONMENT_ERRORS) or type(err).__name__ == "OutOfMemoryError"


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it stops as cleanly as on SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise Interrupted(signum)


def _os_message(err: OSError) -> str:
    if isinstance(err, (OutputError,)) or not err.strerror:
        return str(err)
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{err.strerror} (check the path, its permissions and the free space)"


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand: the one entry path of ``ofmu`` and of every package's
    stand-alone ``python -m <package>.cli``.

    Raises the CPU allocator's thresholds (:mod:`ofmu_theory.allocator`), sets up logging (``-v``: debug),
    turns every progress bar off for the command when it was given ``--quiet``, turns SIGTERM into the
    same clean stop as SIGINT, and maps failures to one line ``ofmu: error: ...`` and the exit statuses
    above (:data:`USER_ERRORS` 2, :data:`ENVIRONMENT_ERRORS` 3, interrupts 130 / 143; ``-v`` also logs the
    traceback).
    """
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415
    from ofmu_theory.runinfo import PROGRESS_ENV  # noqa: PLC0415

    keep_freed_memory()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("ofmu")
    before = os.environ.get(PROGRESS_ENV)
    if getattr(args, "quiet", False):
        os.environ[PROGRESS_ENV] = "0"
    main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as err:
        name = "SIGTERM" if isinstance(err, Interrupted) else "SIGINT"
        print(f"ofmu: interrupted by {name}; stopped (outputs are left as they were; a run with "
              "--checkpoint-every saved a checkpoint to --resume from)", file=sys.stderr)
        return EXIT_SIGTERM if isinstance(err, Interrupted) else EXIT_SIGINT
    except (*USER_ERRORS, *ENVIRONMENT_ERRORS) as err:
        log.debug("traceback", exc_info=True)
        if _is_environment(err) and not isinstance(err, FileNotFoundError):
            message = _os_message(err) if isinstance(err, OSError) else str(err).splitlines()[0]
            print(f"ofmu: error: {message}", file=sys.stderr)
            return EXIT_ENVIRONMENT
        print(f"ofmu: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old_term)
        if before is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = before


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
