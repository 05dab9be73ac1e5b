"""Properties of the core over hypothesis-drawn instances (each found a bug that example tests missed).

* finite differences (central and forward) against exact derivatives for β > 0 and both senses;
* OFMU's ρ column is the schedule ρ_k = min(ρ_0 γ^k, cap), and F is computed with it;
* every inner and outer iterate lies in Θ, for any step size and transform;
* Armijo accepts a trial step iff the sufficient-decrease inequality holds;
* the projection solver's combination is orthogonal to g_r under conflict and the identity otherwise.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ofmu_theory import SOLVERS, Armijo, Box, Cosine, Evaluator, Scheduled, Sgd, get_backend
from ofmu_theory.schedules import ConstantSchedule
from ofmu_theory.sampler import Batches
from ofmu_theory.solvers.combined import GradientPair
from ofmu_theory.steps import Line
from tests.ofmu_theory.problems import poly_problem
from tests.strategies import betas, constraint_sets, seeds, step_sizes, transforms

FULL = Batches(None, None)


def _rel(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


# --- finite differences against exact derivatives -----------------------------------------------
@given(
    seed=seeds,
    d=st.integers(2, 6),
    sense=st.sampled_from(["max", "min"]),
    sim=st.sampled_from(["signed", "squared"]),
    beta=betas.filter(lambda b: b > 0),
    rho=st.sampled_from([0.1, 2.0]),
    blocked=st.booleans(),
)
@settings(max_examples=15)
def test_finite_differences_match_exact_derivatives_with_similarity(
    seed: int, d: int, sense: str, sim: str, beta: float, rho: float, blocked: bool
) -> None:
    """∇Φ_β (whose H_f p and H_r q are differenced around g_f and g_r) and ∇F_ρ (∇²Φ·w differenced
    around ∇Φ) from central and forward differences, against the analytic third-order oracles."""
    block = (np.arange(d) % 2 == 0).astype(float) if blocked else None
    problem = poly_problem(seed, d, "numpy", sense=sense, block=block)
    x = 0.7 * np.random.default_rng(seed + 1).standard_normal(d)
    exact = Evaluator(problem, beta=beta, sim=sim, hvp="exact")
    grad_phi, grad_F = exact.phi(x, FULL).grad_phi, exact.penalised(x, rho, FULL).grad_F
    # Tolerances: central differences err O(h²) ≈ ε^(2/3); forward ones O(h), and ∇F nests two of them,
    # so forward uses a larger step (1e-6) than its default √ε, whose round-off the outer difference amplifies.
    for scheme, fd_eps, tol_phi, tol_F in (("central", None, 1e-7, 1e-5), ("forward", 1e-6, 1e-5, 1e-3)):
        fd = Evaluator(problem, beta=beta, sim=sim, hvp="fd", fd_scheme=scheme, fd_eps=fd_eps)
        assert _rel(fd.phi(x, FULL).grad_phi, grad_phi) <= tol_phi, f"∇Φ, {scheme}"
        assert _rel(fd.penalised(x, rho, FULL).grad_F, grad_F) <= tol_F, f"∇F, {scheme}"


def _fields(name: str) -> set[str]:
    """The hyper-parameters of the registered solver ``name``."""
    return {f.name for f in fields(SOLVERS.get(name))}


# --- the penalty schedule ------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in SOLVERS.names() if {"rho", "gamma", "rho_cap"} <= _fields(n)])
@given(
    rho0=st.floats(0.01, 10.0),
    gamma=st.sampled_from([1.0, 1.5, 2.0, 10.0]),
    cap_factor=st.sampled_from([None, 1.0, 3.0, 1e3]),
    steps=st.integers(1, 6),
)
@settings(max_examples=10)
def test_rho_column_is_the_geometric_schedule(name: str, rho0: float, gamma: float, cap_factor: float | None, steps: int) -> None:
    cap = None if cap_factor is None else rho0 * cap_factor
    kwargs = dict(rho=rho0, gamma=gamma, rho_cap=cap, max_steps=steps)
    if name != "grad-penalty":
        kwargs["inner_steps"] = 1
    solver = SOLVERS.get(name)(**kwargs, **({"eta": 1e-3} if name == "value-penalty" else {"eta_out": 1e-3}))
    trace = solver.run(poly_problem(0, 3, "numpy")).trace
    expected = [rho0 * gamma**k if cap is None else min(rho0 * gamma**k, cap) for k in range(steps)]
    np.testing.assert_allclose(trace["rho"], expected, rtol=1e-15)
    if name != "value-penalty":  # F_ρ = L_r + ρ‖R‖² with this step's ρ
        np.testing.assert_allclose(trace["F"], trace["loss_r"] + trace["rho"] * trace["grad_phi_norm"] ** 2, rtol=1e-12)


# --- iterates stay in Θ --------------------------------------------------------------------------
def _solver(name: str, eta_in, eta_out, t_in, t_out):
    """``name`` with two inner steps (where it has any) and the drawn steps and transforms."""
    own = _fields(name)
    if name == "grad-penalty":  # its default single loop
        return SOLVERS.get(name)(eta_out=eta_out, transform_out=t_out, max_steps=4)
    if {"eta_in", "eta_out", "transform_in", "transform_out"} <= own:  # two loops (ofmu, alternating)
        return SOLVERS.get(name)(inner_steps=2, eta_in=eta_in, eta_out=eta_out, transform_in=t_in, transform_out=t_out, max_steps=4)
    if "eta_in" in own:  # value-penalty: inner ascent, one outer rule
        return SOLVERS.get(name)(inner_steps=2, eta_in=eta_in, eta=eta_out, transform=t_out, max_steps=4)
    return SOLVERS.get(name)(eta=eta_out, transform=t_out, max_steps=4)


@pytest.mark.parametrize("name", SOLVERS.names())
@given(
    seed=seeds,
    data=st.data(),
    eta_in=step_sizes,
    eta_out=step_sizes,
    t_in=transforms(),
    t_out=transforms(),
    armijo=st.booleans(),
    masked=st.booleans(),
)
@settings(max_examples=8)
def test_every_iterate_lies_in_the_constraint_set(
    name: str, seed: int, data, eta_in: float, eta_out: float, t_in, t_out, armijo: bool, masked: bool
) -> None:
    """Every point the solver evaluates the losses at (inner iterates, θ̃, line-search trials) and every
    outer iterate is in Θ, however large the step, with or without an update mask: each step ends with Π_Θ."""
    d = 4
    theta_set = data.draw(constraint_sets(d))
    problem = poly_problem(seed, d, "numpy")
    problem = replace(problem, constraint=theta_set.to("numpy"), theta0=theta_set._project(problem.theta0, np))
    if armijo and name in ("ofmu", "grad-penalty"):
        eta_in, eta_out = Armijo(eta0=eta_in), Armijo(eta0=eta_out)
    visited: list[np.ndarray] = []
    for objective in (problem.lower, problem.upper):
        for method in ("value", "value_and_grad"):
            original = getattr(objective, method)

            def spy(theta, *args, _original=original, **kwargs):
                visited.append(np.array(theta, copy=True))
                return _original(theta, *args, **kwargs)

            setattr(objective, method, spy)
    with np.errstate(over="ignore", invalid="ignore"):  # free (unmasked) coordinates may diverge: not checked here
        solver = _solver(name, eta_in, eta_out, t_in, t_out)
    if masked:
        solver = replace(solver, update_mask=np.array([1.0, 0.0, 1.0, 1.0]))
    with np.errstate(over="ignore", invalid="ignore"):  # free (unmasked) coordinates may diverge: not checked here
        result = solver.run(problem, record_iterates=True)
    assert len(visited) > 0
    # coordinates a masked box leaves free may run off to ±inf under large steps: only the others are checked
    free = np.asarray(theta_set.mask) == 0 if isinstance(theta_set, Box) and theta_set.mask is not None else np.zeros(d, bool)
    for x in [*visited, *result.iterates]:
        y = np.where(free, 0.0, x)
        assert np.all(np.isfinite(y)) and theta_set.contains(y, tol=1e-12), (theta_set, x)


# --- Armijo's sufficient-decrease test -------------------------------------------------------------
@given(
    f0=st.floats(-1e3, 1e3),
    slope=st.floats(-1e2, -1e-3),
    eta0=step_sizes,
    c=st.sampled_from([1e-4, 0.1, 0.5]),
    shrink=st.sampled_from([0.1, 0.5, 0.9]),
    # excess over the Armijo line, in units of c·η·|slope|: around the boundary, on both sides
    excess=st.lists(st.sampled_from([-1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0, 1.9, math.nan]) | st.floats(-2.0, 2.0), min_size=1, max_size=5),
)
@settings(max_examples=100)  # cheap: no oracle calls
def test_armijo_accepts_the_first_trial_with_sufficient_decrease(
    f0: float, slope: float, eta0: float, c: float, shrink: float, excess: list[float]
) -> None:
    trials: list[tuple[float, float]] = []

    def value_at(eta: float) -> float:
        i = len(trials)
        e = excess[i] if i < len(excess) else 1.0
        value = f0 + c * eta * slope + e * c * eta * abs(slope)
        trials.append((eta, value))
        return value

    rule = Armijo(eta0=eta0, shrink=shrink, c=c, max_backtracks=len(excess))
    choice = rule(Line(f0=f0, slope=slope, value_at=value_at, smoothness=None, what="test"))
    ok = [math.isfinite(v) and v <= f0 + c * eta * slope for eta, v in trials]
    # it stops at the first trial that satisfies f(θ + ηd) ≤ f(θ) + c·η·⟨∇f, d⟩, and only there
    assert ok[:-1] == [False] * (len(ok) - 1)
    assert choice.accepted == ok[-1]
    np.testing.assert_allclose([eta for eta, _ in trials], eta0 * shrink ** np.arange(len(trials)), rtol=1e-12)
    if choice.accepted:
        assert choice.eta == trials[-1][0]
    else:
        assert len(trials) == len(excess)


# --- the projection solver's combination ------------------------------------------------------------
@given(
    seed=seeds,
    n=st.integers(1, 6),
    along=st.floats(-3.0, 3.0) | st.just(0.0),
    forget_weight=st.sampled_from([0.5, 1.0, 2.0]),
    retain_weight=st.sampled_from([0.0, 1.0, 3.0]),
    zero_retain=st.booleans(),
)
def test_projection_removes_the_conflicting_component_only(
    seed: int, n: int, along: float, forget_weight: float, retain_weight: float, zero_retain: bool
) -> None:
    """ĝ_d = g_d − ⟨g_d, g_r⟩/‖g_r‖² g_r when ⟨g_d, g_r⟩ < 0 (then ⟨ĝ_d, g_r⟩ = 0), else g_d."""
    b = get_backend("numpy")
    rng = np.random.default_rng(seed)
    g_r = np.zeros(n) if zero_retain else rng.standard_normal(n)
    u = rng.standard_normal(n)
    if not zero_retain:  # g_d = (part orthogonal to g_r) + along·ĝ_r: the sign of ⟨g_d, g_r⟩ is along's
        u -= (u @ g_r) / (g_r @ g_r) * g_r
        u += along * g_r / np.linalg.norm(g_r)
    g_d = u
    pair = GradientPair(g_d, g_r, float(g_d @ g_r), float(g_d @ g_d), float(g_r @ g_r))
    solver = SOLVERS.get("projection")(forget_weight=forget_weight, retain_weight=retain_weight)
    direction, extra = solver.combine(b, pair)
    g_hat = (direction - retain_weight * g_r) / forget_weight
    conflict = pair.inner < 0 and pair.gr2 > 0
    assert extra["conflict"] == float(conflict)
    if conflict:
        assert abs(g_hat @ g_r) <= 1e-12 * (1 + np.linalg.norm(g_d) * np.linalg.norm(g_r))
        np.testing.assert_allclose(g_d - g_hat, pair.inner / pair.gr2 * g_r, rtol=1e-12, atol=1e-14)
    else:
        np.testing.assert_allclose(g_hat, g_d, rtol=1e-12, atol=1e-14)


# --- the shared step: decoupled weight decay, masks, scheduled step sizes, the iteration counter -----
@given(seed=seeds, eta=step_sizes, decay=st.floats(0.0, 1.0), masked=st.booleans())
@settings(max_examples=10)
def test_one_step_with_decoupled_weight_decay(seed: int, eta: float, decay: float, masked: bool) -> None:
    """Fine-tuning (γ_f = 0) with SGD and decoupled decay: θ_1 = θ_0 − η·m⊙(∇L_r(θ_0) + wd·θ_0)."""
    problem = poly_problem(seed, 4, "numpy")
    mask = np.array([1.0, 0.0, 1.0, 0.0]) if masked else None
    solver = SOLVERS.get("scalarized")(forget_weight=0.0, eta=eta, transform=Sgd(weight_decay=decay), update_mask=mask, max_steps=1)
    theta0 = problem.theta0
    _, g_r = problem.upper.value_and_grad(theta0)
    delta = -eta * (g_r + decay * theta0)
    expected = theta0 + (delta if mask is None else mask * delta)
    np.testing.assert_allclose(solver.run(problem).theta, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", SOLVERS.names())
@given(start=st.floats(1e-3, 0.1), steps=st.integers(1, 4), warmup=st.integers(0, 2))
@settings(max_examples=5)
def test_scheduled_step_sizes_follow_their_schedule(name: str, start: float, steps: int, warmup: int) -> None:
    schedule = Cosine(start, steps, end=start / 10, warmup=warmup)
    rule = Scheduled(schedule)
    kwargs = {"eta_out": rule} if "eta_out" in _fields(name) else {"eta": rule}
    trace = SOLVERS.get(name)(max_steps=5, **kwargs).run(poly_problem(1, 3, "numpy")).trace
    np.testing.assert_allclose(trace["eta_out"], [schedule(k) for k in range(5)], rtol=1e-15)


@pytest.mark.parametrize("name", SOLVERS.names())
def test_iteration_counter_and_trace_rows(name: str) -> None:
    """The state's k counts the outer iterations (it drives schedules and resumption); trace k = 0..K−1."""
    result = SOLVERS.get(name)(max_steps=3).run(poly_problem(2, 3, "numpy"))
    assert result.nit == result.state.k == 3
    np.testing.assert_array_equal(result.trace["k"], [0.0, 1.0, 2.0])


