"""Every solver on every convex family: oracle calls and wall time to ε-accuracy, beside cvxpy.

Uses the C7 leaderboard's solver settings and accuracy measure (proofs_checks/c7_leaderboard.py):
acc(θ) = max(relative upper-level gap, relative lower-level residual). The cvxpy column times an
independent solve of the same bilevel problem: for the quadratic families min L_upper s.t. Nθ = h
(the lower-level solution set in closed form), for l1_regression and logistic_forget the family's
own cvxpy reference (two-stage / exponential-cone). Run: ``python -m benchmarks.solvers_to_accuracy``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import cvxpy as cp

from proofs_checks.c7_leaderboard import Accuracy, _race, configurations
from proofs_checks.instances import family_names, specs


def cvxpy_seconds(spec) -> float:
    """Wall time of an independent cvxpy solve of the bilevel problem (a fresh instance, no caches)."""
    family = spec.instance().sample(**dict(spec.params))
    start = time.perf_counter()
    if hasattr(family, "normal_equations"):
        n, h = family.normal_equations()
        theta_c = family.affine()[2]
        x = cp.Variable(theta_c.size)
        cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - theta_c)), [n @ x == h]).solve(solver=cp.CLARABEL)
    else:
        _ = family.reference  # the family's cvxpy reference, computed on first access
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--steps", type=int, default=2000, help="outer-step budget per solver")
    args = parser.parse_args(argv)
    print(f"ε = {args.eps:g}, budget {args.steps} outer steps; calls = gradients + HVPs + third-order products")
    print(f"{'family':<26} {'solver':<30} {'reached':>7} {'calls':>8} {'wall (s)':>9} {'cvxpy (s)':>9}")
    for spec in specs(family_names(convex=True), "quick", 1, 0):
        family = spec.instance()
        if family.solution() is None:
            continue
        ref = cvxpy_seconds(spec)
        acc = Accuracy(spec)
        for label, solver in configurations(family.constants()).items():
            start = time.perf_counter()
            row, _ = _race(spec, replace(solver, max_steps=args.steps), acc, args.eps)
            wall = time.perf_counter() - start
            calls = str(row["calls"]) if row["reached"] else f"(>{row['n_grad'] + row['n_hvp'] + row['n_third']})"
            print(f"{spec.family:<26} {label:<30} {str(row['reached']):>7} {calls:>8} {wall:9.3f} {ref:9.3f}")


if __name__ == "__main__":
    main()
