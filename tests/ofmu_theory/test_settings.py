"""The one key=value parser every command uses, and the names it records."""

from __future__ import annotations

import pytest

from ofmu_theory.schedules import ConstantSchedule
from ofmu_theory.settings import parse_assignments, parse_value
from ofmu_theory.steps import ConstantStep


def test_values_take_the_type_they_read_as() -> None:
    assert parse_assignments(["a=3", "b=0.5", "c=True", "d=none", "e=armijo", " f = 1e-3 ", "a=4"]) == {
        "a": 4, "b": 0.5, "c": True, "d": None, "e": "armijo", "f": 1e-3}
    assert parse_value("1,2") == "1,2"


def test_lists_are_read_only_when_asked_for() -> None:
    assert parse_assignments(["layers=1,2,", "name=a", "t=(1,2)"], lists=True) == {
        "layers": [1, 2], "name": "a", "t": "(1,2)"}


@pytest.mark.parametrize("item", ["rho", "=1", " =1", ""])
def test_a_malformed_item_is_an_error_naming_the_option_and_it(item: str) -> None:
    with pytest.raises(ValueError, match=rf"^--param must look like key=value, got {item!r}$"):
        parse_assignments([item], what="--param")


def test_the_constant_step_and_schedule_keep_their_recorded_kind() -> None:
    assert ConstantStep(0.5).to_dict() == {"kind": "Constant", "eta": 0.5}
    assert ConstantSchedule(2.0).to_dict() == {"kind": "Constant", "value": 2.0}
    assert ConstantStep.__name__ != ConstantSchedule.__name__


def test_build_solver_reads_steps_transforms_and_plain_fields() -> None:
    from ofmu_theory.settings import build_solver
    from ofmu_theory.steps import InverseSmoothness
    from ofmu_theory.transforms import Adam

    solver = build_solver("ofmu", {"rho": 2, "inner_steps": 3.0, "eta_in": "1/L", "transform_out": "adam"})
    assert solver.rho == 2.0 and solver.inner_steps == 3
    assert isinstance(solver.eta_in, InverseSmoothness) and isinstance(solver.transform_out, Adam)


def test_build_solver_names_an_unknown_option_and_the_valid_ones() -> None:
    from ofmu_theory.settings import build_solver

    with pytest.raises(ValueError, match=r"^--set: unknown option\(s\) \['rh0'\] for solver 'blur'; "
                                         r"valid: eta, fd_eps, fd_scheme, gamma, hvp, max_steps, tol, transform$"):
        build_solver("blur", {"rh0": 1.0})
