"""Every method runs through its core solver and returns a finite model; SalUn's mask; divergence; seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vision.data import VisionDataset
from vision.methods import METHODS, make_method
from vision.methods.base import UnlearnTask, Unlearned
from vision.methods.salun import forget_gradient, saliency_mask
from vision.splits import Split, make_split
from tests.vision.fast import TINY_TRAIN
from vision.train import Trained, train_model

#: Tiny budgets so that the contract test stays fast: each method's declared ``test_settings``.
FAST_METHODS = {name: dict(METHODS.get(name).test_settings) for name in METHODS.names()}


@pytest.fixture(scope="module")
def split(digits: VisionDataset) -> Split:
    return make_split(digits, mode="random", forget_fraction=0.1, seed=2)


@pytest.fixture(scope="module")
def original(digits: VisionDataset, split: Split) -> Trained:
    return train_model(digits, split.train, config=TINY_TRAIN, seed=2)


def test_registry_errors_name_the_valid_entries() -> None:
    with pytest.raises(ValueError, match="valid method names: blur, ft, ga"):
        make_method("boundary_shrink")
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['rhoo'\]"):
        make_method("ofmu", rhoo=1.0)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_runs_through_its_core_solver(
    name: str, digits: VisionDataset, split: Split, original: Trained
) -> None:
    before = [p.detach().clone() for p in original.model.parameters()]
    out = make_method(name, **FAST_METHODS[name]).unlearn(original.model, digits, split, seed=2)
    assert isinstance(out, Unlearned) and out.method == name
    assert out.result.options["solver"] == METHODS.get(name).core_solver
    assert out.status == "MAX_STEPS" and not out.diverged and out.nit >= 1 and out.wall_s > 0
    assert all(torch.isfinite(p).all() for p in out.model.parameters())
    assert out.model is not original.model
    for a, b in zip(before, original.model.parameters(), strict=True):  # the Original is left untouched
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)
    assert out.config["method"] == name


def test_salun_mask_keeps_masked_weights_exactly_at_theta0(
    digits: VisionDataset, split: Split, original: Trained
) -> None:
    task = UnlearnTask.build(original.model, digits, split, seed=2)
    mask = saliency_mask(forget_gradient(task.params, task.forget), fraction=0.5)
    d = sum(m.numel() for m in mask)
    assert sum(int(m.sum()) for m in mask) == d // 2
    grads = torch.cat([g.abs().flatten() for g in forget_gradient(task.params, task.forget)])
    flat = torch.cat([m.flatten() for m in mask])
    assert grads[flat == 1].min() >= grads[flat == 0].max()  # the top half of |∇CE(D_f)|, ranked globally
    out = make_method("salun", epochs=1.0, lr=0.05).unlearn(original.model, digits, split, seed=2)
    moved = 0
    for m, p0, p1 in zip(mask, original.model.parameters(), out.model.parameters(), strict=True):
        assert torch.equal(p1.detach()[m == 0], p0.detach()[m == 0])
        moved += int((p1.detach() != p0.detach())[m == 1].sum())
    assert moved > 0
    with pytest.raises(ValueError, match="fraction must be in"):
        saliency_mask(mask, fraction=0.0)


def test_ofmu_with_a_saliency_mask_moves_only_the_salient_weights(
    digits: VisionDataset, split: Split, original: Trained
) -> None:
    task = UnlearnTask.build(original.model, digits, split, seed=2)
    mask = saliency_mask(forget_gradient(task.params, task.forget), fraction=0.3)
    out = make_method("ofmu", max_steps=3, mask_fraction=0.3).unlearn(original.model, digits, split, seed=2)
    moved = 0
    for m, p0, p1 in zip(mask, original.model.parameters(), out.model.parameters(), strict=True):
        assert torch.equal(p1.detach()[m == 0], p0.detach()[m == 0])  # inner ascent and outer step both masked
        moved += int((p1.detach() != p0.detach())[m == 1].sum())
    assert moved > 0


def test_same_seed_same_model_and_a_different_seed_differs(
    digits: VisionDataset, split: Split, original: Trained
) -> None:
    method = make_method("rl", epochs=0.5)
    a = method.unlearn(original.model, digits, split, seed=2).model
    b = method.unlearn(original.model, digits, split, seed=2).model
    c = method.unlearn(original.model, digits, split, seed=3).model
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert any(not torch.equal(x, z) for x, z in zip(a.parameters(), c.parameters(), strict=True))


def test_non_finite_loss_is_reported_as_diverged(digits: VisionDataset, split: Split, original: Trained) -> None:
    out = make_method("ga", epochs=2.0, lr=1e30).unlearn(original.model, digits, split, seed=2)
    assert out.diverged and out.status == "DIVERGED" and "diverged" in out.result.message
    assert all(torch.isfinite(p).all() for p in out.model.parameters())  # the last finite iterate


def test_bad_hyper_parameters_name_the_argument() -> None:
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        make_method("ft", lr=-1.0)
    with pytest.raises(ValueError, match="epochs must be a finite number > 0"):
        make_method("ga", epochs=0)
    with pytest.raises(ValueError, match="mask_fraction must be in"):
        make_method("salun", mask_fraction=1.5)
    with pytest.raises(ValueError, match="mask_fraction must be in"):
        make_method("ofmu", mask_fraction=0.0)
    with pytest.raises(ValueError, match="hvp must be one of"):
        make_method("ofmu", hvp="magic")
    with pytest.raises(ValueError, match="momentum must be in"):
        make_method("rl", momentum=1.0)
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        make_method("scrub", epochs=1.5)
    assert dataclasses.is_dataclass(make_method("ofmu"))


def test_empty_retain_set_is_rejected(digits: VisionDataset, split: Split, original: Trained) -> None:
    empty = dataclasses.replace(split, retain=np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="D_r: indices must be a non-empty"):
        make_method("ft").unlearn(original.model, digits, empty, seed=2)
