"""The math of Φ_β, ∇Φ_β, ∇²Φ_β·v, F_ρ and ∇F_ρ: Taylor tests and cross-checks in both backends."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ofmu_theory import Evaluator, L1Ball
from ofmu_theory.sampler import Batches
from tests.ofmu_theory.problems import poly_problem, to_backend
from tests.strategies import seeds
from tests.support import assert_close, assert_taylor_order2

FULL = Batches(None, None)
CASES = [("signed", 0.3), ("squared", 0.5), ("none", 0.0), ("signed", 0.0)]


def _flat(ev: Evaluator, x) -> np.ndarray:
    return ev.backend.to_numpy(x)


def _wrap(ev: Evaluator, fn):
    """fn(θ in backend) -> backend vec/scalar, as numpy -> numpy."""
    like = ev.problem.theta0

    def f(x: np.ndarray) -> np.ndarray:
        out = fn(ev.backend.from_numpy(x, like))
        return np.asarray(ev.backend.item(out)) if not isinstance(out, (tuple, np.ndarray)) else _flat(ev, out)

    return f


@pytest.mark.parametrize("sim,beta", CASES)
@given(seed=seeds, sense=st.sampled_from(["max", "min"]), blocked=st.booleans())
@settings(max_examples=6)
def test_grad_phi_and_phi_hvp_taylor(backend_name: str, sim: str, beta: float, seed: int, sense: str, blocked: bool) -> None:
    d = 5
    block = [1, 1, 1, 0, 0] if blocked else None
    problem = poly_problem(seed, d, backend_name, sense=sense, block=block)
    ev = Evaluator(problem, beta=beta, sim=sim, hvp="exact")
    rng = np.random.default_rng(seed)
    x, h = 0.5 * rng.standard_normal(d), rng.standard_normal(d)
    like = problem.theta0
    X = ev.backend.from_numpy(x, like)
    point = ev.phi(X, FULL)
    grad_phi = _flat(ev, point.grad_phi)
    assert_taylor_order2(_wrap(ev, lambda t: ev.phi(t, FULL).phi), x, h, grad_phi @ h, what="Φ → ∇Φ")
    at, graph_point = _graph_point(ev, X)
    hv = _flat(ev, ev.strategy.phi_hvp(ev, at, ev.backend.from_numpy(h, like), FULL, graph_point))
    assert_taylor_order2(_wrap(ev, lambda t: ev.phi(t, FULL).grad_phi), x, h, hv, what="∇Φ → ∇²Φ h")


def _graph_point(ev: Evaluator, X):
    """(θ, point) as ev.penalised builds them for the exact strategy."""
    at = ev.backend.requires_grad(X) if ev.strategy.needs_graph(ev) else X
    return at, ev.phi(at, FULL, create_graph=ev.strategy.needs_graph(ev), need_upper=True)


@pytest.mark.parametrize("sim,beta", CASES)
@given(seed=seeds, blocked=st.booleans(), rho=st.sampled_from([0.1, 3.0]))
@settings(max_examples=5)
def test_grad_F_taylor(backend_name: str, sim: str, beta: float, seed: int, blocked: bool, rho: float) -> None:
    d = 5
    problem = poly_problem(seed, d, backend_name, block=[0, 1, 1, 1, 0] if blocked else None)
    ev = Evaluator(problem, beta=beta, sim=sim, hvp="exact")
    rng = np.random.default_rng(seed + 1)
    x, h = 0.5 * rng.standard_normal(d), rng.standard_normal(d)
    pen = ev.penalised(ev.backend.from_numpy(x, problem.theta0), rho, FULL)
    assert np.isclose(pen.F, ev.penalised_value(ev.backend.from_numpy(x, problem.theta0), rho, FULL), rtol=1e-12)
    assert_taylor_order2(
        lambda t: np.asarray(ev.penalised_value(ev.backend.from_numpy(t, problem.theta0), rho, FULL)),
        x, h, _flat(ev, pen.grad_F) @ h, what="F → ∇F",
    )


@pytest.mark.parametrize("sim,beta", CASES[:2])
@given(seed=seeds)
@settings(max_examples=5)
def test_numpy_analytic_phi_hvp_matches_torch_autograd(sim: str, beta: float, seed: int) -> None:
    d = 6
    out = {}
    for backend in ("numpy", "torch"):
        problem = poly_problem(seed, d, backend, block=[1, 1, 0, 1, 1, 0])
        ev = Evaluator(problem, beta=beta, sim=sim, hvp="exact")
        x = np.random.default_rng(seed).standard_normal(d) * 0.5
        pen = ev.penalised(to_backend(x, backend), 2.0, FULL)
        out[backend] = (ev.backend.to_numpy(pen.grad_F), pen.F)
    assert_close(out["numpy"][0], out["torch"][0], rtol=1e-10, atol=1e-12, what="∇F numpy vs torch")
    assert_close(out["numpy"][1], out["torch"][1], rtol=1e-12)


@pytest.mark.parametrize("sim,beta", CASES[:3])
def test_hvp_strategies_agree_with_exact(sim: str, beta: float) -> None:
    d, seed = 6, 7
    x = np.random.default_rng(seed).standard_normal(d) * 0.5
    grads = {}
    for backend, hvp in [("torch", "exact"), ("torch", "fwd_rev"), ("torch", "fd"), ("numpy", "fd"), ("numpy", "exact")]:
        problem = poly_problem(seed, d, backend)
        ev = Evaluator(problem, beta=beta, sim=sim, hvp=hvp)
        grads[(backend, hvp)] = ev.backend.to_numpy(ev.penalised(to_backend(x, backend), 1.0, FULL).grad_F)
    ref = grads[("torch", "exact")]
    assert_close(grads[("torch", "fwd_rev")], ref, rtol=1e-12, atol=1e-12)
    assert_close(grads[("numpy", "exact")], ref, rtol=1e-10, atol=1e-12)
    # Nested central differences: error O(h²) with h ≈ ε^(1/3); 1e-5 relative leaves room for round-off.
    for key in [("torch", "fd"), ("numpy", "fd")]:
        assert np.linalg.norm(grads[key] - ref) <= 1e-5 * np.linalg.norm(ref)


def test_finite_difference_error_is_second_order() -> None:
    """Central differences: halving the step divides the HVP error by ~4 (until round-off)."""
    d, seed = 5, 3
    problem = poly_problem(seed, d, "numpy")
    x = np.random.default_rng(1).standard_normal(d)
    v = np.random.default_rng(2).standard_normal(d)
    exact = Evaluator(problem, hvp="exact").exact_hvp(problem.lower, x, v, None)
    errors = []
    for eps in (1e-2, 5e-3, 2.5e-3):
        ev = Evaluator(problem, hvp="fd", fd_eps=eps)
        errors.append(np.linalg.norm(ev.strategy.loss_hvp(ev, problem.lower, x, v, None, g0=None) - exact))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 3.5) & (ratios < 4.5)), ratios
    forward = Evaluator(problem, hvp="fd", fd_eps=1e-3, fd_scheme="forward")
    err_fwd = np.linalg.norm(forward.strategy.loss_hvp(forward, problem.lower, x, v, None, g0=None) - exact)
    assert err_fwd > errors[-1]  # forward differences are first order


def test_zero_gradient_guard_gives_finite_phi() -> None:
    """At a point where ∇L_f = 0 the cosine is defined as 0 by the smoothed norms, and stays finite."""
    from ofmu_theory import ArrayObjective, BilevelProblem

    quad = ArrayObjective(value=lambda th, D, xp: -0.5 * (th**2).sum(), grad=lambda th, D: -th, hvp=lambda th, v, D: -v)
    lin = ArrayObjective(value=lambda th, D, xp: th.sum(), grad=lambda th, D: np.ones_like(th), hvp=lambda th, v, D: 0 * v)
    problem = BilevelProblem(name="zero", lower=quad.to("numpy"), upper=lin.to("numpy"), theta0=np.zeros(3))
    ev = Evaluator(problem, beta=1.0, sim="signed", hvp="fd")
    point = ev.phi(np.zeros(3), FULL)
    assert point.cosine == 0.0 and np.all(np.isfinite(point.grad_phi))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_gradient_mapping_under_a_constraint(backend: str) -> None:
    """With Θ the residual is the gradient mapping: = P∇Φ inside Θ, and ∇F passes a Taylor test."""
    d = 4
    problem = poly_problem(11, d, backend)
    from dataclasses import replace

    problem = replace(problem, constraint=L1Ball(radius=1.5).to(backend))
    ev = Evaluator(problem, hvp="exact", mapping_step=0.05)
    like = problem.theta0
    inside = np.array([0.1, -0.2, 0.1, 0.05])
    point = ev.phi(ev.backend.from_numpy(inside, like), FULL)
    assert_close(ev.backend.to_numpy(point.residual), ev.backend.to_numpy(point.grad_phi), rtol=1e-12)
    # On the boundary, with an active projection: F is piecewise smooth, so use a small step grid.
    x = np.array([1.0, -0.4, 0.1, 0.0])
    h = np.array([0.3, 0.1, -0.2, 0.05])
    pen = ev.penalised(ev.backend.from_numpy(x, like), 2.0, FULL)
    f = lambda t: np.asarray(ev.penalised_value(ev.backend.from_numpy(t, like), 2.0, FULL))  # noqa: E731
    ts = np.geomspace(1e-4, 1e-6, 5)
    rem = [abs(f(x + t * h) - f(x) - t * ev.backend.to_numpy(pen.grad_F) @ h) for t in ts]
    slope = np.polyfit(np.log(ts), np.log(rem), 1)[0]
    assert 1.8 < slope < 2.2, (slope, rem)


def test_call_counts_are_as_documented() -> None:
    problem = poly_problem(0, 4, "numpy")
    x = problem.theta0
    ev = Evaluator(problem, beta=0.2, sim="signed", hvp="exact")
    ev.phi(x, FULL)
    assert ev.counts.as_dict() == {"n_value": 0, "n_grad": 2, "n_hvp": 2, "n_third": 0}
    fd = Evaluator(problem, beta=0.2, sim="signed", hvp="fd")
    fd.phi(x, FULL)
    assert fd.counts.as_dict() == {"n_value": 0, "n_grad": 2 + 4, "n_hvp": 0, "n_third": 0}
    fwd = Evaluator(problem, beta=0.0, hvp="fd", fd_scheme="forward")
    fwd.penalised(x, 1.0, FULL)  # g_f, g_r, then one more lower gradient for H_f·w
    assert fwd.counts.grad == 3


@pytest.mark.parametrize(
    "beta,hvp,expected",
    [
        # ∇Φ: g_f, g_r and (β > 0) two loss HVPs; ∇²Φ·w through the graph of ∇Φ: one third-order product
        (0.3, "exact", {"n_value": 0, "n_grad": 2, "n_hvp": 2, "n_third": 1}),
        # ... by forward mode over ∇Φ, which is rebuilt with its graph (2 more gradients, 2 more HVPs)
        (0.3, "fwd_rev", {"n_value": 0, "n_grad": 4, "n_hvp": 4, "n_third": 1}),
        # central differences: 2 gradients per loss HVP; ∇²Φ·w differences two more ∇Φ (6 gradients each)
        (0.3, "fd", {"n_value": 0, "n_grad": 18, "n_hvp": 0, "n_third": 0}),
        # β = 0: ∇²Φ·w = σH_f w is a second-order product
        (0.0, "exact", {"n_value": 0, "n_grad": 2, "n_hvp": 1, "n_third": 0}),
        (0.0, "fwd_rev", {"n_value": 0, "n_grad": 3, "n_hvp": 1, "n_third": 0}),
        (0.0, "fd", {"n_value": 0, "n_grad": 4, "n_hvp": 0, "n_third": 0}),
    ],
)
def test_call_counts_of_grad_F_on_torch(beta: float, hvp: str, expected: dict) -> None:
    problem = poly_problem(0, 4, "torch")
    ev = Evaluator(problem, beta=beta, sim="signed" if beta else "none", hvp=hvp)
    ev.penalised(problem.theta0, 1.0, FULL)
    assert ev.counts.as_dict() == expected


@pytest.mark.parametrize("beta", [-0.1, float("inf"), float("nan")])
def test_beta_must_be_finite_and_nonnegative(beta: float) -> None:
    with pytest.raises(ValueError, match=r"^beta must be a finite number >= 0, got beta="):
        Evaluator(poly_problem(0, 3, "numpy"), beta=beta)


@pytest.mark.parametrize("sense", ["max", "min"])
def test_phi_value_without_similarity_is_sigma_times_the_lower_loss(sense: str) -> None:
    problem = poly_problem(2, 4, "numpy", sense=sense)
    ev = Evaluator(problem)
    sigma = 1.0 if sense == "max" else -1.0
    assert ev.phi_value(problem.theta0, FULL) == pytest.approx(sigma * float(problem.lower.value(problem.theta0)),
                                                               rel=1e-15)


def test_penalised_frees_the_similarity_gradient_unless_kept() -> None:
    problem = poly_problem(3, 4, "numpy")
    ev = Evaluator(problem, beta=0.4, sim="signed")
    assert ev.penalised(problem.theta0, 1.0, FULL).point.grad_sim is None
    kept = ev.penalised(problem.theta0, 1.0, FULL, keep_sim=True).point
    a = kept.g_f  # σ = +1
    np.testing.assert_allclose(kept.grad_phi, a - 0.4 * kept.grad_sim, rtol=1e-14)


@pytest.mark.parametrize("constrained", [False, True])
def test_penalised_on_a_graph_returns_nothing_that_holds_it(constrained: bool) -> None:
    """With the exact HVP on torch ∇Φ is built on a graph; ∇F and the returned point are cut from it
    (the solver's next iterate θ − η∇F would otherwise carry the graph into every later step)."""
    from dataclasses import replace

    problem = poly_problem(4, 4, "torch")
    if constrained:
        problem = replace(problem, constraint=L1Ball(radius=0.5).to("torch"))
    ev = Evaluator(problem, beta=0.5, sim="signed", hvp="exact")
    assert ev.strategy.needs_graph(ev)
    pen = ev.penalised(problem.theta0, 0.5, FULL, keep_sim=True)
    p = pen.point
    for name, vec in (("grad_F", pen.grad_F), ("theta", p.theta), ("g_f", p.g_f), ("g_r", p.g_r),
                      ("grad_phi", p.grad_phi), ("residual", p.residual), ("grad_sim", p.grad_sim)):
        assert all(not t.requires_grad for t in vec), name
