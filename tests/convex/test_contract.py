"""Contract of every convex family: registration, class attributes, problems, seeds, validation."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from ofmu_theory.constraints import L1Ball
from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.problem import BilevelProblem
from tests.convex.oracles import NAMES, QUADRATIC, sample


@pytest.mark.parametrize("name", NAMES)
def test_family_is_registered_and_found_by_name(name: str) -> None:
    cls = FAMILIES.get(name)
    assert issubclass(cls, Family)
    assert name in FAMILIES.names()
    assert cls.sample(seed=0).name == name


@pytest.mark.parametrize("name", NAMES)
def test_class_attributes(name: str) -> None:
    cls = FAMILIES.get(name)
    assert cls.convex is True
    assert cls.regime and ("concave" in cls.regime or "convex" in cls.regime)
    assert cls.sense in ("max", "min")
    family = cls.sample(seed=0)
    lower, upper = family.objectives()
    assert cls.stochastic == bool(lower.row_keys) == bool(upper.row_keys)
    assert dataclasses.is_dataclass(family) and family.__dataclass_params__.frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        family.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", NAMES)
def test_form_matches_the_block(name: str) -> None:
    family = FAMILIES.get(name).sample(seed=0)
    assert family.form == ("classical" if family.block() is not None else "unlearning")


@pytest.mark.parametrize("name", NAMES)
def test_problem_builds_in_both_backends_with_finite_oracles(name: str, backend_name: str) -> None:
    family = sample(name, seed=1)
    problem = family.problem(backend_name)
    assert isinstance(problem, BilevelProblem)
    assert problem.sense == family.sense and problem.description == family.regime
    assert problem.dim == family.theta0().size
    be = problem.backend
    for objective in (problem.lower, problem.upper):
        value, grad = objective.value_and_grad(problem.theta0)
        assert np.isfinite(be.item(value)) and be.isfinite(grad)
        assert be.isfinite(objective.hvp(problem.theta0, grad))
        assert objective.has_third_order
        assert be.isfinite(objective.d3(problem.theta0, grad, grad))
        assert (objective.n_rows is not None) == family.stochastic


@pytest.mark.parametrize("name", NAMES)
def test_params_solution_and_theta0_have_the_right_shapes(name: str) -> None:
    family = sample(name, seed=2)
    d = family.theta0().size
    assert family.solution().shape == (d,)
    assert set(family.params()) >= {"seed"} and family.params()["seed"] == 2
    if name in QUADRATIC:
        assert family.penalised_solution(1.0).shape == (d,)
    else:
        assert family.penalised_solution(1.0) is None
    block = family.block()
    if family.sense == "min":
        assert block is not None and set(np.unique(block)) == {0.0, 1.0}
    constraint = family.constraint()
    if name == "l1_regression":
        assert isinstance(constraint, L1Ball) and constraint.contains(family.theta0())
    else:
        assert constraint is None


def _fields(family: Family) -> dict:
    return {f.name: getattr(family, f.name) for f in dataclasses.fields(family)}


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_identical_data_and_another_seed_differs(name: str) -> None:
    a, b, c = sample(name, seed=7), sample(name, seed=7), sample(name, seed=8)
    arrays = [k for k, v in _fields(a).items() if isinstance(v, np.ndarray)]
    assert arrays
    for key, value in _fields(a).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, getattr(b, key), err_msg=key)
        else:
            assert value == getattr(b, key), key
    np.testing.assert_array_equal(a.theta0(), b.theta0())
    assert any(not np.array_equal(getattr(a, k), getattr(c, k)) for k in arrays)


BAD_PARAMS = {
    "least_squares_projection": [
        ({"seed": -1}, "seed"),
        ({"m": 0}, "m"),
        ({"m": 2.5}, "m"),
        ({"m": 5, "d": 5}, "d"),
        ({"m": 3, "rank": 4}, "rank"),
        ({"rank": 0}, "rank"),
        ({"cond": 0.5}, "cond"),
        ({"cond": 1e7}, "cond"),
        ({"cond": float("nan")}, "cond"),
        ({"scale": 0.0}, "scale"),
    ],
    "coupled_quadratic": [
        ({"n": 0}, "n"),
        ({"p": 0}, "p"),
        ({"cond": 0.9}, "cond"),
        ({"scale": -1.0}, "scale"),
    ],
    "wide_quadratic": [
        ({"n": 0}, "n"),
        ({"q": 0}, "q"),
        ({"q": 3, "p": 3}, "p"),
        ({"q": 2, "rank": 3}, "rank"),
        ({"cond": 0.0}, "cond"),
        ({"scale": 0.0}, "scale"),
    ],
    "l1_regression": [
        ({"n_t": 0}, "n_t"),
        ({"n_t": 5, "d": 5}, "d"),
        ({"d": 20, "n_t": 5, "n_v": 10}, "n_v"),
        ({"nnz": 0}, "nnz"),
        ({"d": 6, "nnz": 7, "n_v": 6}, "nnz"),
        ({"noise": 0.0}, "noise"),
        ({"radius_frac": 0.0}, "radius_frac"),
        ({"radius_frac": 1.0}, "radius_frac"),
    ],
    "logistic_forget": [
        ({"n_r": 0}, "n_r"),
        ({"n_f": 0}, "n_f"),
        ({"n_f": 5, "d": 5}, "d"),
        ({"lam": 0.0}, "lam"),
        ({"p": 0.0}, "p"),
        ({"p": 1.0}, "p"),
        ({"p": "half"}, "p"),
    ],
}
CASES = [(name, params, bad) for name, cases in BAD_PARAMS.items() for params, bad in cases]


@pytest.mark.parametrize(("name", "params", "bad"), CASES, ids=[f"{n}-{b}-{p}" for n, p, b in CASES])
def test_bad_params_raise_value_error_naming_the_parameter(name: str, params: dict, bad: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(bad)} must .*\b{re.escape(bad)}="):
        sample(name, **params)


@pytest.mark.parametrize("name", QUADRATIC)
def test_negative_rho_raises(name: str) -> None:
    with pytest.raises(ValueError, match="rho"):
        sample(name).penalised_solution(-1.0)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_param_raises_value_error_listing_the_valid_ones(name: str) -> None:
    with pytest.raises(ValueError, match=r"unknown parameter 'bogus'.*valid parameters: seed"):
        sample(name, bogus=1)
