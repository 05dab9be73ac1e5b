"""The shared strategies build what they promise."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import conditions, constraint_sets, rect_matrix, seeds, spd_matrices, spd_matrix, step_sizes, transforms


@given(spd_matrices())
def test_spd_matrices_are_symmetric_positive_definite(a: np.ndarray) -> None:
    np.testing.assert_allclose(a, a.T, atol=1e-12)
    eig = np.linalg.eigvalsh(a)
    assert eig.min() > 0.5
    assert eig.max() / eig.min() <= 1e3 * (1 + 1e-9)


@given(seeds, st.integers(1, 6), st.integers(2, 9), conditions)
def test_rect_matrix_has_rank_and_condition(seed: int, rank: int, n: int, cond: float) -> None:
    m = max(1, n - 1)
    a = rect_matrix(np.random.default_rng(seed), m, n, rank, cond)
    s = np.linalg.svd(a, compute_uv=False)
    r = min(rank, m, n)
    assert np.sum(s > 1e-10) == r
    np.testing.assert_allclose(s[0], 1.0, rtol=1e-10)
    np.testing.assert_allclose(s[r - 1], 1.0 / cond if r > 1 else 1.0, rtol=1e-8)


def test_spd_matrix_spectrum_endpoints() -> None:
    a = spd_matrix(np.random.default_rng(0), 5, 0.1, 10.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(a)[[0, -1]], [0.1, 10.0], rtol=1e-10)


@given(st.data(), st.integers(1, 6))
def test_constraint_sets_project_into_themselves(data: st.DataObject, d: int) -> None:
    theta_set = data.draw(constraint_sets(d))
    x = 3.0 * np.random.default_rng(data.draw(seeds)).standard_normal(d)
    assert theta_set.contains(theta_set._project(x, np), tol=1e-12)


@given(st.lists(transforms(), min_size=1, max_size=3), step_sizes)
def test_transforms_and_step_sizes_are_valid(drawn: list, step: float) -> None:
    from ofmu_theory.transforms import Transform

    assert all(isinstance(t, Transform) for t in drawn)
    assert 1e-3 <= step <= 10.0
