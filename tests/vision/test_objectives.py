"""Objectives: values against direct torch computations, random labels, KL, batches, BatchNorm mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ofmu_theory.modules import ModuleParams
from vision.data import VisionDataset
from vision.models import build_model
from vision.objectives import (
    Rows,
    cross_entropy,
    distillation,
    forget_objective,
    kl_to_teacher,
    logits_of,
    negative_cross_entropy,
    null_objective,
    random_label_cross_entropy,
    random_labels,
)


@pytest.fixture
def setup(tiny: VisionDataset) -> tuple[ModuleParams, Rows]:
    model = build_model("small_cnn", in_channels=1, num_classes=4, width=4, seed=0)
    return ModuleParams.of(model), Rows.of(tiny.train, np.arange(0, 40, 2), name="D_f")


def test_cross_entropy_matches_torch_and_batches_index_rows(setup: tuple[ModuleParams, Rows]) -> None:
    params, rows = setup
    obj = cross_entropy(params, rows)
    assert obj.n_rows == 20
    theta = params.vector()
    batch = np.array([3, 0, 7])
    expected = F.cross_entropy(params.module(rows.images[batch]), rows.labels[batch])
    torch.testing.assert_close(obj.value(theta, batch), expected)
    full = F.cross_entropy(params.module(rows.images), rows.labels)
    torch.testing.assert_close(obj.value(theta, None), full)
    torch.testing.assert_close(negative_cross_entropy(params, rows).value(theta, batch), -expected)
    torch.testing.assert_close(forget_objective(params, rows).value(theta, batch), expected)
    _, grad = obj.value_and_grad(theta, batch)
    _, neg_grad = negative_cross_entropy(params, rows).value_and_grad(theta, batch)
    for g, h in zip(grad, neg_grad, strict=True):
        torch.testing.assert_close(g, -h)


def test_random_labels_never_equal_the_true_label() -> None:
    y = np.repeat(np.arange(10), 500)
    fake = random_labels(y, num_classes=10, seed=3)
    assert (fake != y).all() and fake.min() >= 0 and fake.max() <= 9
    # uniform over the 9 other classes: every (true, fake) pair with fake != true occurs
    pairs = {(int(a), int(b)) for a, b in zip(y, fake, strict=True)}
    assert len(pairs) == 90
    np.testing.assert_array_equal(fake, random_labels(y, num_classes=10, seed=3))
    assert not np.array_equal(fake, random_labels(y, num_classes=10, seed=4))
    with pytest.raises(ValueError, match="num_classes >= 2"):
        random_labels(np.zeros(3, dtype=np.int64), num_classes=1, seed=0)


def test_random_label_objective_uses_the_fixed_wrong_labels(setup: tuple[ModuleParams, Rows]) -> None:
    params, rows = setup
    fake = torch.from_numpy(random_labels(rows.labels.numpy(), num_classes=4, seed=5))
    assert (fake != rows.labels).all()
    obj = random_label_cross_entropy(params, rows, seed=5)
    batch = np.array([1, 2, 3])
    expected = F.cross_entropy(params.module(rows.images[batch]), fake[batch])
    torch.testing.assert_close(obj.value(params.vector(), batch), expected)


def test_kl_to_teacher_is_zero_at_the_teacher_and_positive_elsewhere(setup: tuple[ModuleParams, Rows]) -> None:
    params, rows = setup
    teacher = logits_of(params.module, rows)
    obj = kl_to_teacher(params, rows, teacher_logits=teacher)
    assert abs(float(obj.value(params.vector(), None))) < 1e-6
    moved = tuple(t + 0.1 * torch.randn_like(t, generator=torch.Generator().manual_seed(0)) for t in params.vector())
    assert float(obj.value(moved, None)) > 1e-4
    mixed = distillation(params, rows, teacher_logits=teacher, kl_weight=0.5, ce_weight=2.0)
    ce = cross_entropy(params, rows).value(moved, None)
    kl = obj.value(moved, None)
    torch.testing.assert_close(mixed.value(moved, None), 0.5 * kl + 2.0 * ce)
    with pytest.raises(ValueError, match="teacher_logits must have shape"):
        kl_to_teacher(params, rows, teacher_logits=teacher[:3])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        kl_to_teacher(params, rows, teacher_logits=teacher, temperature=0.0)


def test_null_objective_has_zero_value_and_gradient(setup: tuple[ModuleParams, Rows]) -> None:
    params, _ = setup
    value, grad = null_objective().value_and_grad(params.vector(), None)
    assert float(value) == 0.0 and all(float(g.abs().max()) == 0.0 for g in grad)
    assert null_objective().n_rows is None


def test_bn_mode_sets_the_module_mode_and_is_validated(tiny: VisionDataset) -> None:
    model = build_model("resnet18", in_channels=1, num_classes=4, width=4, seed=0)
    params, rows = ModuleParams.of(model), Rows.of(tiny.train, np.arange(8), name="D_r")
    before = model.bn1.running_mean.clone()
    cross_entropy(params, rows, bn_mode="eval").value(params.vector(), np.arange(4))
    assert not model.training and torch.equal(model.bn1.running_mean, before)  # eval: statistics frozen
    cross_entropy(params, rows, bn_mode="train").value(params.vector(), np.arange(4))
    assert model.training and not torch.equal(model.bn1.running_mean, before)  # train: SalUn's mode
    with pytest.raises(ValueError, match="bn_mode must be one of"):
        cross_entropy(params, rows, bn_mode="frozen")


def test_rows_reject_empty_or_out_of_range_indices(tiny: VisionDataset) -> None:
    with pytest.raises(ValueError, match="D_r: indices must be a non-empty"):
        Rows.of(tiny.train, np.array([], dtype=np.int64), name="D_r")
    with pytest.raises(ValueError, match="indices must be integers in"):
        Rows.of(tiny.train, np.array([0, 10_000]), name="D_f")
