"""What ``python -m llm.benchmark`` times besides the baselines: OFMU's HVP paths and cheaper estimators.

:func:`ofmu_variants` (exact and finite-difference HVPs, β > 0 and β = 0) and :func:`estimator_variants`
(the core's cheaper estimators of the similarity term, forward mode) are (label, OFMU overrides) pairs;
:func:`synthetic_errors` measures each estimator's error against the exact one on synthetic families.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def ofmu_variants(beta: float = 0.1) -> list[tuple[str, dict[str, Any]]]:
    """(label, OFMU overrides): exact / fd central / fd forward, each with β > 0 and β = 0."""
    out = []
    for label, hvp in (("exact", {"hvp": "exact"}), ("fd central", {"hvp": "fd", "fd_scheme": "central"}),
                       ("fd forward", {"hvp": "fd", "fd_scheme": "forward"})):
        for b in (beta, 0.0):
            out.append((f"ofmu {label}, β={b:g}", {**hvp, "beta": b}))
    return out


ESTIMATOR_KEYS = ("sim_lag", "sim_pick", "sim_curvature")


def estimator_variants(beta: float = 0.1) -> list[tuple[str, dict[str, Any]]]:
    """(label, OFMU overrides): the core's cheaper estimators of the similarity term, and forward mode.

    Forward differences throughout (the cheapest scheme, :func:`ofmu_variants`), plus the exact path with
    frozen curvature (no graph of ∇Φ_β kept: the memory) and forward-mode ∇²Φ·w (``fwd_rev``).
    """
    fwd = {"hvp": "fd", "fd_scheme": "forward", "beta": beta}
    return [
        (f"ofmu fd forward, β={beta:g}, frozen", {**fwd, "sim_curvature": "frozen"}),
        (f"ofmu fd forward, β={beta:g}, random + frozen", {**fwd, "sim_pick": "random", "sim_curvature": "frozen"}),
        (f"ofmu fd forward, β={beta:g}, lag 2", {**fwd, "sim_lag": 2}),
        (f"ofmu fd forward, β={beta:g}, lag 2 + random", {**fwd, "sim_lag": 2, "sim_pick": "random"}),
        (f"ofmu fd forward, β={beta:g}, lag 4", {**fwd, "sim_lag": 4}),
        (f"ofmu exact, β={beta:g}, frozen", {"hvp": "exact", "beta": beta, "sim_curvature": "frozen"}),
        (f"ofmu fwd_rev, β={beta:g}", {"hvp": "fwd_rev", "beta": beta}),
    ]


def uses_estimator(extra: dict[str, Any]) -> bool:
    """Whether OFMU overrides ask for a cheaper estimator than the exact one."""
    defaults = {"sim_lag": 1, "sim_pick": "both", "sim_curvature": "full"}
    return extra.get("beta", 0.1) > 0 and any(extra.get(k, v) != v for k, v in defaults.items())


SYNTHETIC_FAMILIES: tuple[str, ...] = ("logistic_forget", "two_layer_net", "matrix_factorisation")


def synthetic_errors(families: Sequence[str] = SYNTHETIC_FAMILIES, *, steps: int = 30,
                     beta: float = 0.1) -> list[dict[str, Any]]:
    """Each cheaper estimator's error against the exact one along a run on synthetic families (numpy, analytic
    exact HVPs and third-order products, OFMU with T = 1 and plain steps η = 1/(10 L_lower) where the family knows L, else 0.01)."""
    import convex  # noqa: F401, PLC0415 - registers the families
    import nonconvex  # noqa: F401, PLC0415
    from ofmu_theory.estimators import estimator_errors  # noqa: PLC0415
    from ofmu_theory.family import FAMILIES  # noqa: PLC0415
    from ofmu_theory.solvers import OFMU as OFMUSolver  # noqa: PLC0415

    out = []
    for name in families:
        family = FAMILIES.get(name).sample(seed=0)
        problem = family.problem("numpy")
        L = problem.constants.L_lower
        eta = 0.1 / L if L else 0.01
        for label, extra in estimator_variants(beta):
            options = {k: v for k, v in extra.items() if k in ESTIMATOR_KEYS}
            if extra["hvp"] != "fd":
                continue  # the same estimators; the strategy is fixed to exact HVPs here
            solver = OFMUSolver(beta=beta, rho=1.0, inner_steps=1, eta_in=eta, eta_out=eta, max_steps=steps,
                                hvp="exact", **options)
            summary = estimator_errors(solver, problem).summary()
            out.append({"family": name, "label": label.replace("ofmu fd forward, ", ""), "options": options,
                        "steps": steps, **summary})
    return out
