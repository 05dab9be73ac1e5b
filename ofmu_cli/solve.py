"""``ofmu solve``: one solver on one synthetic family (convex/ or nonconvex/), with a printed summary."""

from __future__ import annotations

import argparse
import contextlib

from ofmu_theory.command import EXIT_OK, EXIT_STOPPED
from ofmu_theory.io import output_path, write_json
from ofmu_theory.settings import build_solver, parse_assignments

DEFAULT_FAMILY = "least_squares_projection"


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


def _solvers_help() -> str:
    from ofmu_theory.clihelp import choices
    from ofmu_theory.solvers import SOLVERS

    return choices("solvers (--solver)", SOLVERS, default="ofmu")


def _families_help() -> str:
    import convex  # noqa: F401  (registers the families)
    import nonconvex  # noqa: F401
    from ofmu_theory.clihelp import choices
    from ofmu_theory.family import FAMILIES

    return choices("families (--family)", FAMILIES, default=DEFAULT_FAMILY)


def _settings_help() -> str:
    return ("solver options (--set KEY=VALUE, repeatable): the solver's fields, e.g. beta=0.1 rho=10 gamma=1.1\n"
            "  inner_steps=5 eta_in=1/L eta_out=armijo (a number, 1/L, 1/L*s, armijo or armijo:eta0) hvp=fd\n"
            "  transform=adam; an unknown key is an error listing the solver's valid ones")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``solve`` sub-command to the ``ofmu`` parser."""
    from ofmu_theory.clihelp import epilog

    p = sub.add_parser("solve", help="run one solver on one synthetic family and print a summary",
                       description="Run one bi-level solver on one seeded synthetic problem family and print "
                                   "the result's summary and its distance to the family's exact solution.",
                       epilog=epilog(_solvers_help, _families_help, _settings_help))
    p.add_argument("--solver", default="ofmu", help="solver name (listed below)")
    p.add_argument("--family", default=DEFAULT_FAMILY, help="problem family (listed below)")
    p.add_argument("--backend", default="numpy", choices=["numpy", "torch"], help="array backend")
    p.add_argument("--steps", type=int, default=200, help="outer iterations K (the solver's max_steps)")
    p.add_argument("--seed", type=int, default=0, help="seed of the family's instance")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="family parameter, e.g. n=20 (repeatable; the family's fields)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="solver option, e.g. beta=0.1, rho=10, eta_out=armijo, eta_in=1/L, hvp=fd (repeatable)")
    p.add_argument("--json", default=None, help="also write the result as JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_solve)