# --- JSON output stays standard JSON ---------------------------------------------------------------
_json_values = st.recursive(
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 10) | st.text(max_size=3) | st.none(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=10,
)


@given(obj=_json_values)
@example(obj={"a": [1.0, float("nan")], "b": {"c": float("-inf")}, "d": (float("inf"),)})
@settings(max_examples=100)  # cheap: no oracle calls
def test_to_jsonable_encodes_nan_and_inf_at_any_depth(obj) -> None:
    import json

    from ofmu_theory.io import to_jsonable

    def decode(x):  # the inverse of the encoding, to compare with the input
        if isinstance(x, str) and x in ("nan", "inf", "-inf"):
            return float(x)
        if isinstance(x, dict):
            return {k: decode(v) for k, v in x.items()}
        if isinstance(x, list):
            return [decode(v) for v in x]
        return x

    text = json.dumps(to_jsonable(obj), allow_nan=False)  # raises if a NaN or inf was left as a number
    expected = json.loads(json.dumps(obj, allow_nan=True))
    assert repr(decode(json.loads(text))) == repr(decode(expected))


@pytest.mark.parametrize(("name", "options"), [*((n, {}) for n in SOLVERS.names()),
                                               ("scalarized", {"l1": ConstantSchedule(0.1)})],
                         ids=[*SOLVERS.names(), "scalarized-l1"])
