"""shen_chen: y*(x) = −x, the stationary points of φ(x) = f(x, −x), non-convexity, constants."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nonconvex import shen_chen as sc
from tests.nonconvex.oracles import hessian, oracles, sample, unit
from tests.support import assert_close

FAMILY = sample("shen_chen")
LOWER, UPPER = (oracles(obj, "numpy") for obj in FAMILY.objectives())


def test_lower_minimiser_is_minus_x_on_a_grid() -> None:
    """g ≥ 0 = g(x, −x) for x ∈ [0, 3] (every y), and ∂_y g(x, −x) = 0."""
    xs, ys = np.meshgrid(np.linspace(0, 3, 301), np.linspace(-6, 6, 1201), indexing="ij")
    g = sc.lower_value(np.stack([xs, ys]), {}, np)
    assert g.min() >= 0.0
    x = np.linspace(0, 3, 301)
    on = np.stack([x, FAMILY.lower_solution(x)])
    assert_close(sc.lower_value(on, {}, np), np.zeros_like(x), atol=0.0)
    assert_close(sc.lower_grad(on, {})[1], np.zeros_like(x), atol=0.0)
    # uniqueness: away from the line x + y = 0 the gap is positive
    off = np.abs(xs + ys) > 1e-3
    assert g[off].min() > 0.0


def test_stationary_points_are_critical_with_the_right_curvature() -> None:
    points = FAMILY.stationary_points()
    interior = [p for p in points if p.kind in ("min", "max")]
    assert len(interior) == 5 and sum(p.kind == "min" for p in interior) == 3
    for p in interior:
        assert 0.0 < p.x < 3.0 and abs(p.dphi) <= 1e-12
        assert (p.d2phi > 0) == (p.kind == "min") and abs(p.d2phi) > 1.0
        assert_close(p.phi, sc.phi(p.x))
    # the ends are not minima: φ decreases from 0 and increases into 3
    assert [p.kind for p in points if p.kind.startswith("boundary")] == ["boundary_max", "boundary_max"]


def test_no_stationary_point_missed_and_solution_is_global() -> None:
    """A 10× finer grid finds the same number of sign changes of φ'; x* beats every grid point."""
    fine = np.linspace(0, 3, 30001)
    d = sc.dphi(fine)
    changes = int(np.sum(np.sign(d[:-1]) * np.sign(d[1:]) < 0))
    assert changes == sum(p.kind in ("min", "max") for p in FAMILY.stationary_points())
    x_star, y_star = FAMILY.solution()
    assert y_star == -x_star
    assert sc.phi(x_star) <= sc.phi(fine).min() + 1e-12


@settings(max_examples=25)
@given(st.floats(0.0, 3.0))
def test_phi_derivatives_match_the_chain_rule(x: float) -> None:
    """φ' = ∇f·(1, −1) and φ'' = (1, −1)ᵀ∇²f(1, −1) at (x, −x)."""
    theta, e = np.array([x, -x]), np.array([1.0, -1.0])
    assert_close(sc.dphi(x), UPPER.grad(theta) @ e, atol=1e-14)
    assert_close(sc.d2phi(x), e @ UPPER.hvp(theta, e), atol=1e-13)


def test_both_levels_are_non_convex() -> None:
    """Hessians with eigenvalues of both signs: at x = 3, s = x + y = 1, g_xx = 2 + 2 sin 2 + 6 cos 2
    ≈ 1.32 > 0 > g_yy = 2 + 6 cos 2 ≈ −0.50; at (1/2, −1/2), f_xx = r''(1/2) = 16 and
    f_yy = −16 p(1/2) = −8."""
    lower_h = hessian(lambda v: LOWER.hvp(np.array([3.0, 1.0 - 3.0]), v), 2)
    upper_h = hessian(lambda v: UPPER.hvp(np.array([0.5, -0.5]), v), 2)
    for h in (lower_h, upper_h):
        eig = np.linalg.eigvalsh(h)
        assert eig[0] < -0.5 and eig[-1] > 0.5


def test_constants_hold_on_random_points() -> None:
    """L's, M, G bound the oracles for x ∈ [0, 3] and |y| ≤ 10; μ bounds the PL ratio on a grid."""
    c = FAMILY.constants()
    rng = np.random.default_rng(0)
    for _ in range(2000):
        theta = np.array([rng.uniform(0, 3), rng.uniform(-10, 10)])
        assert np.abs(np.linalg.eigvalsh(hessian(lambda v: LOWER.hvp(theta, v), 2))).max() <= c.L_lower
        assert np.abs(np.linalg.eigvalsh(hessian(lambda v: UPPER.hvp(theta, v), 2))).max() <= c.L_upper
        assert np.linalg.norm(UPPER.grad(theta)) <= c.G_upper
        u = unit(rng, 2)
        assert abs(LOWER.d3(theta, u, u) @ u) <= c.M_lower
    xs, s = np.meshgrid(np.linspace(0, 3, 61), np.linspace(-30, 30, 24001), indexing="ij")
    theta = np.stack([xs, s - xs])
    gap = sc.lower_value(theta, {}, np)
    dy = sc.lower_grad(theta, {})[1]
    ok = gap > 0
    assert np.min(dy[ok] ** 2 / (2 * gap[ok])) >= c.mu_lower


def test_box_constrains_x_only() -> None:
    box = FAMILY.constraint().to("numpy")
    assert_close(box.project(np.array([4.0, 7.0])), [3.0, 7.0])
    assert_close(box.project(np.array([-1.0, -7.0])), [0.0, -7.0])
    assert_close(FAMILY.block(), [0.0, 1.0])
