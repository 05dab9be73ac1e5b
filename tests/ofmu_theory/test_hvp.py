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
