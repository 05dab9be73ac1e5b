"""Contract of every non-convex family: registration, validation, determinism, a working problem."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ofmu_theory.family import FAMILIES, Family
from ofmu_theory.problem import Constants
from tests.nonconvex.oracles import NAMES, sample
from tests.strategies import nonconvex_params, seeds

SENSE = {
    "shen_chen": "min", "bome_toy": "min", "matrix_factorisation": "max", "two_layer_net": "max",
    "hyper_cleaning": "min",
}  # fmt: skip
STOCHASTIC = {"two_layer_net", "hyper_cleaning"}


@pytest.mark.parametrize("name", NAMES)
def test_registered_and_described(name: str) -> None:
    cls = FAMILIES.get(name)
    assert issubclass(cls, Family) and name in FAMILIES.names()
    assert cls.convex is False and cls.sense == SENSE[name] and cls.regime
    assert cls.stochastic is (name in STOCHASTIC)
    assert cls.__doc__ and "Regime" in cls.__doc__
    assert sample(name).name == name


def _arrays(family: Family) -> dict[str, np.ndarray]:
    out = {"theta0": family.theta0()}
    lower, upper = family.objectives()
    out.update({f"lower.{k}": v for k, v in lower.data.items()})
    out.update({f"upper.{k}": v for k, v in upper.data.items()})
    return out


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6)
@given(data=st.data())
def test_same_seed_same_instance(name: str, data: st.DataObject) -> None:
    seed, params = data.draw(seeds), data.draw(nonconvex_params[name])
    a, b = _arrays(sample(name, seed, **params)), _arrays(sample(name, seed, **params))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    other = _arrays(sample(name, seed + 1, **params))
    assert not np.array_equal(a["theta0"], other["theta0"])


@pytest.mark.parametrize("name", NAMES)
def test_form_matches_the_block(name: str) -> None:
    family = sample(name)
    assert family.form == ("classical" if family.block() is not None else "unlearning")


@pytest.mark.parametrize("name", NAMES)
def test_params_round_trip(name: str) -> None:
    family = sample(name, 7)
    params = family.params()
    again = sample(name, **params)
    np.testing.assert_array_equal(again.theta0(), family.theta0())


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6)
@given(data=st.data())
def test_problem_is_finite_in_both_backends(name: str, data: st.DataObject) -> None:
    family = sample(name, data.draw(seeds), **data.draw(nonconvex_params[name]))
    assert isinstance(family.constants(), Constants)
    for value in family.constants().to_dict().values():
        assert value is None or isinstance(value, float)
    values = {}
    for backend in ("numpy", "torch"):
        problem = family.problem(backend)
        assert problem.sense == SENSE[name] and problem.dim == family.theta0().size
        for level in (problem.lower, problem.upper):
            value, grad = level.value_and_grad(problem.theta0)
            assert np.isfinite(float(value)) and problem.backend.isfinite(grad)
        values[backend] = float(problem.lower.value(problem.theta0))
    np.testing.assert_allclose(values["numpy"], values["torch"], rtol=1e-12)
    if family.constraint() is not None:
        assert family.constraint().contains(family.theta0())
    solution = family.solution()
    if solution is not None:
        assert solution.shape == family.theta0().shape


BAD = [
    ("shen_chen", {"width": 3}, "width"),
    ("shen_chen", {"seed": -1}, "seed"),
    ("bome_toy", {"init_scale": 0.0}, "init_scale"),
    ("bome_toy", {"init_scale": float("nan")}, "init_scale"),
    ("bome_toy", {"seed": 1.5}, "seed"),
    ("matrix_factorisation", {"m": 0}, "m"),
    ("matrix_factorisation", {"n": "4"}, "n"),
    ("matrix_factorisation", {"rank": 5, "m": 4, "n": 6}, "rank"),
    ("matrix_factorisation", {"rank": 3, "width": 2}, "width"),
    ("matrix_factorisation", {"cond": 0.5}, "cond"),
    ("matrix_factorisation", {"init_scale": 3.0}, "init_scale"),
    ("matrix_factorisation", {"nope": 1}, "nope"),
    ("two_layer_net", {"n_classes": 1}, "n_classes"),
    ("two_layer_net", {"hidden": 0}, "hidden"),
    ("two_layer_net", {"n_features": True}, "n_features"),
    ("two_layer_net", {"forget": "half"}, "forget"),
    ("two_layer_net", {"forget_class": 3, "n_classes": 3}, "forget_class"),
    ("two_layer_net", {"forget": "random", "forget_fraction": 0.001}, "forget_fraction"),
    ("two_layer_net", {"lam": -1.0}, "lam"),
    ("two_layer_net", {"separation": float("inf")}, "separation"),
    ("two_layer_net", {"train_steps": -1}, "train_steps"),
    ("hyper_cleaning", {"n_train": 0}, "n_train"),
    ("hyper_cleaning", {"n_val": 2.0}, "n_val"),
    ("hyper_cleaning", {"corruption": 1.5}, "corruption"),
    ("hyper_cleaning", {"reg": 0.0}, "reg"),
    ("hyper_cleaning", {"n_classes": 1}, "n_classes"),
]


@pytest.mark.parametrize(("name", "params", "bad"), BAD)
def test_bad_params_raise_naming_the_parameter(name: str, params: dict, bad: str) -> None:
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):
        FAMILIES.get(name).sample(**params)


@pytest.mark.parametrize("name", NAMES)
def test_instances_compare_by_identity(name: str) -> None:
    """Instances hold arrays: equality is identity (never an array comparison, never seed-only)."""
    a, b = sample(name, 0), sample(name, 0)
    assert a == a and a != b and len({a, b}) == 2
