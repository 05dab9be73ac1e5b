"""OFMU's cheaper similarity estimators: each one's error bound on a synthetic problem, costs, resumption."""

from __future__ import annotations

import numpy as np
import pytest

from ofmu_theory import Evaluator
from ofmu_theory.estimators import estimator_errors, relative_error
from ofmu_theory.sampler import Batches
from ofmu_theory.solvers import OFMU
from tests.ofmu_theory.problems import poly_problem

FULL = Batches(None, None)
STEPS = 12


def _solver(**kw) -> OFMU:
    settings = dict(beta=0.5, sim="signed", rho=0.5, inner_steps=2, eta_in=0.05, eta_out=0.05, max_steps=STEPS,
                    hvp="exact")
    return OFMU(**{**settings, **kw})


def test_exact_estimator_has_zero_error() -> None:
    errors = estimator_errors(_solver(), poly_problem(0, 5, "numpy"))
    assert errors.grad_phi.size == STEPS * 3 and errors.step.size == STEPS
    assert np.all(errors.grad_phi == 0.0) and np.all(errors.step == 0.0)


def test_lagged_term_error_vanishes_as_m_to_1_and_with_the_step() -> None:
    problem = poly_problem(1, 5, "numpy")
    mean = {m: estimator_errors(_solver(sim_lag=m), problem).summary()["grad_phi_mean"] for m in (1, 2, 4)}
    assert mean[1] == 0.0 < mean[2] < mean[4]
    # every m-th evaluation refreshes ∇Sim: its error is exactly 0 there
    lag2 = estimator_errors(_solver(sim_lag=2), problem).grad_phi
    assert np.all(lag2[0::2] == 0.0) and np.all(lag2[1::2] > 0.0)
    # ∇Sim is Lipschitz, so the lag's error is O(distance moved since the refresh) = O(η)
    small = estimator_errors(_solver(sim_lag=4, eta_in=0.005, eta_out=0.005), problem).summary()["grad_phi_mean"]
    assert small < 0.2 * mean[4]


def test_randomised_pick_is_unbiased() -> None:
    problem = poly_problem(2, 5, "numpy")
    ev = Evaluator(problem, beta=0.5, sim="signed", hvp="exact")
    theta = problem.theta0
    exact = ev.phi(theta, FULL).grad_phi
    picks = [ev.phi(theta, FULL, coin=c).grad_phi for c in (0, 1)]
    np.testing.assert_allclose(0.5 * (picks[0] + picks[1]), exact, rtol=1e-12, atol=1e-14)
    assert relative_error(ev, picks[0], exact) > 1e-3  # each pick alone is off
    # the coins are fair and seeded by the draw index: the mean over many draws approaches the exact value
    solver = _solver(sim_pick="random")
    coins = np.array([solver.coin(d) for d in range(4000)])
    assert abs(coins.mean() - 0.5) < 4 * np.sqrt(0.25 / coins.size)
    mean_estimate = np.mean([picks[c] for c in coins], axis=0)
    spread = np.linalg.norm(picks[0] - picks[1]) / 2
    assert np.linalg.norm(mean_estimate - exact) <= 4 * spread / np.sqrt(coins.size) + 1e-12
    assert [solver.coin(d) for d in range(8)] == [solver.coin(d) for d in range(8)]
    assert [_solver(sim_pick="random", sim_seed=1).coin(d) for d in range(32)] != list(coins[:32])


def test_frozen_curvature_error_is_linear_in_beta() -> None:
    problem = poly_problem(3, 5, "numpy")
    err = {beta: estimator_errors(_solver(beta=beta, sim_curvature="frozen"), problem).summary()["step_mean"]
           for beta in (0.0, 0.05, 0.5)}
    assert err[0.0] == 0.0 < err[0.05] < err[0.5]
    assert err[0.05] < 0.2 * err[0.5]  # the dropped term is β∇²Sim·w


def test_frozen_and_lagged_evaluations_keep_no_graph() -> None:
    torch = pytest.importorskip("torch")
    problem = poly_problem(4, 5, "torch")
    ev = Evaluator(problem, beta=0.5, sim="signed", hvp="exact")
    full = ev.penalised(problem.theta0, 0.5, FULL)
    frozen = ev.penalised(problem.theta0, 0.5, FULL, curvature="frozen")
    assert ev.strategy.needs_graph(ev)
    assert all(t.grad_fn is None and not t.requires_grad for t in frozen.point.grad_phi)
    assert not frozen.point.graph
    np.testing.assert_allclose(frozen.point.grad_phi[0].numpy(), full.point.grad_phi[0].numpy(), rtol=1e-12)
    assert isinstance(frozen.grad_F[0], torch.Tensor)


@pytest.mark.parametrize(("options", "grads_per_step"), [
    ({}, 12),  # (2T + 4)(F + R), T = 1
    ({"sim_curvature": "frozen"}, 9),
    ({"sim_pick": "random", "sim_curvature": "frozen"}, 7),
    ({"sim_lag": 2}, 7),
    ({"sim_lag": 2, "sim_pick": "random"}, 6),
])
def test_forward_difference_costs(options: dict, grads_per_step: int) -> None:
    problem = poly_problem(5, 5, "numpy")
    solver = _solver(hvp="fd", fd_scheme="forward", inner_steps=1, max_steps=6, **options)
    result = solver.run(problem)
    assert result.n_grad == 6 * grads_per_step and result.n_hvp == 0
    assert {k: result.options[k] for k in options} == options


def test_lagged_run_resumes_exactly() -> None:
    problem = poly_problem(6, 5, "numpy")
    solver = _solver(sim_lag=3, sim_pick="random", max_steps=6)
    whole = solver.run(problem)
    first = _solver(sim_lag=3, sim_pick="random", max_steps=3).run(problem)
    assert first.state.sim is not None and first.state.sim.age >= 1
    resumed = solver.run(problem, init_state=first.state)
    np.testing.assert_array_equal(resumed.theta, whole.theta)


@pytest.mark.parametrize(("key", "value"), [("sim_lag", 0), ("sim_lag", 1.5), ("sim_pick", "one"),
                                            ("sim_curvature", "none")])
def test_bad_estimator_options_name_the_argument(key: str, value) -> None:
    with pytest.raises(ValueError, match=key):
        _solver(**{key: value})
