"""The core's per-iteration overhead over the bare oracle calls it makes (printed side by side).

For each (problem size, backend, solver): wall time per iteration, time inside the oracles per
iteration, and the ratio (wall − oracle)/oracle. Oracle time includes autograd for torch. Graph-mode
Φ-HVPs (torch, exact, β > 0) run a backward pass outside the objectives' oracles, which counts as
core time here: it is listed separately. Run: ``python -m benchmarks.core_overhead``.
"""

from __future__ import annotations

import argparse

import numpy as np

import convex  # noqa: F401  (registers the families)
from ofmu_theory import FAMILIES, SOLVERS
from ofmu_theory.timing import timed

CASES = {
    "ofmu (β=0.1, T=5, exact)": ("ofmu", dict(beta=0.1, rho=1.0, inner_steps=5, eta_in=0.01, eta_out=0.01)),
    "ofmu (β=0.1, T=5, fd)": ("ofmu", dict(beta=0.1, rho=1.0, inner_steps=5, eta_in=0.01, eta_out=0.01, hvp="fd")),
    "grad-penalty": ("grad-penalty", dict(rho=1.0, eta_out=0.01)),
    "scalarized": ("scalarized", dict(eta=0.01)),
}


def measure(d: int, m: int, backend: str, steps: int) -> list[tuple[str, float, float]]:
    family = FAMILIES.get("least_squares_projection").sample(seed=0, m=m, d=d)
    rows = []
    for label, (name, kwargs) in CASES.items():
        problem, clock = timed(family.problem(backend))
        result = SOLVERS.get(name)(max_steps=steps, **kwargs).run(problem)
        rows.append((label, result.wall_s / steps, clock.seconds / steps))
    return rows


def main(argv: list[str] | None = None) -> None:
    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415

    keep_freed_memory()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"{'size':>12} {'backend':>7} {'solver':<28} {'wall/it (ms)':>12} {'oracle/it (ms)':>14} {'overhead':>9}")
    for d, m in ((12, 5), (2000, 1000)):
        for backend in ("numpy", "torch"):
            for label, wall, oracle in measure(d, m, backend, args.steps):
                ratio = (wall - oracle) / oracle if oracle > 0 else np.nan
                print(f"{f'd={d}':>12} {backend:>7} {label:<28} {1e3 * wall:12.3f} {1e3 * oracle:14.3f} {ratio:9.1%}")


if __name__ == "__main__":
    main()