def test_trace_rows_hold_python_floats_on_torch(name: str, options: dict) -> None:
    """A step's row is numbers, never tensors (a CUDA tensor would not convert into the trace's columns),
    also where an option adds a term to the row's values (the scalarised objective's α‖θ‖₁)."""
    rows: list[dict] = []
    solver = SOLVERS.get(name)(max_steps=2, **options)
    solver.run(poly_problem(4, 3, "torch"), callback=lambda info: rows.append(info.record))
    assert len(rows) == 2
    for row in rows:
        bad = {k: type(v).__name__ for k, v in row.items() if type(v) not in (float, int)}
        assert not bad, bad


@given(seed=seeds, eta=step_sizes, alpha=st.floats(0.0, 2.0))
@settings(max_examples=10)
def test_one_step_with_an_l1_term(seed: int, eta: float, alpha: float) -> None:
    """Fine-tuning with the ℓ1 term α‖θ‖₁: θ_1 = θ_0 − η(∇L_r(θ_0) + α·sign θ_0) (sign 0 = 0)."""
    problem = poly_problem(seed, 4, "numpy")
    theta0 = problem.theta0.copy()
    theta0[1] = 0.0
    solver = SOLVERS.get("scalarized")(forget_weight=0.0, eta=eta, l1=ConstantSchedule(alpha), max_steps=1)
    _, g_r = problem.upper.value_and_grad(theta0)
    expected = theta0 - eta * (g_r + alpha * np.sign(theta0))
    np.testing.assert_allclose(solver.run(problem, theta0).theta, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("outer_steps", [None, 3])
def test_alternating_takes_T_max_steps_and_S_min_steps(outer_steps: int | None) -> None:
    """Per outer iteration: T = inner_steps forget gradients and S = outer_steps retain gradients (defaults 1, 1)."""
    kwargs = {} if outer_steps is None else {"outer_steps": outer_steps}
    result = SOLVERS.get("alternating")(max_steps=2, **kwargs).run(poly_problem(0, 3, "numpy"))
    assert result.n_grad == 2 * (1 + (outer_steps or 1))


# --- the smoothed cosine -----------------------------------------------------------------------------
@given(seed=seeds, n=st.integers(1, 6), delta=st.sampled_from([1e-12, 1e-3, 0.1, 1.0]), scale=st.sampled_from([1e-2, 1.0, 1e2]))
def test_cosine_terms_are_the_smoothed_cosine_and_its_partial_derivatives(seed: int, n: int, delta: float, scale: float) -> None:
    """S = ⟨a, b⟩/(n_a n_b) with n_x = √(‖x‖² + δ²); p = ∂S/∂a and q = ∂S/∂b (central differences)."""
    from ofmu_theory.similarity import cosine_terms

    b = get_backend("numpy")
    rng = np.random.default_rng(seed)
    a, g = scale * rng.standard_normal(n), rng.standard_normal(n)

    def cosine(x: np.ndarray, y: np.ndarray) -> float:
        return float(x @ y / (np.sqrt(x @ x + delta**2) * np.sqrt(y @ y + delta**2)))

    terms = cosine_terms(b, a, g, delta)
    assert np.isclose(terms.cosine, cosine(a, g), rtol=1e-12, atol=1e-15)
    assert np.isclose(terms.norm_a, np.sqrt(a @ a + delta**2), rtol=1e-14)
    h = 1e-6 * scale
    dS_da = [(cosine(a + h * e, g) - cosine(a - h * e, g)) / (2 * h) for e in np.eye(n)]
    dS_db = [(cosine(a, g + 1e-6 * e) - cosine(a, g - 1e-6 * e)) / 2e-6 for e in np.eye(n)]
    # central differences with h ≈ 1e-6·scale: truncation O(h²) and round-off O(ε/h) stay below 1e-6 relative
    np.testing.assert_allclose(terms.p, dS_da, rtol=1e-5, atol=1e-7 / scale)
    np.testing.assert_allclose(terms.q, dS_db, rtol=1e-5, atol=1e-7)
