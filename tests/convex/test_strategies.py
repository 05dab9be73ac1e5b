"""The convex-family parameter strategies draw valid parameters, and the families build what they promise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.convex.oracles import NAMES, sample
from tests.strategies import convex_params, seeds


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_strategies_draw_valid_parameters(name: str, data: st.DataObject) -> None:
    params = data.draw(convex_params[name])
    family = sample(name, seed=data.draw(seeds), **params)
    for key, value in params.items():
        assert family.params()[key] == value


def _spectrum(a: np.ndarray, rank: int, cond: float, scale: float) -> None:
    s = np.linalg.svd(a, compute_uv=False)
    np.testing.assert_allclose(s[0], scale, rtol=1e-10)
    np.testing.assert_allclose(s[rank - 1], scale / cond if rank > 1 else scale, rtol=1e-8)  # rank 1: cond unused
    assert np.all(s[rank:] <= 1e-12 * scale)


@settings(max_examples=15)
@given(data=st.data())
def test_least_squares_matrix_has_the_drawn_rank_and_spectrum(data: st.DataObject) -> None:
    params = data.draw(convex_params["least_squares_projection"])
    family = sample("least_squares_projection", seed=data.draw(seeds), **params)
    assert family.A.shape == (params["m"], params["d"])
    _spectrum(family.A, params["rank"], params["cond"], params["scale"])


@settings(max_examples=15)
@given(data=st.data())
def test_wide_and_coupled_matrices_have_the_drawn_spectrum(data: st.DataObject) -> None:
    wide = data.draw(convex_params["wide_quadratic"])
    family = sample("wide_quadratic", seed=data.draw(seeds), **wide)
    assert family.C.shape == (wide["q"], wide["p"]) and family.B.shape == (wide["q"], wide["n"])
    _spectrum(family.C, wide["rank"], wide["cond"], wide["scale"])
    coupled = data.draw(convex_params["coupled_quadratic"])
    family = sample("coupled_quadratic", seed=data.draw(seeds), **coupled)
    assert family.A.shape == (coupled["p"], coupled["n"])
    _spectrum(family.A, min(coupled["n"], coupled["p"]), coupled["cond"], coupled["scale"])
