"""The finite-difference HVP strategy: its documented step and what it hands back."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ofmu_theory import Evaluator
from ofmu_theory.hvp import FiniteDifference
from tests.ofmu_theory.problems import poly_problem, to_backend


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(("scheme", "power"), [("central", 1 / 3), ("forward", 1 / 2)])
def test_step_is_eps_times_one_plus_rms_theta_over_rms_v(backend: str, scheme: str, power: float) -> None:
    """h = ε_mach^(1/3) (central) or ε_mach^(1/2) (forward) · (1 + rms θ) / rms v, a Python float."""
    ev = Evaluator(poly_problem(0, 4, backend))
    theta_np, v_np = np.array([3.0, -1.0, 2.0, 0.5]), np.array([0.1, 0.0, -0.2, 0.4])
    theta, v = to_backend(theta_np, backend), to_backend(v_np, backend)
    rms = lambda x: float(np.linalg.norm(x)) / math.sqrt(x.size)  # noqa: E731
    h = FiniteDifference(scheme=scheme).step(ev, theta, v)
    assert isinstance(h, float)
    assert h == pytest.approx(np.finfo(np.float64).eps ** power * (1 + rms(theta_np)) / rms(v_np), rel=1e-12)
    assert FiniteDifference(eps=1e-4, scheme=scheme).step(ev, theta, v) == pytest.approx(
        1e-4 * (1 + rms(theta_np)) / rms(v_np), rel=1e-12)


@pytest.mark.parametrize("scheme", ["central", "forward"])
def test_a_difference_at_a_point_on_a_graph_holds_no_graph(scheme: str) -> None:
    problem = poly_problem(1, 4, "torch")
    ev = Evaluator(problem, hvp="fd", fd_scheme=scheme)
    theta = tuple(t.clone().requires_grad_(True) for t in problem.theta0)
    v = (torch.tensor([0.3, -0.1, 0.2, 0.5], dtype=torch.float64),)
    hv = ev.strategy.loss_hvp(ev, problem.upper, theta, v, None, g0=None)
    assert not any(t.requires_grad for t in hv)
    exact = problem.upper.hvp(problem.theta0, v)
    np.testing.assert_allclose(hv[0].numpy(), exact[0].numpy(), rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("scheme", ["central", "forward"])
@pytest.mark.parametrize(("theta_scale", "v_scale"), [(0.0, 1.0), (30.0, 1e-4)])
def test_a_difference_matches_the_exact_hvp_at_zero_and_where_theta_and_v_differ_in_scale(
        backend: str, scheme: str, theta_scale: float, v_scale: float) -> None:
    """The step scales with θ and v as documented, so ∇²L·v is right at θ = 0 (a common start) and where
    ‖θ‖ ≫ ‖v‖; a step with θ and v exchanged is 0 at θ = 0 (no difference at all) and vanishes below
    round-off of θ in the second case."""
    problem = poly_problem(2, 4, backend)
    ev = Evaluator(problem, hvp="fd", fd_scheme=scheme)
    theta_np = theta_scale * np.array([1.0, -0.5, 0.8, 0.3])
    v_np = v_scale * np.array([0.3, -0.1, 0.2, 0.5])
    theta, v = to_backend(theta_np, backend), to_backend(v_np, backend)
    hv = ev.strategy.loss_hvp(ev, problem.upper, theta, v, None, g0=None)
    exact = problem.upper.hvp(theta, v)
    flat = (lambda x: np.asarray(x)) if backend == "numpy" else (lambda x: x[0].numpy())  # noqa: E731
    rtol = 1e-6 if scheme == "central" else 1e-4
    np.testing.assert_allclose(flat(hv), flat(exact), rtol=rtol, atol=rtol * float(np.abs(flat(exact)).max()))
